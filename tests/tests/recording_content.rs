//! A bridged call's recording holds what each side sent (R-REC-1): the caller and the staff
//! device each send their own pseudo-random noise (as RTP from pcaps, played by sipp). In the
//! stereo WAV, the left channel (caller) must cross-correlate with the caller's signal and
//! the right channel (what the caller heard: the device) with the device's, each close to 1,
//! and neither with the other's.

use madoguchi_tests::audio::{channels, finished_recordings};
use madoguchi_tests::signal::{best_correlation, noise, write_pcap};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{Server, ServerOptions};

#[test]
fn each_channel_of_the_recording_holds_what_that_side_sent() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let caller_sent = noise(0x1111, 2);
    let device_sent = noise(0x2222, 2);
    write_pcap(
        &work.path().join("caller-tone.pcap"),
        &caller_sent,
        0x1111_1111,
    );
    write_pcap(
        &work.path().join("device-tone.pcap"),
        &device_sent,
        0x2222_2222,
    );
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    })
    .unwrap();
    let desk = Device::start(
        server.sip,
        "1001",
        "zama1001",
        Sipp::new("device_tone.xml", server.sip)
            .set("answer_ms", "0")
            .cwd(work.path()),
    )
    .unwrap();
    Sipp::new("caller_tone.xml", server.sip)
        .service("1001")
        .set("hold_ms", "3000")
        .cwd(work.path())
        .run()
        .unwrap();
    desk.finish().unwrap();
    let file = finished_recordings(&data.path().join("recordings"), 1).remove(0);
    let (left, right) = channels(&file);
    // Half a second from the middle of what each side sent, searched for in each channel.
    let part = |x: &[i16]| -> Vec<f64> { x[4000..8000].iter().map(|&v| v as f64).collect() };
    let (caller_ref, device_ref) = (part(&caller_sent), part(&device_sent));
    let (left_caller, lag_l) = best_correlation(&left, &caller_ref);
    let (right_device, lag_r) = best_correlation(&right, &device_ref);
    let (left_device, _) = best_correlation(&left, &device_ref);
    let (right_caller, _) = best_correlation(&right, &caller_ref);
    println!(
        "left~caller {left_caller:.3} at {} ms, right~device {right_device:.3} at {} ms; \
         left~device {left_device:.3}, right~caller {right_caller:.3}",
        lag_l / 8,
        lag_r / 8
    );
    assert!(
        left_caller > 0.95,
        "left channel (caller): {left_caller:.3}"
    );
    assert!(
        right_device > 0.95,
        "right channel (staff side): {right_device:.3}"
    );
    assert!(
        left_device < 0.2,
        "the staff side leaked into the left channel"
    );
    assert!(
        right_caller < 0.2,
        "the caller leaked into the right channel"
    );
    // Both sides started sending at the answer: their audio sits at the same place in the
    // file (a timeline, not two streams appended), within 100 ms.
    assert!(
        lag_l.abs_diff(lag_r) < 800,
        "channels out of step: {} ms apart",
        lag_l.abs_diff(lag_r) / 8
    );
}
