//! Reading a finished recording as WAV, sealed or not: the one way recordings are read
//! (playback, export, the API's audio route), so decryption and tamper checks cannot be
//! skipped by accident.

use std::io::{self, Read, Seek, SeekFrom};

use cap_std::fs::{Dir, File};

use super::sealed::{is_sealed, RecordingKey, SealedError, SealedReader};

/// A recording's WAV bytes: a plain WAV file as it is, or a sealed one decrypted on the fly
/// (each 250 ms segment authenticated before it is returned).
#[derive(Debug)]
pub enum RecordingAudio {
    Plain { file: File, len: u64 },
    Sealed(Box<SealedReader>),
}

/// Opens `name` in the recordings directory. A sealed file needs `key`; a tampered one is
/// refused here when its header, key slot or last segment does not authenticate, and by
/// `read` (`InvalidData`, "tampered") at the first segment that does not.
pub fn open_recording(
    dir: &Dir,
    name: &str,
    key: Option<&RecordingKey>,
) -> Result<RecordingAudio, SealedError> {
    let mut file = dir.open(name)?;
    let mut magic = Vec::with_capacity(8);
    (&mut file).take(8).read_to_end(&mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    if is_sealed(&magic) {
        return Ok(RecordingAudio::Sealed(Box::new(SealedReader::open(
            file, key,
        )?)));
    }
    if magic.len() < 4 || &magic[..4] != b"RIFF" {
        return Err(SealedError::Tampered(
            "neither a WAV file nor a sealed recording".into(),
        ));
    }
    let len = file.metadata()?.len();
    Ok(RecordingAudio::Plain { file, len })
}

impl RecordingAudio {
    /// Length of the WAV in bytes.
    pub fn len(&self) -> u64 {
        match self {
            RecordingAudio::Plain { len, .. } => *len,
            RecordingAudio::Sealed(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_sealed(&self) -> bool {
        matches!(self, RecordingAudio::Sealed(_))
    }

    /// The whole WAV, every segment checked (for export and small files).
    pub fn read_all(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len() as usize);
        self.read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Read for RecordingAudio {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            RecordingAudio::Plain { file, .. } => file.read(buf),
            RecordingAudio::Sealed(r) => r.read(buf),
        }
    }
}

impl Seek for RecordingAudio {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            RecordingAudio::Plain { file, .. } => file.seek(pos),
            RecordingAudio::Sealed(r) => r.seek(pos),
        }
    }
}
