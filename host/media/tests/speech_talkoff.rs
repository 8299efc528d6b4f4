//! Talk-off: synthesized speech (Japanese and English, several voices and
//! pitches, generated at test time by `espeak-ng` if installed) converted to
//! 8 kHz by our prompt loader and sent through G.711 must produce NO in-band
//! digits. Skipped with a message when espeak-ng is missing.

use madoguchi_media::dtmf::InbandDetector;
use madoguchi_media::g711::Law;
use madoguchi_media::prompt::Prompt;
use std::process::Command;

const PHRASES: &[(&str, &str)] = &[
    ("ja", "マイナンバーカードのお問い合わせは一番を、暗証番号の再設定は二番を押してください。"),
    ("ja+f2", "ただいま電話が大変混み合っております。しばらくお待ちください。座間市役所です。"),
    ("en", "Thank you for calling Zama City. This call may be recorded for quality purposes."),
    ("en+f3", "Please enter your four digit code followed by the pound sign. One, two, three, four, five, six, seven, eight, nine, zero."),
    ("en+m3", "Hello? Hello? Yes, I would like to ask about my card, it expired last week, can you hear me?"),
];

#[test]
fn synthesized_speech_yields_no_digits() {
    let mut total_ms = 0;
    for (voice, text) in PHRASES {
        for pitch in ["10", "50", "99"] {
            let out = match Command::new("espeak-ng")
                .args(["-v", voice, "-p", pitch, "-s", "160", "--stdout", text])
                .output()
            {
                Ok(o) if o.status.success() => o.stdout,
                _ => {
                    eprintln!("SKIPPED: espeak-ng not available");
                    return;
                }
            };
            let prompt = Prompt::from_wav_bytes(&out).expect("espeak WAV");
            assert!(prompt.was_converted(), "espeak writes 22.05 kHz");
            total_ms += prompt.duration_ms();
            for law in [Law::Ulaw, Law::Alaw] {
                // Loud (peaks near full scale) and as spoken.
                for gain in [1.0f64, 3.0] {
                    let codes: Vec<u8> = prompt
                        .samples()
                        .iter()
                        .map(|&s| law.encode((s as f64 * gain).clamp(-32768.0, 32767.0) as i16))
                        .collect();
                    let mut d = InbandDetector::new();
                    let mut ev = Vec::new();
                    d.process_g711(law, &codes, &mut ev);
                    assert!(
                        ev.is_empty(),
                        "{voice} pitch {pitch} gain {gain} {law:?}: {ev:?}"
                    );
                }
            }
        }
    }
    eprintln!(
        "talk-off: {:.1} s of speech x 4 variants, no digits",
        total_ms as f64 / 1000.0
    );
}
