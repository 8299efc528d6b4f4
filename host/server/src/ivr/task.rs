//! The IO side of one IVR call: runs the [`IvrMachine`] against the caller's media leg, the
//! node plugins and the SIP core, then writes the call record.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use madoguchi_media::prompt::Prompt as Audio;
use madoguchi_plugin_host::bindings::types::{
    CallFacts as PluginFacts, Event, NodeInput, RecordFrom, Step, TransferTarget,
};
use madoguchi_plugin_host::CallContext;
use madoguchi_rtp::{Leg, LegEvent, MediaRuntime, PlayId, Recording};
use madoguchi_store::Store;
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{info, warn, Instrument};

use super::loaded::LoadedScenario;
use super::log::{CallRecord, EventLog, CALLS_BY_ID_TABLE, CALLS_TABLE};
use super::machine::{prompt_name, target_name, Command, IvrMachine, NodeRunner, Outcome};
use super::queue_audio;
use crate::core::host_call::{failure_of, AdoptedMedia, HostMsg, HostReq, QUEUE_PRIORITY};
use crate::core::line_test::tone;
use crate::core::media::{begin_recording, finish_recording, leg_stats, CallFacts};
use crate::core::unix_now_ms;

/// The longest a caller may stay in the IVR (menus, waiting for a transfer).
const MAX_IVR_TIME: Duration = Duration::from_secs(30 * 60);
/// How long staff devices or the call center may ring.
const RING_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything one IVR call needs.
pub struct IvrCall {
    pub facts: CallFacts,
    pub leg: Leg,
    pub scenario: Arc<LoadedScenario>,
    pub runtime: MediaRuntime,
    pub store: Store,
    pub control: mpsc::Receiver<HostMsg>,
    pub requests: mpsc::Sender<HostReq>,
    /// Played when the scenario cannot go on.
    pub apology: Audio,
}

/// Runs the node plugins of a scenario for one call.
struct Runner<'a> {
    scenario: &'a LoadedScenario,
    ctx: CallContext,
}

impl NodeRunner for Runner<'_> {
    fn step(&mut self, node: &str, input: &NodeInput, event: &Event) -> Result<Step, String> {
        let n = self
            .scenario
            .node(node)
            .ok_or_else(|| format!("no node {node:?}"))?;
        off_executor(|| n.plugin.node_step(&self.ctx, input, event)).map_err(|e| e.to_string())
    }
}

/// Runs a plugin call (up to its deadline, 10 ms by default) without holding an executor
/// worker: on tokio's multi-threaded runtime the worker's other tasks move to another thread
/// meanwhile, so the media and SIP tasks sharing it go on. The IVR machine calls its nodes
/// synchronously, which keeps it sans-IO; this is where that meets the executor.
pub(crate) fn off_executor<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        // A current-thread runtime (some tests) cannot hand its tasks over; nor is there
        // anything to hand over outside a runtime.
        _ => f(),
    }
}

/// What the task is waiting on besides the machine.
struct Io {
    plays: HashMap<PlayId, u64>,
    /// Playing the notice before the IVR starts / the apology before hanging up.
    notice: Option<PlayId>,
    apology: Option<PlayId>,
    /// A queue's waiting announcement (hold music resumes after it).
    announcement: Option<PlayId>,
    device: Option<Leg>,
    transfer_target: Option<String>,
    /// The transfer was answered: B2BUA call id and the device-side leg to hand over.
    adopt: Option<(u64, Leg)>,
    recording: Option<(Recording, u64)>,
    record_from_transfer: bool,
    done: bool,
}

pub async fn run(call: IvrCall) {
    let span = tracing::info_span!("ivr", call_id = %call.facts.call_id);
    run_inner(call).instrument(span).await
}

async fn run_inner(mut call: IvrCall) {
    let started = Instant::now();
    let started_ms = unix_now_ms();
    let scenario = call.scenario.clone();
    let mut log = EventLog::new(started);
    log.push(
        started,
        "version",
        None,
        json!({ "scenario": scenario.name, "version": scenario.version }),
    );
    info!(scenario = %scenario.name, version = scenario.version, "IVR call");
    let ctx =
        CallContext::new(call.facts.call_id.clone()).with_schedules(scenario.schedules.clone());
    let plugin_facts = PluginFacts {
        call_id: call.facts.call_id.clone(),
        caller: call.facts.caller.clone(),
        did: call.facts.did.clone(),
        variables: Vec::new(),
    };
    let mut runner = Runner {
        scenario: &scenario,
        ctx: ctx.clone(),
    };
    let mut io = Io {
        plays: HashMap::new(),
        notice: None,
        apology: None,
        announcement: None,
        device: None,
        transfer_target: None,
        adopt: None,
        recording: None,
        record_from_transfer: false,
        done: false,
    };

    // Recording policy first: the notice is played before anything is recorded (R-REC-2).
    let decision = match &scenario.recording_policy {
        Some((plugin, config)) => {
            off_executor(|| {
                madoguchi_plugin_host::recording::decide_or_fallback(
                    plugin,
                    &ctx,
                    config,
                    &plugin_facts,
                )
            })
            .0
        }
        None => madoguchi_plugin_host::recording::fallback_decision(),
    };
    let mut machine = IvrMachine::new(plugin_facts, log);
    let record_now = decision.record && decision.from == RecordFrom::Answer;
    io.record_from_transfer = decision.record && decision.from == RecordFrom::Transfer;
    if decision.record && !decision.notice.is_empty() {
        let (audio, missing) = scenario.audio(&decision.notice);
        machine.log_mut().push(
            Instant::now(),
            "notice",
            None,
            json!({ "prompts": decision.notice.iter().map(prompt_name).collect::<Vec<_>>(), "missing": missing }),
        );
        io.notice = Some(call.leg.play(audio, false));
    } else {
        start_ivr(
            &mut machine,
            &scenario,
            &mut runner,
            &mut io,
            &mut call,
            record_now,
        )
        .await;
    }

    let deadline = tokio::time::sleep(MAX_IVR_TIME);
    tokio::pin!(deadline);
    while !io.done {
        let timer = machine.poll_timeout();
        let sleep = async {
            match timer {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = call.leg.events().recv() => match ev {
                Some(LegEvent::Digit(d)) => machine.on_digit(&*scenario, &mut runner, d.digit, Instant::now()),
                Some(LegEvent::PlayFinished(id) | LegEvent::PlayInterrupted(id) | LegEvent::PlayStopped(id)) => {
                    if io.notice == Some(id) {
                        io.notice = None;
                        start_ivr(&mut machine, &scenario, &mut runner, &mut io, &mut call, record_now).await;
                    } else if io.apology == Some(id) {
                        hang_up(&call, &mut io).await;
                    } else if io.announcement == Some(id) {
                        io.announcement = None;
                        if io.device.is_some() {
                            call.leg.music_on_hold(queue_audio::hold_music());
                        }
                    } else if let Some(token) = io.plays.remove(&id) {
                        machine.on_play_done(&*scenario, &mut runner, token, Instant::now());
                    }
                }
                Some(LegEvent::RtpTimeout) => {
                    warn!("no audio from the caller; hanging up");
                    machine.log_mut().push(Instant::now(), "rtp-timeout", None, json!({}));
                    hang_up(&call, &mut io).await;
                }
                Some(_) => {}
                None => io.done = true,
            },
            msg = call.control.recv() => match msg {
                Some(HostMsg::Info { body, content_type }) => {
                    if let Err(e) = call.leg.dtmf_from_info(&body, &content_type) {
                        warn!(error = %e, "unusable INFO");
                    }
                }
                Some(HostMsg::Stop) | None => {
                    machine.on_caller_hangup(Instant::now());
                    io.done = true;
                }
                Some(HostMsg::TransferAnswered { call: id }) => {
                    let target = io.transfer_target.take().unwrap_or_default();
                    machine.on_transfer_connected(&target, Instant::now());
                    if let Some(device) = io.device.take() {
                        call.leg.stop_playback();
                        io.adopt = Some((id, device));
                        io.done = true;
                    }
                }
                Some(HostMsg::Queued { position }) => {
                    info!(position, "waiting in the queue");
                    call.leg.music_on_hold(queue_audio::hold_music());
                }
                Some(HostMsg::QueueAnnounce { position, expected_wait_ms }) => {
                    let (audio, ids) = queue_audio::announcement(position, expected_wait_ms);
                    machine.log_mut().push(
                        Instant::now(),
                        "play",
                        None,
                        json!({ "prompts": ids, "queue": true }),
                    );
                    call.leg.stop_playback();
                    io.announcement = Some(call.leg.play(audio, false));
                }
                Some(HostMsg::QueueEvent { kind, detail }) => {
                    let node = machine.node().to_string();
                    machine.log_mut().push(Instant::now(), &kind, Some(&node), detail);
                }
                Some(HostMsg::TransferFailed { status }) => {
                    if let Some(device) = io.device.take() {
                        tokio::spawn(device.close());
                    }
                    io.transfer_target = None;
                    call.leg.stop_playback();
                    machine.on_transfer_failed(&*scenario, &mut runner, failure_of(status), Instant::now());
                }
            },
            _ = sleep => machine.handle_timeout(&*scenario, &mut runner, Instant::now()),
            _ = &mut deadline => {
                machine.log_mut().push(Instant::now(), "max-duration", None, json!({}));
                hang_up(&call, &mut io).await;
            }
        }
        drive(&mut machine, &scenario, &mut io, &mut call).await;
    }

    let outcome = match machine.outcome() {
        Some(Outcome::Transferred(t)) => format!("transferred:{t}"),
        Some(Outcome::HungUp) => "hangup".into(),
        Some(Outcome::Apologised) => "apology".into(),
        Some(Outcome::CallerHungUp) | None => "caller-hangup".into(),
    };
    info!(outcome, node = machine.node(), "IVR part of the call over");
    let mut recording = machine_recording(&machine);
    let caller_leg = leg_stats(&call.leg).await;
    // The recording is finished after the call record is stored: finishing waits for an
    // fsync, which a busy disk can hold for many seconds, and the record must not wait
    // for it (nor be lost to a crash meanwhile: the next start repairs the file).
    let mut to_finish = None;
    if io.adopt.is_none() {
        if let Some(device) = io.device.take() {
            tokio::spawn(device.close());
        }
        if let Some((rec, started_unix)) = io.recording.take() {
            recording = Some(rec.file_name().to_string());
            to_finish = Some((rec, started_unix, vec![caller_leg.clone()]));
        }
    }
    let record = CallRecord {
        call_id: call.facts.call_id.clone(),
        caller: call.facts.caller.clone(),
        did: call.facts.did.clone(),
        scenario: scenario.name.clone(),
        scenario_version: scenario.version,
        started_unix_ms: started_ms,
        ended_unix_ms: unix_now_ms(),
        outcome,
        recording,
        caller_leg,
        events: machine.log().entries().to_vec(),
    };
    let store = call.store.clone();
    let key = record.key();
    let stored = tokio::task::spawn_blocking(move || {
        let call_id = record.call_id.clone();
        store.put_json_indexed(CALLS_TABLE, &key, &record, CALLS_BY_ID_TABLE, &call_id)
    });
    match stored.await {
        Ok(Ok(())) => {}
        _ => warn!("call record not stored"),
    }
    if let Some((rec, started_unix, legs)) = to_finish {
        finish_recording(call.store.clone(), rec, started_unix, &call.facts, legs).await;
    }
    match io.adopt.take() {
        // The core bridges the legs and finishes the recording when the call ends.
        Some((id, device)) => {
            let req = HostReq::Adopt {
                call: id,
                media: Box::new(AdoptedMedia {
                    facts: call.facts,
                    caller: call.leg,
                    device,
                    recording: io.recording.take(),
                    record_now: io.record_from_transfer,
                }),
            };
            let _ = call.requests.send(req).await;
        }
        None => {
            call.leg.close().await;
        }
    }
}

/// The recording's file name, as the event log saw it start.
fn machine_recording(m: &IvrMachine) -> Option<String> {
    m.log()
        .entries()
        .iter()
        .rev()
        .find(|e| e.kind == "recording-start")
        .and_then(|e| e.detail.get("file"))
        .and_then(|f| f.as_str())
        .map(str::to_string)
}

/// After the notice: start recording (if the policy says from answer) and enter the start node.
async fn start_ivr(
    machine: &mut IvrMachine,
    scenario: &Arc<LoadedScenario>,
    runner: &mut Runner<'_>,
    io: &mut Io,
    call: &mut IvrCall,
    record_now: bool,
) {
    if record_now {
        start_recording(machine, io, call).await;
    }
    machine.start(&**scenario, runner, Instant::now());
}

async fn start_recording(machine: &mut IvrMachine, io: &mut Io, call: &mut IvrCall) {
    if io.recording.is_some() {
        return;
    }
    io.recording = begin_recording(&call.store, &call.leg, &call.facts).await;
    if let Some((rec, _)) = &io.recording {
        machine.log_mut().push(
            Instant::now(),
            "recording-start",
            None,
            json!({ "file": rec.file_name() }),
        );
    }
}

/// Carries out the machine's commands.
async fn drive(
    machine: &mut IvrMachine,
    scenario: &Arc<LoadedScenario>,
    io: &mut Io,
    call: &mut IvrCall,
) {
    while let Some(cmd) = machine.poll_command() {
        match cmd {
            Command::Play {
                token,
                prompts,
                barge_in,
            } => {
                let (audio, missing) = scenario.audio(&prompts);
                if !missing.is_empty() {
                    warn!(?missing, "prompts without audio skipped");
                    machine.log_mut().push(
                        Instant::now(),
                        "prompt-missing",
                        None,
                        json!({ "prompts": missing }),
                    );
                }
                let id = call.leg.play(audio, barge_in);
                io.plays.insert(id, token);
            }
            Command::StopPlayback => call.leg.stop_playback(),
            Command::StartRecording => start_recording(machine, io, call).await,
            Command::StopRecording => {
                if let Some((rec, started)) = io.recording.take() {
                    machine
                        .log_mut()
                        .push(Instant::now(), "recording-stop", None, json!({}));
                    let legs = vec![leg_stats(&call.leg).await];
                    // On its own task: the menu goes on while the file is made durable.
                    let (store, facts) = (call.store.clone(), call.facts.clone());
                    tokio::spawn(
                        async move { finish_recording(store, rec, started, &facts, legs).await }
                            .in_current_span(),
                    );
                }
            }
            Command::Transfer(target) => transfer(call, io, target, machine).await,
            Command::Apologise => {
                io.apology = Some(call.leg.play(vec![call.apology.clone()], false))
            }
            Command::Hangup => hang_up(call, io).await,
        }
    }
}

/// The header that tells a staff device the way the caller came through the IVR (the
/// softphone shows it: 「2 → 市役所」): percent-encoded UTF-8.
pub const PATH_HEADER: &str = "X-Madoguchi-Path";

/// The keys the caller chose in the menus (the `menu*` variables, in order), then where
/// the call goes: `"1 → 2 → queue:mynumber"`.
fn ivr_path(variables: &[(String, String)], target: &str) -> String {
    let mut parts: Vec<&str> = variables
        .iter()
        .filter(|(k, _)| k.starts_with("menu"))
        .map(|(_, v)| v.as_str())
        .collect();
    parts.push(target);
    let text = parts.join(" → ");
    let mut enc = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:@".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    enc
}

/// Opens the device-side leg and asks the core to ring the target.
async fn transfer(
    call: &mut IvrCall,
    io: &mut Io,
    target: TransferTarget,
    machine: &mut IvrMachine,
) {
    let device = match call
        .runtime
        .open_leg(
            &format!("{}-transfer", call.facts.call_id),
            call.leg.local_rtp().ip(),
        )
        .await
    {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "no media port for the transfer");
            let msg = format!("no media port for the transfer: {e}");
            machine
                .log_mut()
                .push(Instant::now(), "error", None, json!({ "message": msg }));
            io.apology = Some(call.leg.play(vec![call.apology.clone()], false));
            return;
        }
    };
    let offer = crate::core::b2bua::DeviceOffer::of(&device).with_header(
        PATH_HEADER,
        &ivr_path(machine.variables(), &target_name(&target)),
    );
    io.transfer_target = Some(target_name(&target));
    io.device = Some(device);
    // Japanese ringback while the destination rings: 400 Hz, 1 s on, 2 s off.
    let mut ring = tone(400.0, 1000).samples().to_vec();
    ring.extend(std::iter::repeat_n(0, 16000));
    call.leg.music_on_hold(Audio::from_pcm(ring));
    let priority = machine
        .variable(QUEUE_PRIORITY)
        .and_then(|v| v.trim().parse::<u8>().ok())
        .map_or(0, |p| p.min(9));
    let req = HostReq::Transfer {
        call_id: call.facts.call_id.clone(),
        target,
        offer,
        ring_timeout: RING_TIMEOUT,
        priority,
    };
    if call.requests.send(req).await.is_err() {
        io.done = true;
    }
}

async fn hang_up(call: &IvrCall, io: &mut Io) {
    io.done = true;
    let _ = call
        .requests
        .send(HostReq::Hangup {
            call_id: call.facts.call_id.clone(),
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::off_executor;
    use std::time::Duration;

    /// With one worker thread, a task spawned just before a plugin call can only run if the
    /// call hands the worker over; the call waits for that task (up to 10 s, as a failure bound).
    #[test]
    fn a_plugin_call_does_not_hold_the_executor() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let other_ran = rt.block_on(async {
            tokio::spawn(async {
                let (tx, rx) = std::sync::mpsc::channel();
                tokio::spawn(async move { tx.send(()).unwrap() });
                off_executor(|| rx.recv_timeout(Duration::from_secs(10)).is_ok())
            })
            .await
            .unwrap()
        });
        assert!(other_ran, "the task sharing the worker never ran");
    }
}
