//! Crash-safe WAV writer on a dedicated thread behind a bounded queue.

use super::sealed::{RecordingKey, SealedFile};
use super::{header, io_err, sha256_file, Chunk, RecordingError, FRAME_BYTES, PART_SUFFIX};
use cap_std::fs::{Dir, File, OpenOptions, OpenOptionsExt};
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// Tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingConfig {
    /// Chunks the queue holds before media starts dropping (the media side never waits).
    pub queue_chunks: usize,
    /// Rewrite the header sizes after this many audio bytes (32,000 = 1 s).
    pub header_interval_bytes: u64,
    /// Seal recordings with this key (see [`super::sealed`]); `None` writes plain WAV.
    pub seal: Option<RecordingKey>,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            queue_chunks: 256,
            header_interval_bytes: 32_000,
            seal: None,
        }
    }
}

/// Result of a finished recording, for the call record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordingSummary {
    /// Final file name inside the recordings directory.
    pub file_name: String,
    /// Size in bytes of the WAV, header included (of the audio a reader gets: for a sealed
    /// recording, not the size of its container on disk).
    pub bytes: u64,
    /// Audio duration.
    pub duration_ms: u64,
    /// SHA-256 (hex) of the finished WAV, for tamper evidence (for a sealed recording, of
    /// the WAV it decrypts to).
    pub sha256: String,
    /// False if any audio was lost (queue full, disk error).
    pub complete: bool,
    /// Human-readable descriptions of what went wrong.
    pub problems: Vec<String>,
}

enum Msg {
    Chunk(Chunk),
    Finish,
}

/// Where the bytes go: the real file, or an in-memory fake in tests.
pub(crate) trait Sink: Send {
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    fn write_header(&mut self, header: &[u8; 44]) -> io::Result<()>;
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// fsync, rename to the final name, hash. Returns (final name, size, sha256).
    fn complete(self: Box<Self>) -> io::Result<(String, u64, String)>;
}

struct FileSink {
    dir: Dir,
    file: File,
    part: String,
    final_name: String,
}

impl Sink for FileSink {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }
    fn write_header(&mut self, h: &[u8; 44]) -> io::Result<()> {
        let end = self.file.stream_position()?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(h)?;
        self.file.seek(SeekFrom::Start(end))?;
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.seek(SeekFrom::Start(len))?;
        Ok(())
    }
    fn complete(self: Box<Self>) -> io::Result<(String, u64, String)> {
        self.file.sync_all()?;
        let size = self.file.metadata()?.len();
        drop(self.file);
        self.dir.rename(&self.part, &self.dir, &self.final_name)?;
        // Make the rename durable too.
        if let Ok(d) = self.dir.open(".") {
            let _ = d.sync_all();
        }
        let sha = sha256_file(&self.dir, &self.final_name)?;
        Ok((self.final_name, size, sha))
    }
}

/// A sealed recording: audio goes out in sealed segments, the WAV header is implied.
struct SealedSink {
    dir: Dir,
    key: RecordingKey,
    sealed: SealedFile,
    part: String,
    final_name: String,
}

impl Sink for SealedSink {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.sealed.append(data)
    }
    fn write_header(&mut self, _: &[u8; 44]) -> io::Result<()> {
        // Sizes follow from the segments; nothing to rewrite.
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.sealed.truncate(len.saturating_sub(44))
    }
    fn complete(self: Box<Self>) -> io::Result<(String, u64, String)> {
        let SealedSink {
            dir,
            key,
            sealed,
            part,
            final_name,
        } = *self;
        let (file, _) = sealed.finish()?;
        drop(file);
        dir.rename(&part, &dir, &final_name)?;
        if let Ok(d) = dir.open(".") {
            let _ = d.sync_all();
        }
        // Size and hash of the WAV it holds (what export and playback give).
        let (size, sha) = super::sealed::wav_digest(&dir, &final_name, &key)?;
        Ok((final_name, size, sha))
    }
}

/// Creates a new file readable and writable by the owner only (0600), whatever the umask.
pub(crate) fn create_private(dir: &Dir, name: &str) -> io::Result<File> {
    let f = dir.open_with(
        name,
        OpenOptions::new().write(true).create_new(true).mode(0o600),
    )?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(cap_std::fs::Permissions::from_std(
        std::fs::Permissions::from_mode(0o600),
    ))?;
    Ok(f)
}

fn validate_name(name: &str) -> Result<(), RecordingError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RecordingError::BadName(name.chars().take(64).collect()))
    }
}

/// Writes one call's recording. Create it, feed [`Chunk`]s from the
/// [`super::StereoMixer`] with [`RecordingWriter::write`] (never blocks),
/// then [`RecordingWriter::finish`] (blocks until the file is durable: call
/// it from a blocking-capable context such as `spawn_blocking`).
/// Dropping the writer without finishing still finalises the file in the
/// background (the summary is then only logged).
#[derive(Debug)]
pub struct RecordingWriter {
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<RecordingSummary>>,
    dropped_chunks: u64,
    dropped_frames: u64,
}

impl RecordingWriter {
    /// Create `NAME.wav.part` in `dir` (the recordings directory; nothing
    /// outside it can be reached) and start the writer thread. `name` is
    /// the bare name without extension: ASCII letters, digits, `-_.`.
    pub fn create(dir: &Dir, name: &str, cfg: RecordingConfig) -> Result<Self, RecordingError> {
        validate_name(name)?;
        let part = format!("{name}{PART_SUFFIX}");
        let final_name = format!("{name}.wav");
        // The final rename would replace a finished file of the same name: refuse instead.
        if dir.exists(&final_name) {
            return Err(RecordingError::Exists(final_name));
        }
        let file = create_private(dir, &part).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => RecordingError::Exists(final_name.clone()),
            _ => io_err("create recording file")(e),
        })?;
        let dir = dir.try_clone().map_err(io_err("clone recordings dir"))?;
        let sink: Box<dyn Sink> = match &cfg.seal {
            Some(key) => {
                let sealed = match SealedFile::create(file, key) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = dir.remove_file(&part);
                        return Err(io_err("write sealed recording header")(e));
                    }
                };
                Box::new(SealedSink {
                    dir,
                    key: key.clone(),
                    sealed,
                    part,
                    final_name: final_name.clone(),
                })
            }
            None => Box::new(FileSink {
                dir,
                file,
                part,
                final_name: final_name.clone(),
            }),
        };
        Self::with_sink(sink, final_name, cfg)
    }

    pub(crate) fn with_sink(
        sink: Box<dyn Sink>,
        name: String,
        cfg: RecordingConfig,
    ) -> Result<Self, RecordingError> {
        let (tx, rx) = mpsc::sync_channel(cfg.queue_chunks.max(1));
        let thread = std::thread::Builder::new()
            .name(format!("rec-{}", name.chars().take(10).collect::<String>()))
            // One thread per active recording: keep its reserved stack small.
            .stack_size(256 * 1024)
            .spawn(move || run(sink, name, rx, cfg))
            .map_err(io_err("spawn recording thread"))?;
        Ok(RecordingWriter {
            tx: Some(tx),
            thread: Some(thread),
            dropped_chunks: 0,
            dropped_frames: 0,
        })
    }

    /// Queue a chunk. If the disk thread is behind and the queue is full,
    /// the chunk is dropped and counted (its time becomes silence in the
    /// file, later audio stays in place); the recording is then incomplete.
    pub fn write(&mut self, chunk: Chunk) {
        let Some(tx) = &self.tx else { return };
        let frames = chunk.frames();
        match tx.try_send(Msg::Chunk(chunk)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped_chunks += 1;
                self.dropped_frames += frames;
            }
        }
    }

    /// Chunks dropped so far because the queue was full.
    pub fn dropped_chunks(&self) -> u64 {
        self.dropped_chunks
    }

    /// Flush, fix the header, fsync, rename to `NAME.wav`, hash.
    pub fn finish(mut self) -> RecordingSummary {
        if let Some(tx) = self.tx.take() {
            // A blocking send: the queue may be full, and finish is allowed to wait.
            let _ = tx.send(Msg::Finish);
        }
        let mut summary = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(s)) => s,
            _ => RecordingSummary {
                file_name: String::new(),
                bytes: 0,
                duration_ms: 0,
                sha256: String::new(),
                complete: false,
                problems: vec!["recording thread panicked".into()],
            },
        };
        if self.dropped_chunks > 0 {
            summary.complete = false;
            summary.problems.push(format!(
                "{} chunks ({} ms) dropped because the disk was too slow",
                self.dropped_chunks,
                self.dropped_frames / 8
            ));
        }
        summary
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        // Closing the channel makes the thread finalise; do not join (may block).
        self.tx.take();
        if let Some(t) = self.thread.take() {
            std::thread::spawn(move || {
                if let Ok(s) = t.join() {
                    tracing::warn!(file = %s.file_name, complete = s.complete, "recording writer dropped without finish");
                }
            });
        }
    }
}

struct State {
    sink: Box<dyn Sink>,
    written: u64,
    since_header: u64,
    failed: bool,
    problems: Vec<String>,
}

impl State {
    fn fail(&mut self, what: &str, e: &io::Error) {
        tracing::error!(error = %e, "recording {what} failed; the call continues, recording marked incomplete");
        self.problems.push(format!("{what} failed: {e}"));
        self.failed = true;
    }

    fn append(&mut self, data: &[u8]) {
        if let Err(e) = self.sink.append(data) {
            self.fail("write", &e);
            // Drop whatever part of this write landed, keep the good prefix.
            let _ = self.sink.truncate(44 + self.written);
            return;
        }
        self.written += data.len() as u64;
        self.since_header += data.len() as u64;
    }
}

fn run(
    sink: Box<dyn Sink>,
    name: String,
    rx: Receiver<Msg>,
    cfg: RecordingConfig,
) -> RecordingSummary {
    let mut st = State {
        sink,
        written: 0,
        since_header: 0,
        failed: false,
        problems: Vec::new(),
    };
    if let Err(e) = st
        .sink
        .write_header(&header(0))
        .and_then(|_| st.sink.truncate(44))
    {
        st.fail("header write", &e);
    }
    let silence = vec![0u8; 32_000];
    let mut gap_frames = 0u64;
    // Ends on Finish or when the writer is dropped (channel closed).
    while let Ok(Msg::Chunk(chunk)) = rx.recv() {
        if st.failed {
            continue;
        }
        let pos = st.written / FRAME_BYTES;
        let mut data: &[u8] = &chunk.data;
        if chunk.start_frame > pos {
            // Chunks were dropped before this one: keep time aligned with silence.
            let mut gap = (chunk.start_frame - pos) * FRAME_BYTES;
            gap_frames += chunk.start_frame - pos;
            while gap > 0 && !st.failed {
                let n = gap.min(silence.len() as u64) as usize;
                st.append(&silence[..n]);
                gap -= n as u64;
            }
        } else if chunk.start_frame < pos {
            let skip = ((pos - chunk.start_frame) * FRAME_BYTES).min(data.len() as u64) as usize;
            data = &data[skip..];
        }
        if !st.failed {
            st.append(data);
        }
        if !st.failed && st.since_header >= cfg.header_interval_bytes {
            st.since_header = 0;
            if let Err(e) = st.sink.write_header(&header(st.written)) {
                st.fail("header update", &e);
            }
        }
    }
    if gap_frames > 0 {
        st.problems.push(format!(
            "{} ms of audio missing (filled with silence)",
            gap_frames / 8
        ));
    }
    // Final header, even after a failure: the audio written so far stays playable.
    if let Err(e) = st.sink.write_header(&header(st.written)) {
        st.fail("final header", &e);
    }
    let written = st.written;
    let duration_ms = written / FRAME_BYTES / 8;
    let complete = !st.failed && gap_frames == 0;
    let State {
        sink, mut problems, ..
    } = st;
    match sink.complete() {
        Ok((file_name, bytes, sha256)) => RecordingSummary {
            file_name,
            bytes,
            duration_ms,
            sha256,
            complete,
            problems,
        },
        Err(e) => {
            tracing::error!(error = %e, file = %name, "recording could not be finalised; left as .part for repair");
            problems.push(format!("finalise failed: {e}"));
            RecordingSummary {
                file_name: name,
                bytes: 44 + written,
                duration_ms,
                sha256: String::new(),
                complete: false,
                problems,
            }
        }
    }
}
