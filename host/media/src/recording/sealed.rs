//! Sealed (encrypted) recordings: each file has its own random key, its audio is sealed in
//! fixed-size segments, and the file key is wrapped by the recordings key (derived from the
//! server's master key, which is never in the store or beside the recordings by design).
//!
//! Layout (little-endian):
//! ```text
//! 0    8  magic "MDGREC\0\x01"
//! 8    2  format version (1)      10  2 channels   12  4 sample rate   16  2 bits per sample
//! 18   4  plaintext bytes per segment (8,000 = 250 ms of 8 kHz 16-bit stereo)
//! 22  16  file id (random)         38 26 zero
//! 64  96  key slot A               160 96 key slot B
//! 256 ... segments: ciphertext of SEGMENT bytes + 16-byte tag each; the last one shorter
//! ```
//! A key slot is `generation u64 | key id 8 | nonce 24 | wrapped file key 48 | 8 zero`: the
//! file key sealed with XChaCha20-Poly1305 under the recordings key, bound to the fixed
//! header and the generation. Rotation writes the new wrap into the other slot with the next
//! generation, syncs, then wipes the old slot: a crash in between leaves both readable, and
//! the audio is never re-encrypted.
//!
//! Segment `i` is sealed with ChaCha20-Poly1305 under the file key, nonce `i (u64 BE) |
//! last (u8) | 0 0 0`, the fixed header as associated data. The final segment carries
//! `last = 1` (STREAM construction), so a cut-off or reordered file is detected as well as a
//! flipped byte.
//!
//! Crash safety: whole segments are appended as they fill (every 250 ms of audio); a
//! `kill -9` loses at most the segment being filled. [`repair_sealed`] keeps every segment
//! that authenticates and appends an empty final one.

use std::io::{self, Read, Seek, SeekFrom, Write};

use cap_std::fs::{Dir, File};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const MAGIC: &[u8; 8] = b"MDGREC\0\x01";
pub const HEADER_LEN: u64 = 256;
const FIXED_LEN: usize = 64;
const SLOT_LEN: usize = 96;
const SLOT_A: usize = 64;
const SLOT_B: usize = 160;
/// Plaintext bytes per segment: 250 ms of 8 kHz 16-bit stereo.
pub const SEGMENT: usize = 8_000;
const TAG: usize = 16;
/// Sealed bytes per full segment.
pub const SEGMENT_SEALED: u64 = (SEGMENT + TAG) as u64;

/// The key that wraps the recordings' file keys. `Debug` shows only its id.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordingKey {
    key: [u8; 32],
    id: [u8; 8],
}

impl std::fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordingKey({})", super::hex(&self.id))
    }
}

impl RecordingKey {
    pub fn new(key: [u8; 32]) -> RecordingKey {
        let h = Sha256::new()
            .chain_update(b"madoguchi recording key id\0")
            .chain_update(key)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&h[..8]);
        RecordingKey { key, id }
    }

    /// Public name of the key (16 hex digits).
    pub fn id(&self) -> String {
        super::hex(&self.id)
    }

    fn wrap(&self, fixed: &[u8], generation: u64, file_key: &[u8; 32]) -> [u8; SLOT_LEN] {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = slot_aad(fixed, generation, &self.id);
        let wrapped = XChaCha20Poly1305::new(Key::from_slice(&self.key))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: file_key,
                    aad: &aad,
                },
            )
            .expect("wrapping a 32-byte key cannot fail");
        let mut slot = [0u8; SLOT_LEN];
        slot[0..8].copy_from_slice(&generation.to_le_bytes());
        slot[8..16].copy_from_slice(&self.id);
        slot[16..40].copy_from_slice(&nonce);
        slot[40..88].copy_from_slice(&wrapped);
        slot
    }

    /// The file key from a slot, if this key wrapped it and nothing was altered.
    fn unwrap(&self, fixed: &[u8], slot: &[u8]) -> Option<(u64, [u8; 32])> {
        let generation = u64::from_le_bytes(slot[0..8].try_into().ok()?);
        if generation == 0 || slot[8..16] != self.id {
            return None;
        }
        let aad = slot_aad(fixed, generation, &self.id);
        let key = XChaCha20Poly1305::new(Key::from_slice(&self.key))
            .decrypt(
                XNonce::from_slice(&slot[16..40]),
                Payload {
                    msg: &slot[40..88],
                    aad: &aad,
                },
            )
            .ok()?;
        Some((generation, key.try_into().ok()?))
    }
}

fn slot_aad(fixed: &[u8], generation: u64, id: &[u8; 8]) -> Vec<u8> {
    let mut aad = fixed.to_vec();
    aad.extend_from_slice(&generation.to_le_bytes());
    aad.extend_from_slice(id);
    aad
}

/// Why a sealed recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SealedError {
    #[error("not a sealed recording")]
    NotSealed,
    #[error("the recording is sealed with key {found}, not with the configured key {configured}")]
    WrongKey { found: String, configured: String },
    #[error("the recording is sealed but no recordings key is configured")]
    NoKey,
    #[error("the recording has been tampered with or damaged: {0}")]
    Tampered(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<SealedError> for io::Error {
    fn from(e: SealedError) -> io::Error {
        match e {
            SealedError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// A parsed header with the file key.
struct Opened {
    fixed: [u8; FIXED_LEN],
    cipher: ChaCha20Poly1305,
    channels: u16,
    rate: u32,
    bits: u16,
}

fn segment_nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[0..8].copy_from_slice(&index.to_be_bytes());
    n[8] = u8::from(last);
    n
}

impl Opened {
    fn seal(&self, index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
        self.cipher
            .encrypt(
                Nonce::from_slice(&segment_nonce(index, last)),
                Payload {
                    msg: plain,
                    aad: &self.fixed,
                },
            )
            .expect("sealing a segment cannot fail")
    }

    fn open(&self, index: u64, last: bool, sealed: &[u8]) -> Option<Vec<u8>> {
        self.cipher
            .decrypt(
                Nonce::from_slice(&segment_nonce(index, last)),
                Payload {
                    msg: sealed,
                    aad: &self.fixed,
                },
            )
            .ok()
    }
}

/// Whether these first bytes are a sealed recording's.
pub fn is_sealed(head: &[u8]) -> bool {
    head.len() >= 8 && &head[..8] == MAGIC
}

fn read_header(f: &mut impl Read) -> Result<[u8; HEADER_LEN as usize], SealedError> {
    let mut h = [0u8; HEADER_LEN as usize];
    f.read_exact(&mut h).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => SealedError::Tampered("header cut short".into()),
        _ => SealedError::Io(e),
    })?;
    if !is_sealed(&h) {
        return Err(SealedError::NotSealed);
    }
    Ok(h)
}

/// Finds the newest slot `key` opens. `Err` says whose key it wants.
fn open_header(h: &[u8], key: Option<&RecordingKey>) -> Result<(Opened, usize, u64), SealedError> {
    let fixed: [u8; FIXED_LEN] = h[..FIXED_LEN].try_into().expect("64 bytes");
    let version = u16::from_le_bytes([h[8], h[9]]);
    let segment = u32::from_le_bytes(h[18..22].try_into().expect("4 bytes"));
    if version != 1 || segment as usize != SEGMENT {
        return Err(SealedError::Tampered(format!(
            "unknown format {version} / segment {segment}"
        )));
    }
    let Some(key) = key else {
        return Err(SealedError::NoKey);
    };
    let best = [SLOT_A, SLOT_B]
        .into_iter()
        .filter_map(|at| {
            key.unwrap(&fixed, &h[at..at + SLOT_LEN])
                .map(|(g, k)| (g, k, at))
        })
        .max_by_key(|(g, _, _)| *g);
    let Some((generation, file_key, at)) = best else {
        // Name the key the file wants, when a slot names one.
        let found = [SLOT_A, SLOT_B]
            .into_iter()
            .map(|at| &h[at..at + SLOT_LEN])
            .filter(|s| s[0..8] != [0; 8])
            .map(|s| super::hex(&s[8..16]))
            .next();
        return Err(match found {
            Some(found) if found != key.id() => SealedError::WrongKey {
                found,
                configured: key.id(),
            },
            _ => SealedError::Tampered("no key slot authenticates".into()),
        });
    };
    Ok((
        Opened {
            fixed,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&file_key)),
            channels: u16::from_le_bytes([h[10], h[11]]),
            rate: u32::from_le_bytes(h[12..16].try_into().expect("4 bytes")),
            bits: u16::from_le_bytes([h[16], h[17]]),
        },
        at,
        generation,
    ))
}

/// (whole segments, plaintext bytes of the last) of a finished file of `len` bytes. The
/// writer seals a segment as soon as it is full, so the last one holds 0..SEGMENT-1 bytes.
fn plain_len(len: u64) -> Option<(u64, u64)> {
    let body = len.checked_sub(HEADER_LEN)?.checked_sub(TAG as u64)?;
    let full = body / SEGMENT_SEALED;
    Some((full, body - full * SEGMENT_SEALED))
}

/// The sealing side of the writer: buffers audio and appends whole sealed segments.
pub(crate) struct SealedFile {
    opened: Opened,
    file: File,
    buffer: Vec<u8>,
    segments: u64,
}

impl SealedFile {
    /// Writes a new header (fresh file key wrapped in slot A) to an empty file.
    pub(crate) fn create(mut file: File, key: &RecordingKey) -> io::Result<SealedFile> {
        let mut h = [0u8; HEADER_LEN as usize];
        h[0..8].copy_from_slice(MAGIC);
        h[8..10].copy_from_slice(&1u16.to_le_bytes());
        h[10..12].copy_from_slice(&2u16.to_le_bytes());
        h[12..16].copy_from_slice(&super::SAMPLE_RATE.to_le_bytes());
        h[16..18].copy_from_slice(&16u16.to_le_bytes());
        h[18..22].copy_from_slice(&(SEGMENT as u32).to_le_bytes());
        rand::rngs::OsRng.fill_bytes(&mut h[22..38]);
        let mut file_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut file_key);
        let fixed: [u8; FIXED_LEN] = h[..FIXED_LEN].try_into().expect("64 bytes");
        h[SLOT_A..SLOT_A + SLOT_LEN].copy_from_slice(&key.wrap(&fixed, 1, &file_key));
        file.write_all(&h)?;
        Ok(SealedFile {
            opened: Opened {
                fixed,
                cipher: ChaCha20Poly1305::new(Key::from_slice(&file_key)),
                channels: 2,
                rate: super::SAMPLE_RATE,
                bits: 16,
            },
            file,
            buffer: Vec::with_capacity(SEGMENT),
            segments: 0,
        })
    }

    fn good_len(&self) -> u64 {
        HEADER_LEN + self.segments * SEGMENT_SEALED
    }

    /// Appends audio; every full segment goes to the file at once. On an error the file is
    /// cut back to its last whole segment.
    pub(crate) fn append(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = (SEGMENT - self.buffer.len()).min(data.len());
            self.buffer.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buffer.len() == SEGMENT {
                let sealed = self.opened.seal(self.segments, false, &self.buffer);
                if let Err(e) = self.file.write_all(&sealed) {
                    let _ = self.file.set_len(self.good_len());
                    let _ = self.file.seek(SeekFrom::Start(self.good_len()));
                    return Err(e);
                }
                self.segments += 1;
                self.buffer.clear();
            }
        }
        Ok(())
    }

    /// Keeps the first `plain` bytes of audio (after a failed write).
    pub(crate) fn truncate(&mut self, plain: u64) -> io::Result<()> {
        let in_file = self.segments * SEGMENT as u64;
        if plain >= in_file {
            self.buffer.truncate((plain - in_file) as usize);
            Ok(())
        } else {
            self.segments = plain / SEGMENT as u64;
            self.buffer.clear();
            self.file.set_len(self.good_len())?;
            self.file.seek(SeekFrom::Start(self.good_len())).map(|_| ())
        }
    }

    /// Seals the rest as the last segment and syncs. Returns the file and its size.
    pub(crate) fn finish(mut self) -> io::Result<(File, u64)> {
        let sealed = self.opened.seal(self.segments, true, &self.buffer);
        self.file.write_all(&sealed)?;
        self.file.sync_all()?;
        let size = self.good_len() + sealed.len() as u64;
        Ok((self.file, size))
    }
}

/// A sealed recording read as the WAV it holds (a 44-byte header, then the audio), with
/// `Read + Seek`. Every segment is authenticated before any of its bytes are returned; a
/// tampered one gives an `InvalidData` error naming it.
pub struct SealedReader {
    opened: Opened,
    file: File,
    segments: u64,
    last_plain: u64,
    pos: u64,
    cached: Option<(u64, Vec<u8>)>,
}

impl std::fmt::Debug for SealedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedReader")
            .field("segments", &self.segments)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl SealedReader {
    /// Opens a finished sealed file.
    pub fn open(mut file: File, key: Option<&RecordingKey>) -> Result<SealedReader, SealedError> {
        let h = read_header(&mut file)?;
        let (opened, _, _) = open_header(&h, key)?;
        let len = file.metadata()?.len();
        let (full, last_plain) =
            plain_len(len).ok_or_else(|| SealedError::Tampered("cut short".into()))?;
        let mut r = SealedReader {
            opened,
            file,
            segments: full,
            last_plain,
            pos: 0,
            cached: None,
        };
        // The last segment proves the file is whole (not cut at a segment boundary).
        r.segment(full)?;
        Ok(r)
    }

    /// The audio bytes (without the WAV header).
    pub fn audio_len(&self) -> u64 {
        self.segments * SEGMENT as u64 + self.last_plain
    }

    /// The length of the WAV view: header and audio.
    pub fn len(&self) -> u64 {
        44 + self.audio_len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    fn segment(&mut self, index: u64) -> Result<&[u8], SealedError> {
        if self.cached.as_ref().is_none_or(|(i, _)| *i != index) {
            let last = index == self.segments;
            let size = if last {
                self.last_plain as usize + TAG
            } else {
                SEGMENT + TAG
            };
            let mut buf = vec![0u8; size];
            self.file
                .seek(SeekFrom::Start(HEADER_LEN + index * SEGMENT_SEALED))?;
            self.file.read_exact(&mut buf)?;
            let plain = self.opened.open(index, last, &buf).ok_or_else(|| {
                SealedError::Tampered(format!(
                    "segment {index} (audio from {} ms) does not authenticate",
                    index * 250
                ))
            })?;
            self.cached = Some((index, plain));
        }
        Ok(&self.cached.as_ref().expect("just filled").1)
    }

    fn wav_header(&self) -> [u8; 44] {
        crate::wav::pcm_header(
            self.opened.channels,
            self.opened.rate,
            self.opened.bits,
            self.audio_len().min(u32::MAX as u64 - 36) as u32,
        )
    }
}

impl Read for SealedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.len() {
            return Ok(0);
        }
        if self.pos < 44 {
            let h = self.wav_header();
            let n = (44 - self.pos as usize).min(out.len());
            out[..n].copy_from_slice(&h[self.pos as usize..self.pos as usize + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let audio_pos = self.pos - 44;
        let index = audio_pos / SEGMENT as u64;
        let off = (audio_pos % SEGMENT as u64) as usize;
        let seg = self.segment(index)?;
        let n = (seg.len() - off).min(out.len());
        out[..n].copy_from_slice(&seg[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SealedReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = self.len() as i128;
        let target = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(d) => len + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

/// Length and SHA-256 (hex) of the WAV a sealed recording holds, as readers get it (the
/// call record describes the audio, not its sealed container). Authenticates every segment.
pub fn wav_digest(dir: &Dir, name: &str, key: &RecordingKey) -> Result<(u64, String), SealedError> {
    let mut r = SealedReader::open(dir.open(name)?, Some(key))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok((r.len(), super::hex(&h.finalize())))
}

/// Repairs a sealed `.part` file left by a crash: keeps every whole segment that
/// authenticates, drops the rest, appends an empty last segment, syncs. Returns the audio
/// bytes kept and what was fixed.
pub(crate) fn repair_sealed(
    f: &mut File,
    key: Option<&RecordingKey>,
) -> Result<(u64, Vec<String>), SealedError> {
    f.seek(SeekFrom::Start(0))?;
    let h = read_header(f)?;
    let (opened, _, _) = open_header(&h, key)?;
    let len = f.metadata()?.len();
    let mut problems = Vec::new();
    let mut index = 0u64;
    let mut buf = vec![0u8; SEGMENT + TAG];
    let mut finished_at = None;
    loop {
        let at = HEADER_LEN + index * SEGMENT_SEALED;
        if at >= len {
            break;
        }
        let avail = (len - at).min(SEGMENT_SEALED) as usize;
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut buf[..avail])?;
        if avail == SEGMENT + TAG && opened.open(index, false, &buf[..avail]).is_some() {
            index += 1;
            continue;
        }
        // A final segment written just before the crash (finish ran, rename did not).
        if let Some(p) = opened.open(index, true, &buf[..avail]) {
            finished_at = Some(at + avail as u64);
            let _ = p;
        } else {
            problems.push(format!(
                "dropped {} bytes of an unfinished segment",
                len - at
            ));
        }
        break;
    }
    let audio = match finished_at {
        Some(end) => {
            f.set_len(end)?;
            plain_len(end).map_or(0, |(full, last)| full * SEGMENT as u64 + last)
        }
        None => {
            let end = HEADER_LEN + index * SEGMENT_SEALED;
            f.set_len(end)?;
            f.seek(SeekFrom::Start(end))?;
            f.write_all(&opened.seal(index, true, &[]))?;
            index * SEGMENT as u64
        }
    };
    f.sync_all()?;
    Ok((audio, problems))
}

/// Re-wraps a sealed recording's file key from `old` to `new` (key rotation) without
/// touching its audio: the new wrap goes into the other slot with the next generation and
/// is synced before the old slot is wiped. Returns `false` when the file is already under
/// `new`.
pub fn rewrap(
    dir: &Dir,
    name: &str,
    old: &RecordingKey,
    new: &RecordingKey,
) -> Result<bool, SealedError> {
    let mut f = dir.open_with(name, cap_std::fs::OpenOptions::new().read(true).write(true))?;
    let h = read_header(&mut f)?;
    if open_header(&h, Some(new)).is_ok() {
        return Ok(false);
    }
    let (_, at, generation) = open_header(&h, Some(old))?;
    let fixed: [u8; FIXED_LEN] = h[..FIXED_LEN].try_into().expect("64 bytes");
    let (_, file_key) = old
        .unwrap(&fixed, &h[at..at + SLOT_LEN])
        .ok_or_else(|| SealedError::Tampered("key slot".into()))?;
    let other = if at == SLOT_A { SLOT_B } else { SLOT_A };
    f.seek(SeekFrom::Start(other as u64))?;
    f.write_all(&new.wrap(&fixed, generation + 1, &file_key))?;
    f.sync_data()?;
    f.seek(SeekFrom::Start(at as u64))?;
    f.write_all(&[0u8; SLOT_LEN])?;
    f.sync_data()?;
    Ok(true)
}
