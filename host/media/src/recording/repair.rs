//! Recovery of recordings left unfinished by a crash (kill -9, power loss).

use super::sealed::{is_sealed, repair_sealed, RecordingKey, SealedError};
use super::{header, io_err, sha256_file, RecordingError, FRAME_BYTES, PART_SUFFIX};
use cap_std::fs::{Dir, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

/// One repaired recording, for marking the call record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Repaired {
    /// New (final) file name.
    pub file_name: String,
    /// The `.part` name it had.
    pub from: String,
    /// File size after repair.
    pub bytes: u64,
    /// Audio duration recovered.
    pub duration_ms: u64,
    /// SHA-256 (hex) of the repaired file.
    pub sha256: String,
    /// What was fixed.
    pub problems: Vec<String>,
}

/// Block size from an intact header of ours, if the header is intact.
fn header_block_align(h: &[u8]) -> Option<u64> {
    if h.len() < 44
        || &h[0..4] != b"RIFF"
        || &h[8..12] != b"WAVE"
        || &h[12..16] != b"fmt "
        || &h[36..40] != b"data"
    {
        return None;
    }
    let tag = u16::from_le_bytes([h[20], h[21]]);
    let channels = u16::from_le_bytes([h[22], h[23]]);
    let bits = u16::from_le_bytes([h[34], h[35]]);
    let align = u16::from_le_bytes([h[32], h[33]]) as u64;
    (tag == 1 && (1..=2).contains(&channels) && bits == 16 && align == channels as u64 * 2)
        .then_some(align)
}

/// Repairs a sealed `.part`: whole authenticated segments kept, an empty last one added.
fn repair_one_sealed(
    dir: &Dir,
    part: &str,
    mut f: cap_std::fs::File,
    key: Option<&RecordingKey>,
) -> Result<Repaired, RecordingError> {
    let (audio, mut problems) = repair_sealed(&mut f, key).map_err(|e| match e {
        SealedError::Io(e) => io_err("repair sealed recording")(e),
        other => RecordingError::Sealed(other),
    })?;
    drop(f);
    problems.push("recording was not finished (crash); sealed segments kept".into());
    let (file_name, _) = rename_repaired(dir, part)?;
    let key = key.ok_or(RecordingError::Sealed(SealedError::NoKey))?;
    let (bytes, sha256) =
        super::sealed::wav_digest(dir, &file_name, key).map_err(RecordingError::Sealed)?;
    Ok(Repaired {
        file_name,
        from: part.to_owned(),
        bytes,
        duration_ms: audio / FRAME_BYTES / 8,
        sha256,
        problems,
    })
}

/// `NAME.wav.part` → `NAME.wav` (or `NAME.recovered-N.wav`), then its SHA-256.
fn rename_repaired(dir: &Dir, part: &str) -> Result<(String, String), RecordingError> {
    let stem = &part[..part.len() - PART_SUFFIX.len()];
    let mut final_name = format!("{stem}.wav");
    let mut n = 1;
    while dir.exists(&final_name) {
        final_name = format!("{stem}.recovered-{n}.wav");
        n += 1;
    }
    dir.rename(part, dir, &final_name)
        .map_err(io_err("rename repaired recording"))?;
    let sha256 = sha256_file(dir, &final_name).map_err(io_err("hash repaired recording"))?;
    Ok((final_name, sha256))
}

fn repair_one(
    dir: &Dir,
    part: &str,
    key: Option<&RecordingKey>,
) -> Result<Repaired, RecordingError> {
    let mut problems = Vec::new();
    let mut f = dir
        .open_with(part, OpenOptions::new().read(true).write(true))
        .map_err(io_err("open unfinished recording"))?;
    let mut magic = Vec::with_capacity(8);
    (&mut f)
        .take(8)
        .read_to_end(&mut magic)
        .map_err(io_err("read header"))?;
    if is_sealed(&magic) {
        return repair_one_sealed(dir, part, f, key);
    }
    f.seek(SeekFrom::Start(0)).map_err(io_err("seek"))?;
    let len = f
        .metadata()
        .map_err(io_err("stat unfinished recording"))?
        .len();
    let mut head = Vec::with_capacity(44);
    (&mut f)
        .take(44)
        .read_to_end(&mut head)
        .map_err(io_err("read header"))?;
    let intact = header_block_align(&head);
    if intact.is_none() {
        problems.push(format!(
            "header incomplete or damaged ({} of 44 bytes); rewritten",
            head.len()
        ));
    }
    let align = intact.unwrap_or(FRAME_BYTES);
    let data = len.saturating_sub(44);
    let whole = data - data % align;
    if whole < data {
        problems.push(format!(
            "dropped {} bytes of a partial sample frame",
            data - whole
        ));
    }
    f.set_len(44 + whole).map_err(io_err("truncate"))?;
    let h = if intact == Some(2) {
        // An intact mono header: keep its format, fix only the sizes.
        crate::wav::pcm_header(
            1,
            super::SAMPLE_RATE,
            16,
            whole.min(u32::MAX as u64 - 36) as u32,
        )
    } else {
        header(whole)
    };
    f.seek(SeekFrom::Start(0)).map_err(io_err("seek"))?;
    f.write_all(&h).map_err(io_err("write header"))?;
    f.sync_all().map_err(io_err("fsync"))?;
    drop(f);
    problems.push("recording was not finished (crash); sizes repaired".into());
    let (final_name, sha256) = rename_repaired(dir, part)?;
    Ok(Repaired {
        file_name: final_name,
        from: part.to_owned(),
        bytes: 44 + whole,
        duration_ms: whole / align / 8,
        sha256,
        problems,
    })
}

/// Repair every `*.wav.part` in `dir`: fix RIFF/data sizes, cut a partial
/// trailing sample frame, rewrite a header cut short, fsync, and rename to
/// `*.wav` (`*.recovered-N.wav` if that name is taken). Files that cannot be
/// repaired are logged and left as they are; only listing the directory
/// failing is an error.
/// Sealed files (see [`super::sealed`]) keep every segment that authenticates under `key`.
pub fn repair_unfinished(
    dir: &Dir,
    key: Option<&RecordingKey>,
) -> Result<Vec<Repaired>, RecordingError> {
    let mut parts: Vec<String> = dir
        .entries()
        .map_err(io_err("list recordings dir"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(PART_SUFFIX) && n.len() > PART_SUFFIX.len())
        .collect();
    parts.sort();
    let mut out = Vec::new();
    for p in parts {
        match repair_one(dir, &p, key) {
            Ok(r) => {
                tracing::warn!(file = %r.file_name, duration_ms = r.duration_ms, "repaired unfinished recording");
                out.push(r);
            }
            Err(e) => {
                tracing::error!(file = %p, error = %e, "could not repair unfinished recording")
            }
        }
    }
    Ok(out)
}
