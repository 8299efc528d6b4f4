//! [`MediaRuntime`]: port pool, recordings directory, leg factory.

use crate::config::{LegConfig, MediaConfig};
use crate::ports::{bind_pair, PortPool};
use crate::task::{LegTask, Spawn};
use crate::{Leg, MediaError};
use cap_std::fs::Dir;
use madoguchi_media::g711::Law;
use madoguchi_media::recording::{repair_unfinished, RecordingConfig, Repaired};
use madoguchi_media::sdp::MediaPrefs;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

static BRIDGE_IDS: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_bridge_id() -> u64 {
    BRIDGE_IDS.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug)]
pub(crate) struct Inner {
    pool: Arc<Mutex<PortPool>>,
    pub(crate) recordings: Arc<Dir>,
    pub(crate) recording_cfg: RecordingConfig,
    leg_cfg: Arc<LegConfig>,
    codecs: Vec<Law>,
    dtmf_pt: Option<u8>,
    sdp_address: Option<IpAddr>,
    event_queue: usize,
    bridge_queue: usize,
    repaired: Vec<Repaired>,
    ids: AtomicU64,
}

impl Inner {
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// The media runtime of one server: cheap to clone (an `Arc` inside).
/// Legs are tokio tasks, so [`MediaRuntime::open_leg`] must run inside a tokio runtime.
#[derive(Debug, Clone)]
pub struct MediaRuntime {
    inner: Arc<Inner>,
}

impl MediaRuntime {
    /// Check the port range and repair recordings a crash left unfinished
    /// (`*.wav.part`; see [`MediaRuntime::repaired`] to mark their call records).
    pub fn new(cfg: MediaConfig) -> Result<Self, MediaError> {
        let pool = PortPool::new(cfg.rtp_ports.clone())?;
        let repaired = repair_unfinished(&cfg.recordings, cfg.recording.seal.as_ref())?;
        for r in &repaired {
            tracing::warn!(file = %r.file_name, from = %r.from, problems = ?r.problems, "repaired unfinished recording");
        }
        Ok(MediaRuntime {
            inner: Arc::new(Inner {
                pool: Arc::new(Mutex::new(pool)),
                recordings: Arc::new(cfg.recordings),
                recording_cfg: cfg.recording,
                leg_cfg: Arc::new(LegConfig {
                    rtp_timeout: cfg.rtp_timeout,
                    idle_fill: cfg.idle_fill,
                    jitter: cfg.jitter,
                    recording_latency: cfg.recording_latency,
                    rtcp_interval: cfg.rtcp_interval,
                    source_filter: cfg.source_filter,
                }),
                codecs: cfg.codecs,
                dtmf_pt: cfg.dtmf_pt,
                sdp_address: cfg.sdp_address,
                event_queue: cfg.event_queue.max(1),
                bridge_queue: cfg.bridge_queue.max(1),
                repaired,
                ids: AtomicU64::new(1),
            }),
        })
    }

    /// Recordings repaired at start-up.
    pub fn repaired(&self) -> &[Repaired] {
        &self.inner.repaired
    }

    /// Port pairs in the range (the maximum number of concurrent legs).
    pub fn capacity(&self) -> usize {
        self.inner.pool.lock().map_or(0, |p| p.total())
    }

    /// Open a leg: bind an RTP/RTCP pair on `local_ip` from the range and
    /// start its task. Nothing is sent until [`Leg::answer`] or
    /// [`Leg::accept_answer`]. `PortsExhausted` when the range is used up.
    pub async fn open_leg(&self, call_id: &str, local_ip: IpAddr) -> Result<Leg, MediaError> {
        let inner = &self.inner;
        let sdp_ip = inner.sdp_address.unwrap_or(local_ip);
        if sdp_ip.is_unspecified() {
            return Err(MediaError::NoSdpAddress(local_ip));
        }
        let pair = bind_pair(&inner.pool, local_ip)?;
        let local_rtp = pair.rtp.local_addr().map_err(MediaError::Bind)?;
        let rtp_tx = pair.rtp.try_clone().map_err(MediaError::Bind)?;
        let rtcp_tx = pair.rtcp.try_clone().map_err(MediaError::Bind)?;
        let rtp = tokio::net::UdpSocket::from_std(pair.rtp).map_err(MediaError::Bind)?;
        let rtcp = tokio::net::UdpSocket::from_std(pair.rtcp).map_err(MediaError::Bind)?;
        let call_id: Arc<str> = Arc::from(call_id);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (fwd_tx, fwd_rx) = mpsc::channel(inner.bridge_queue);
        let (ev_tx, ev_rx) = mpsc::channel(inner.event_queue);
        let task = LegTask::new(Spawn {
            call_id: call_id.clone(),
            cfg: inner.leg_cfg.clone(),
            rtp,
            rtcp,
            rtp_tx,
            rtcp_tx,
            lease: pair.lease,
            cmds: cmd_rx,
            fwd: fwd_rx,
            events: ev_tx,
        });
        let handle = tokio::spawn(task.run());
        let prefs = MediaPrefs {
            codecs: inner.codecs.clone(),
            dtmf_pt: inner.dtmf_pt,
            ..MediaPrefs::default()
        };
        Ok(Leg::new(
            call_id,
            SocketAddr::new(local_ip, local_rtp.port()),
            sdp_ip,
            cmd_tx,
            fwd_tx,
            ev_rx,
            prefs,
            self.inner.clone(),
            handle,
        ))
    }
}
