//! Call recording: a pure stereo framer ([`StereoMixer`]), a crash-safe WAV
//! writer on its own thread ([`RecordingWriter`]) and crash recovery
//! ([`repair_unfinished`]).
//!
//! File life cycle: `NAME.wav.part` is created with a placeholder header,
//! its sizes are rewritten every second of audio, and at the end it is
//! fsynced and renamed to `NAME.wav`. Anything still called `*.wav.part`
//! after a restart is unfinished; `repair_unfinished` fixes and renames it.

mod mixer;
mod read;
mod repair;
pub mod sealed;
mod writer;

pub use mixer::{Channel, Chunk, MixerStats, StereoMixer};
pub use read::{open_recording, RecordingAudio};
pub use repair::{repair_unfinished, Repaired};
pub use sealed::{RecordingKey, SealedError, SealedReader};
pub use writer::{RecordingConfig, RecordingSummary, RecordingWriter};

/// Recordings are 8 kHz, 16-bit, stereo.
pub const SAMPLE_RATE: u32 = 8000;
/// Bytes per sample frame (2 channels x 16 bit).
pub const FRAME_BYTES: u64 = 4;
/// Suffix of files being written.
pub const PART_SUFFIX: &str = ".wav.part";

/// Errors that prevent a recording from starting or a repair from running.
/// (Errors DURING a recording never stop the call; they end up in
/// [`RecordingSummary::problems`].)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// The name is empty, has a path separator, starts with '.', or is too long.
    #[error("invalid recording name {0:?}")]
    BadName(String),
    /// A recording of this name exists, finished or in progress: never overwritten.
    #[error("a recording named {0:?} already exists")]
    Exists(String),
    /// A sealed recording could not be opened (no key, another key, tampered).
    #[error(transparent)]
    Sealed(sealed::SealedError),
    /// A filesystem operation failed.
    #[error("{op} failed: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_err(op: &'static str) -> impl FnOnce(std::io::Error) -> RecordingError {
    move |source| RecordingError::Io { op, source }
}

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of a file in `dir`, streamed.
pub(crate) fn sha256_file(dir: &cap_std::fs::Dir, name: &str) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = dir.open(name)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Header for our recordings with `data_len` bytes of audio.
pub(crate) fn header(data_len: u64) -> [u8; 44] {
    crate::wav::pcm_header(
        2,
        SAMPLE_RATE,
        16,
        data_len.min(u32::MAX as u64 - 36) as u32,
    )
}

#[cfg(test)]
mod sealed_tests;
#[cfg(test)]
mod tests;
