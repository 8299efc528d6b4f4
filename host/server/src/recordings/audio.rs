//! The one place recording audio is read (R-REC-3).
//!
//! Everything that reads the bytes of a recording (the API's audio route, its mono mix,
//! tests, tools) goes through [`open_audio`]. Recordings sealed at rest (issue 14) are
//! opened (decrypted) here and nowhere else, through
//! [`madoguchi_media::recording::open_recording`]: callers only see `Read + Seek` over the
//! plain WAV. Each 250 ms segment is authenticated before any of its bytes are returned, so
//! a tampered file is refused when opened (header, key slot, last segment) or fails the
//! read that reaches the altered segment; altered audio is never served.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Why a recording's audio cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// Not a recording id (ids are file names without `.wav`: `[A-Za-z0-9._-]`).
    #[error("{0:?} is not a recording id")]
    BadId(String),
    /// No audio file for this id (never recorded, or deleted).
    #[error("no audio for recording {0}")]
    NotFound(String),
    /// The file is not the 16-bit stereo PCM WAV the recorder writes (for `mix=mono`).
    #[error("recording {0} is not a 16-bit stereo PCM WAV: {1}")]
    Format(String, &'static str),
    #[error("cannot read recording {0}: {1}")]
    Io(String, io::Error),
    /// The sealed file does not authenticate (altered or damaged), or another key sealed it.
    #[error("recording {0} refused: {1}")]
    Sealed(String, madoguchi_media::recording::SealedError),
}

/// Whether `id` can name a recording file (no path separators, no `..`, not hidden).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A recording's WAV bytes: `Read + Seek`, with its length.
#[derive(Debug)]
pub struct AudioFile {
    audio: madoguchi_media::recording::RecordingAudio,
}

impl AudioFile {
    /// Length in bytes of the WAV (header included).
    pub fn len(&self) -> u64 {
        self.audio.len()
    }
}

impl Read for AudioFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.audio.read(buf)
    }
}

impl Seek for AudioFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.audio.seek(pos)
    }
}

/// Opens recording `id` (its file `DIR/ID.wav`) for reading; a sealed one is decrypted with
/// `key` (the recordings key, `crate::protect::recording_key`).
pub fn open_audio(
    dir: &Path,
    id: &str,
    key: Option<&madoguchi_media::recording::RecordingKey>,
) -> Result<AudioFile, AudioError> {
    use madoguchi_media::recording::{open_recording, SealedError};
    if !valid_id(id) {
        return Err(AudioError::BadId(id.to_string()));
    }
    let cap = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .map_err(|e| AudioError::Io(id.to_string(), e))?;
    let name = format!("{id}.wav");
    match cap.metadata(&name) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(AudioError::NotFound(id.to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(AudioError::NotFound(id.to_string()))
        }
        Err(e) => return Err(AudioError::Io(id.to_string(), e)),
    }
    match open_recording(&cap, &name, key) {
        Ok(audio) => Ok(AudioFile { audio }),
        Err(SealedError::Io(e)) => Err(AudioError::Io(id.to_string(), e)),
        Err(e) => Err(AudioError::Sealed(id.to_string(), e)),
    }
}

/// Removes recording `id`'s audio file; `Ok(false)` if there was none.
pub fn remove_audio(dir: &Path, id: &str) -> Result<bool, AudioError> {
    if !valid_id(id) {
        return Err(AudioError::BadId(id.to_string()));
    }
    match std::fs::remove_file(dir.join(format!("{id}.wav"))) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(AudioError::Io(id.to_string(), e)),
    }
}

const HEADER: u64 = 44;

/// A 44-byte PCM WAV header for `data_len` bytes of 8 kHz 16-bit audio.
pub fn wav_header(channels: u16, data_len: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let rate = 8000u32;
    let block = channels * 2;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36u32.saturating_add(data_len)).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * u32::from(block)).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// The recording as one channel that mixes both sides (for listening): a mono WAV computed
/// on the fly from the stereo file, seekable like a file (HTTP ranges apply to it), without
/// holding the call in memory.
#[derive(Debug)]
pub struct MonoMix<R> {
    inner: R,
    frames: u64,
    header: [u8; 44],
    pos: u64,
}

impl<R: Read + Seek> MonoMix<R> {
    /// Checks the stereo header and wraps the file (`len`: its length in bytes).
    pub fn new(mut inner: R, len: u64, id: &str) -> Result<Self, AudioError> {
        let mut h = [0u8; 44];
        let io = |e| AudioError::Io(id.to_string(), e);
        inner.seek(SeekFrom::Start(0)).map_err(io)?;
        inner.read_exact(&mut h).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => AudioError::Format(id.to_string(), "too short"),
            _ => AudioError::Io(id.to_string(), e),
        })?;
        let bad = |why| Err(AudioError::Format(id.to_string(), why));
        if &h[0..4] != b"RIFF" || &h[8..12] != b"WAVE" || &h[36..40] != b"data" {
            return bad("not a plain RIFF/WAVE file");
        }
        if u16::from_le_bytes([h[20], h[21]]) != 1 || u16::from_le_bytes([h[34], h[35]]) != 16 {
            return bad("not 16-bit PCM");
        }
        if u16::from_le_bytes([h[22], h[23]]) != 2 {
            return bad("not stereo");
        }
        // The data length from the file size, not the header: a repaired or in-progress
        // file's header may lag behind.
        let frames = len.saturating_sub(HEADER) / 4;
        let data_len = u32::try_from(frames * 2).unwrap_or(u32::MAX - 64);
        Ok(MonoMix {
            inner,
            frames,
            header: wav_header(1, data_len),
            pos: 0,
        })
    }

    /// Length of the mono WAV in bytes.
    pub fn len(&self) -> u64 {
        HEADER + self.frames * 2
    }
}

impl<R: Read + Seek> Read for MonoMix<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.len();
        if self.pos >= len || buf.is_empty() {
            return Ok(0);
        }
        if self.pos < HEADER {
            let h = &self.header[self.pos as usize..];
            let n = h.len().min(buf.len());
            buf[..n].copy_from_slice(&h[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        // Mono byte offset → stereo frame; an odd offset starts mid-sample.
        let mono_off = self.pos - HEADER;
        let first = mono_off / 2;
        let want_frames = ((buf.len() as u64 + (mono_off % 2)).div_ceil(2))
            .min(self.frames - first)
            .min(8192);
        let mut stereo = vec![0u8; (want_frames * 4) as usize];
        self.inner.seek(SeekFrom::Start(HEADER + first * 4))?;
        self.inner.read_exact(&mut stereo)?;
        let mut mono = Vec::with_capacity(stereo.len() / 2);
        for f in stereo.chunks_exact(4) {
            let l = i32::from(i16::from_le_bytes([f[0], f[1]]));
            let r = i32::from(i16::from_le_bytes([f[2], f[3]]));
            let m = ((l + r) / 2) as i16;
            mono.extend_from_slice(&m.to_le_bytes());
        }
        let skip = (mono_off % 2) as usize;
        let n = (mono.len() - skip).min(buf.len());
        buf[..n].copy_from_slice(&mono[skip..skip + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for MonoMix<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn stereo(frames: &[(i16, i16)]) -> Vec<u8> {
        let mut v = wav_header(2, (frames.len() * 4) as u32).to_vec();
        for (l, r) in frames {
            v.extend_from_slice(&l.to_le_bytes());
            v.extend_from_slice(&r.to_le_bytes());
        }
        v
    }

    #[test]
    fn ids_cannot_escape_the_directory() {
        for bad in ["", "../x", "a/b", ".hidden", "a\\b", "a b", "a\0"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        assert!(valid_id("1798938900-a84b1c_127.0.0.1-2"));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            open_audio(dir.path(), "../etc/passwd", None),
            Err(AudioError::BadId(_))
        ));
        assert!(matches!(
            open_audio(dir.path(), "nothing", None),
            Err(AudioError::NotFound(_))
        ));
        std::fs::write(dir.path().join("r1.wav"), b"RIFF....").unwrap();
        let mut f = open_audio(dir.path(), "r1", None).unwrap();
        assert_eq!(f.len(), 8);
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "RIFF....");
        assert!(remove_audio(dir.path(), "r1").unwrap());
        assert!(!remove_audio(dir.path(), "r1").unwrap());
    }

    /// Issue 14: sealed recordings are decrypted here, and a flipped byte is refused.
    #[test]
    fn sealed_recordings_are_decrypted_and_tampering_refused() {
        use madoguchi_media::recording::{Chunk, RecordingConfig, RecordingKey, RecordingWriter};
        let dir = tempfile::tempdir().unwrap();
        let cap =
            cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        let key = RecordingKey::new([7; 32]);
        let mut w = RecordingWriter::create(
            &cap,
            "s1",
            RecordingConfig {
                seal: Some(key.clone()),
                ..RecordingConfig::default()
            },
        )
        .unwrap();
        let audio: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        w.write(Chunk {
            start_frame: 0,
            data: audio.clone(),
        });
        assert!(w.finish().complete);
        let mut f = open_audio(dir.path(), "s1", Some(&key)).unwrap();
        assert_eq!(f.len(), 44 + 40_000);
        let mut all = Vec::new();
        f.read_to_end(&mut all).unwrap();
        assert_eq!(&all[..4], b"RIFF");
        assert_eq!(&all[44..], &audio[..]);
        // Without the key, or altered: refused.
        assert!(matches!(
            open_audio(dir.path(), "s1", None),
            Err(AudioError::Sealed(..))
        ));
        let path = dir.path().join("s1.wav");
        let mut raw = std::fs::read(&path).unwrap();
        raw[20_000] ^= 1;
        std::fs::write(&path, &raw).unwrap();
        let refused = open_audio(dir.path(), "s1", Some(&key))
            .map_err(|e| e.to_string())
            .and_then(|mut f| {
                let mut v = Vec::new();
                f.read_to_end(&mut v).map_err(|e| e.to_string())
            });
        assert!(refused.unwrap_err().contains("tampered"));
    }

    #[test]
    fn mono_mix_averages_both_sides_and_seeks() {
        let frames: Vec<(i16, i16)> = (0..5000)
            .map(|i| ((i % 300) as i16 * 100, -((i % 7) as i16) * 1000))
            .collect();
        let bytes = stereo(&frames);
        let len = bytes.len() as u64;
        let mut m = MonoMix::new(Cursor::new(bytes), len, "t").unwrap();
        assert_eq!(m.len(), 44 + 5000 * 2);
        let mut all = Vec::new();
        m.read_to_end(&mut all).unwrap();
        assert_eq!(all.len() as u64, m.len());
        assert_eq!(&all[..4], b"RIFF");
        assert_eq!(u16::from_le_bytes([all[22], all[23]]), 1);
        assert_eq!(
            u32::from_le_bytes([all[40], all[41], all[42], all[43]]),
            10_000
        );
        for (i, (l, r)) in frames.iter().enumerate() {
            let got = i16::from_le_bytes([all[44 + 2 * i], all[45 + 2 * i]]);
            assert_eq!(
                got,
                ((i32::from(*l) + i32::from(*r)) / 2) as i16,
                "frame {i}"
            );
        }
        // Any range, odd offsets included, reads the same bytes as the whole.
        for start in [0u64, 1, 43, 44, 45, 1001, 9999, 10_043] {
            m.seek(SeekFrom::Start(start)).unwrap();
            let mut part = vec![0u8; 777];
            let n = m.read(&mut part).unwrap();
            assert!(n > 0);
            assert_eq!(
                &part[..n],
                &all[start as usize..start as usize + n],
                "{start}"
            );
        }
        m.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(m.read(&mut [0u8; 10]).unwrap(), 0);
    }

    #[test]
    fn mono_mix_refuses_what_is_not_stereo_pcm() {
        let mut mono = wav_header(1, 4).to_vec();
        mono.extend_from_slice(&[0, 0, 0, 0]);
        let len = mono.len() as u64;
        assert!(matches!(
            MonoMix::new(Cursor::new(mono), len, "m"),
            Err(AudioError::Format(_, "not stereo"))
        ));
        assert!(matches!(
            MonoMix::new(Cursor::new(b"RIFF".to_vec()), 4, "s"),
            Err(AudioError::Format(_, "too short"))
        ));
    }
}
