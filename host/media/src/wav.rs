//! Minimal RIFF/WAVE reading (prompts) and header writing (recordings).

/// Why a WAV file cannot be used as a prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// Zero bytes, or a data chunk with no complete sample.
    #[error("file is empty (no audio samples)")]
    Empty,
    /// Does not start with "RIFF".
    #[error("not a RIFF file")]
    NotRiff,
    /// RIFF, but the form type is not "WAVE".
    #[error("RIFF file is not WAVE")]
    NotWave,
    /// The file ends inside a header or chunk.
    #[error("file truncated in {0}")]
    Truncated(&'static str),
    /// No "fmt " chunk before the data.
    #[error("no fmt chunk")]
    MissingFmt,
    /// No "data" chunk.
    #[error("no data chunk")]
    MissingData,
    /// Format tag other than PCM (1), A-law (6), μ-law (7), or extensible wrapping those.
    #[error("unsupported format tag {0} (use PCM, A-law or μ-law)")]
    UnsupportedFormatTag(u16),
    /// 24-bit samples: not supported, export as 16-bit.
    #[error("24-bit samples are not supported; export the prompt as 16-bit PCM")]
    Unsupported24Bit,
    /// Other sample sizes (e.g. 32-bit PCM, 16-bit G.711).
    #[error("unsupported bits per sample {bits} for format tag {tag}")]
    UnsupportedBits {
        /// Format tag.
        tag: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Zero or more than 8 channels.
    #[error("unsupported channel count {0}")]
    BadChannels(u16),
    /// Sample rate outside 4000..=192000 Hz.
    #[error("unsupported sample rate {0} Hz")]
    BadSampleRate(u32),
    /// Longer than the prompt limit.
    #[error("prompt too long: {0} s (limit {MAX_PROMPT_SECONDS} s)")]
    TooLong(u64),
}

/// Longest prompt accepted (music on hold included).
pub const MAX_PROMPT_SECONDS: u64 = 1800;

/// Sample encoding in a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    /// Unsigned 8-bit PCM.
    Pcm8,
    /// Signed 16-bit little-endian PCM.
    Pcm16,
    /// G.711 A-law.
    Alaw,
    /// G.711 μ-law.
    Ulaw,
}

/// Decoded WAV: interleaved i16 samples plus format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    /// Source encoding.
    pub encoding: WavEncoding,
    /// Channels.
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Interleaved samples.
    pub samples: Vec<i16>,
}

fn le16(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn le32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Parse a WAV file held in memory. Never panics on malformed input.
pub fn read_wav(bytes: &[u8]) -> Result<WavAudio, PromptError> {
    if bytes.is_empty() {
        return Err(PromptError::Empty);
    }
    if bytes.len() < 4 || &bytes[..4] != b"RIFF" {
        return Err(PromptError::NotRiff);
    }
    if bytes.len() < 12 {
        return Err(PromptError::Truncated("RIFF header"));
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(PromptError::NotWave);
    }
    let mut pos = 12;
    let mut fmt: Option<(WavEncoding, u16, u32, u16)> = None;
    loop {
        if pos + 8 > bytes.len() {
            return Err(if fmt.is_none() {
                if pos == bytes.len() {
                    PromptError::MissingFmt
                } else {
                    PromptError::Truncated("chunk header")
                }
            } else if pos == bytes.len() {
                PromptError::MissingData
            } else {
                PromptError::Truncated("chunk header")
            });
        }
        let id = &bytes[pos..pos + 4];
        let size = le32(bytes, pos + 4) as usize;
        let body = pos + 8;
        match id {
            b"fmt " => {
                if size < 16 || body + 16 > bytes.len() {
                    return Err(PromptError::Truncated("fmt chunk"));
                }
                let mut tag = le16(bytes, body);
                let channels = le16(bytes, body + 2);
                let rate = le32(bytes, body + 4);
                let bits = le16(bytes, body + 14);
                if tag == 0xFFFE {
                    // WAVE_FORMAT_EXTENSIBLE: the real tag is the first 2 bytes of the sub-format GUID.
                    if size < 40 || body + 26 > bytes.len() {
                        return Err(PromptError::Truncated("extensible fmt chunk"));
                    }
                    tag = le16(bytes, body + 24);
                }
                let enc = match (tag, bits) {
                    (1, 8) => WavEncoding::Pcm8,
                    (1, 16) => WavEncoding::Pcm16,
                    (1, 24) => return Err(PromptError::Unsupported24Bit),
                    (6, 8) => WavEncoding::Alaw,
                    (7, 8) => WavEncoding::Ulaw,
                    (1 | 6 | 7, bits) => return Err(PromptError::UnsupportedBits { tag, bits }),
                    (tag, _) => return Err(PromptError::UnsupportedFormatTag(tag)),
                };
                if channels == 0 || channels > 8 {
                    return Err(PromptError::BadChannels(channels));
                }
                if !(4000..=192_000).contains(&rate) {
                    return Err(PromptError::BadSampleRate(rate));
                }
                fmt = Some((enc, channels, rate, bits));
            }
            b"data" => {
                let Some((encoding, channels, sample_rate, bits)) = fmt else {
                    return Err(PromptError::MissingFmt);
                };
                let available = bytes.len() - body;
                // Streaming writers (pipes, espeak-ng --stdout, ffmpeg) leave 0,
                // 0x7FFFF000 or 0xFFFFFFFF here: read to the end for such sizes.
                let len = if size == 0 || size >= 0x7FFF_0000 {
                    available
                } else if size > available {
                    return Err(PromptError::Truncated("data chunk"));
                } else {
                    size
                };
                let frame = channels as usize * (bits as usize / 8);
                let data = &bytes[body..body + len - len % frame];
                if data.is_empty() {
                    return Err(PromptError::Empty);
                }
                let seconds = (data.len() / frame) as u64 / sample_rate as u64;
                if seconds > MAX_PROMPT_SECONDS {
                    return Err(PromptError::TooLong(seconds));
                }
                let samples = match encoding {
                    WavEncoding::Pcm8 => data.iter().map(|&b| ((b as i16) - 128) << 8).collect(),
                    WavEncoding::Pcm16 => data
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]))
                        .collect(),
                    WavEncoding::Alaw => data
                        .iter()
                        .map(|&b| crate::g711::Law::Alaw.decode(b))
                        .collect(),
                    WavEncoding::Ulaw => data
                        .iter()
                        .map(|&b| crate::g711::Law::Ulaw.decode(b))
                        .collect(),
                };
                return Ok(WavAudio {
                    encoding,
                    channels,
                    sample_rate,
                    samples,
                });
            }
            _ => {}
        }
        // Chunks are padded to even sizes.
        pos = body.saturating_add(size).saturating_add(size & 1);
    }
}

/// Canonical 44-byte PCM WAV header for `data_len` bytes of audio.
pub fn pcm_header(channels: u16, sample_rate: u32, bits: u16, data_len: u32) -> [u8; 44] {
    let block_align = channels * bits / 8;
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * block_align as u32).to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&bits.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Build a complete 16-bit PCM WAV file in memory (tests, tools).
pub fn pcm16_file(channels: u16, sample_rate: u32, samples: &[i16]) -> Vec<u8> {
    let mut v = pcm_header(channels, sample_rate, 16, (samples.len() * 2) as u32).to_vec();
    for s in samples {
        v.extend_from_slice(&s.to_le_bytes());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with_fmt(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut h = pcm_header(channels, rate, bits, data.len() as u32);
        h[20..22].copy_from_slice(&tag.to_le_bytes());
        let mut v = h.to_vec();
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn reads_pcm16_and_g711_and_pcm8() {
        let f = pcm16_file(1, 8000, &[1, -2, 300]);
        let w = read_wav(&f).unwrap();
        assert_eq!(
            (w.encoding, w.channels, w.sample_rate),
            (WavEncoding::Pcm16, 1, 8000)
        );
        assert_eq!(w.samples, vec![1, -2, 300]);
        let a = read_wav(&file_with_fmt(6, 1, 8000, 8, &[0xD5, 0x55])).unwrap();
        assert_eq!(a.samples, vec![8, -8]);
        let u = read_wav(&file_with_fmt(7, 1, 8000, 8, &[0xFF, 0x80])).unwrap();
        assert_eq!(u.samples, vec![0, 32124]);
        let p8 = read_wav(&file_with_fmt(1, 1, 8000, 8, &[128, 255, 0])).unwrap();
        assert_eq!(p8.samples, vec![0, 127 << 8, -128 << 8]);
    }

    #[test]
    fn skips_unknown_chunks_with_odd_padding() {
        let mut f = b"RIFF\0\0\0\0WAVE".to_vec();
        f.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        let full = pcm16_file(1, 8000, &[5, 6]);
        f.extend_from_slice(&full[12..]);
        assert_eq!(read_wav(&f).unwrap().samples, vec![5, 6]);
    }

    #[test]
    fn precise_errors() {
        assert_eq!(read_wav(b""), Err(PromptError::Empty));
        assert_eq!(read_wav(b"RIFX0000WAVE"), Err(PromptError::NotRiff));
        assert_eq!(read_wav(b"RIFF0000AVI "), Err(PromptError::NotWave));
        assert_eq!(
            read_wav(b"RIFF00"),
            Err(PromptError::Truncated("RIFF header"))
        );
        assert_eq!(read_wav(b"RIFF0000WAVE"), Err(PromptError::MissingFmt));
        assert_eq!(
            read_wav(&file_with_fmt(3, 1, 8000, 32, &[0; 8])),
            Err(PromptError::UnsupportedFormatTag(3))
        );
        assert_eq!(
            read_wav(&file_with_fmt(0x55, 1, 8000, 0, &[0; 8])),
            Err(PromptError::UnsupportedFormatTag(0x55))
        );
        assert_eq!(
            read_wav(&file_with_fmt(1, 1, 8000, 24, &[0; 6])),
            Err(PromptError::Unsupported24Bit)
        );
        assert_eq!(
            read_wav(&file_with_fmt(1, 1, 8000, 32, &[0; 8])),
            Err(PromptError::UnsupportedBits { tag: 1, bits: 32 })
        );
        assert_eq!(
            read_wav(&file_with_fmt(1, 0, 8000, 16, &[0; 8])),
            Err(PromptError::BadChannels(0))
        );
        assert_eq!(
            read_wav(&file_with_fmt(1, 1, 1000, 16, &[0; 8])),
            Err(PromptError::BadSampleRate(1000))
        );
        assert_eq!(read_wav(&pcm16_file(1, 8000, &[])), Err(PromptError::Empty));
        let mut f = pcm16_file(1, 8000, &[1, 2, 3, 4]);
        f.truncate(f.len() - 3);
        assert_eq!(read_wav(&f), Err(PromptError::Truncated("data chunk")));
        let full = pcm16_file(1, 8000, &[1, 2, 3, 4]);
        assert_eq!(
            read_wav(&full[..30]),
            Err(PromptError::Truncated("fmt chunk"))
        );
        assert_eq!(
            read_wav(&full[..38]),
            Err(PromptError::Truncated("chunk header"))
        );
        assert_eq!(read_wav(&full[..36]), Err(PromptError::MissingData));
        // Every prefix is an error or a shorter valid file, never a panic.
        for n in 0..full.len() {
            let _ = read_wav(&full[..n]);
        }
    }

    #[test]
    fn mutated_files_never_panic() {
        let good = pcm16_file(2, 44_100, &[100; 64]);
        let mut x: u32 = 0x1357_9BDF;
        for _ in 0..20_000 {
            let mut m = good.clone();
            for _ in 0..(x % 4 + 1) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % 48;
                m[i] = (x >> 8) as u8;
            }
            if let Ok(w) = read_wav(&m) {
                assert!(w.samples.len() <= m.len());
            }
        }
    }

    #[test]
    fn streaming_placeholder_sizes_read_to_end() {
        let mut f = pcm16_file(1, 8000, &[7, 8, 9]);
        f[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_wav(&f).unwrap().samples, vec![7, 8, 9]);
        f[40..44].copy_from_slice(&0x7FFF_F000u32.to_le_bytes());
        assert_eq!(read_wav(&f).unwrap().samples, vec![7, 8, 9]);
        f[40..44].copy_from_slice(&0u32.to_le_bytes());
        f.push(0x01); // partial trailing sample is ignored
        assert_eq!(read_wav(&f).unwrap().samples, vec![7, 8, 9]);
    }
}
