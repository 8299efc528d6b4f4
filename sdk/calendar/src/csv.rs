//! Reader for the Cabinet Office holiday list `syukujitsu.csv`.
//!
//! The published file is Shift_JIS with CRLF line ends, a fixed header
//! `国民の祝日・休日月日,国民の祝日・休日名称` and one `YYYY/M/D,名称` row per
//! holiday. A UTF-8 re-save (with or without BOM, LF or CRLF) is accepted too,
//! since spreadsheet round-trips produce one; the file is untrusted input, so
//! every failure is an error naming the line, never a panic.

use crate::date::{parse_ymd, Date, DateError};

/// The header line of the official file.
pub const SYUKUJITSU_HEADER: &str = "国民の祝日・休日月日,国民の祝日・休日名称";

/// Why a holiday list could not be read. `line` is 1-based (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The bytes are neither valid UTF-8 nor valid Shift_JIS.
    #[error("line {line}: not valid Shift_JIS (nor UTF-8)")]
    Encoding {
        /// First line containing an undecodable byte sequence.
        line: usize,
    },
    /// The file is empty.
    #[error("line 1: empty file (expected header {SYUKUJITSU_HEADER:?})")]
    Empty,
    /// The first line is not the official header.
    #[error("line 1: unexpected header {found:?} (expected {SYUKUJITSU_HEADER:?})")]
    BadHeader {
        /// The header line as read.
        found: String,
    },
    /// A row does not have exactly two comma-separated fields.
    #[error("line {line}: expected 2 fields `YYYY/M/D,name`, found {found}")]
    FieldCount {
        /// Offending line.
        line: usize,
        /// Number of fields found.
        found: usize,
    },
    /// The date field is not `YYYY/M/D`.
    #[error("line {line}: bad date {text:?} (expected YYYY/M/D)")]
    DateSyntax {
        /// Offending line.
        line: usize,
        /// The date field as read.
        text: String,
    },
    /// The date field names a day that does not exist.
    #[error("line {line}: impossible date {text:?}: {source}")]
    ImpossibleDate {
        /// Offending line.
        line: usize,
        /// The date field as read.
        text: String,
        /// What is wrong with it.
        source: DateError,
    },
    /// The name field is empty.
    #[error("line {line}: empty holiday name")]
    EmptyName {
        /// Offending line.
        line: usize,
    },
    /// The same date appears twice.
    #[error("line {line}: date {date} already listed on line {first_line}")]
    Duplicate {
        /// Offending line.
        line: usize,
        /// The repeated date.
        date: Date,
        /// Line where it first appeared.
        first_line: usize,
    },
}

/// Parses the official `syukujitsu.csv` (see the module docs) into
/// `(date, name)` pairs sorted by date. Blank lines are skipped; names are
/// kept exactly as written (trimmed of surrounding spaces).
pub fn parse_syukujitsu_csv(bytes: &[u8]) -> Result<Vec<(Date, String)>, CsvError> {
    let text = decode(bytes)?;
    let mut lines = text.split('\n').enumerate().map(|(i, l)| {
        let l = l.strip_suffix('\r').unwrap_or(l);
        (i + 1, l)
    });
    let (_, header) = lines.next().ok_or(CsvError::Empty)?;
    let header = header.strip_prefix('\u{feff}').unwrap_or(header);
    if header.trim().is_empty() && text.trim().is_empty() {
        return Err(CsvError::Empty);
    }
    if header.trim() != SYUKUJITSU_HEADER {
        return Err(CsvError::BadHeader {
            found: header.to_owned(),
        });
    }
    let mut out: Vec<(Date, String, usize)> = Vec::new();
    for (line, row) in lines {
        if row.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = row.split(',').collect();
        let [date_text, name] = fields[..] else {
            return Err(CsvError::FieldCount {
                line,
                found: fields.len(),
            });
        };
        let date = match parse_ymd(date_text, '/') {
            None => {
                return Err(CsvError::DateSyntax {
                    line,
                    text: date_text.to_owned(),
                })
            }
            Some(Err(source)) => {
                return Err(CsvError::ImpossibleDate {
                    line,
                    text: date_text.to_owned(),
                    source,
                })
            }
            Some(Ok(d)) => d,
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(CsvError::EmptyName { line });
        }
        out.push((date, name.to_owned(), line));
    }
    out.sort_by_key(|e| (e.0, e.2));
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(CsvError::Duplicate {
            line: w[1].2,
            date: w[1].0,
            first_line: w[0].2,
        });
    }
    Ok(out.into_iter().map(|(d, n, _)| (d, n)).collect())
}

/// UTF-8 if the bytes are valid UTF-8 (ASCII-only files read the same either
/// way), otherwise strict Shift_JIS.
fn decode(bytes: &[u8]) -> Result<String, CsvError> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_owned());
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
        .ok_or_else(|| CsvError::Encoding {
            line: first_bad_line(bytes),
        })
}

/// 1-based line of the first undecodable Shift_JIS sequence (for the error).
fn first_bad_line(bytes: &[u8]) -> usize {
    let mut decoder = encoding_rs::SHIFT_JIS.new_decoder_without_bom_handling();
    let mut line = 1;
    let mut buf = [0u8; 16];
    let mut src = bytes;
    while !src.is_empty() {
        let (res, read, written) = decoder.decode_to_utf8_without_replacement(src, &mut buf, false);
        // `written` counts output bytes; LF is ASCII and maps to itself.
        line += buf[..written].iter().filter(|&&b| b == b'\n').count();
        if let encoding_rs::DecoderResult::Malformed(..) = res {
            return line;
        }
        src = &src[read..];
        if read == 0 && written == 0 {
            break;
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sjis(s: &str) -> Vec<u8> {
        encoding_rs::SHIFT_JIS.encode(s).0.into_owned()
    }

    #[test]
    fn parses_shift_jis_crlf() {
        let text = format!("{SYUKUJITSU_HEADER}\r\n2027/1/1,元日\r\n2026/11/23,勤労感謝の日\r\n");
        let v = parse_syukujitsu_csv(&sjis(&text)).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].0, Date::new(2026, 11, 23).unwrap());
        assert_eq!(v[0].1, "勤労感謝の日");
        assert_eq!(v[1].1, "元日");
    }

    #[test]
    fn parses_utf8_with_bom_and_lf() {
        let text = format!("\u{feff}{SYUKUJITSU_HEADER}\n2027/1/1,元日\n\n");
        let v = parse_syukujitsu_csv(text.as_bytes()).unwrap();
        assert_eq!(v, [(Date::new(2027, 1, 1).unwrap(), "元日".to_owned())]);
    }

    #[test]
    fn errors_name_the_line() {
        let case = |body: &str| {
            parse_syukujitsu_csv(&sjis(&format!("{SYUKUJITSU_HEADER}\r\n{body}"))).unwrap_err()
        };
        let e = case("2027/1/1,元日\r\n2027/13/1,x\r\n");
        assert!(matches!(e, CsvError::ImpossibleDate { line: 3, .. }), "{e}");
        assert!(e.to_string().starts_with("line 3:"));
        let e = case("2027-1-1,元日\r\n");
        assert!(matches!(e, CsvError::DateSyntax { line: 2, .. }), "{e}");
        let e = case("2027/1/1\r\n");
        assert!(matches!(e, CsvError::FieldCount { line: 2, found: 1 }));
        let e = case("2027/1/1,元日,x\r\n");
        assert!(matches!(e, CsvError::FieldCount { line: 2, found: 3 }));
        let e = case("2027/1/1, \r\n");
        assert!(matches!(e, CsvError::EmptyName { line: 2 }));
        let e = case("2027/1/1,元日\r\n2027/2/11,建国記念の日\r\n2027/01/01,元日\r\n");
        assert!(
            matches!(
                e,
                CsvError::Duplicate {
                    line: 4,
                    first_line: 2,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn header_and_encoding_errors() {
        assert_eq!(parse_syukujitsu_csv(b""), Err(CsvError::Empty));
        let e = parse_syukujitsu_csv(b"date,name\n2027/1/1,x\n").unwrap_err();
        assert!(matches!(e, CsvError::BadHeader { .. }));
        let mut bytes = sjis(&format!(
            "{SYUKUJITSU_HEADER}\r\n2027/1/1,元日\r\n2027/2/11,"
        ));
        bytes.extend_from_slice(&[0x82, 0xff, b'\r', b'\n']);
        let e = parse_syukujitsu_csv(&bytes).unwrap_err();
        assert_eq!(e, CsvError::Encoding { line: 3 });
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate a valid file byte by byte.
        let base = sjis(&format!("{SYUKUJITSU_HEADER}\r\n2027/1/1,元日\r\n"));
        for i in 0..base.len() {
            for b in [0u8, b',', b'/', b'\n', 0x81, 0xff, b'9'] {
                let mut m = base.clone();
                m[i] = b;
                let _ = parse_syukujitsu_csv(&m);
                m.truncate(i);
                let _ = parse_syukujitsu_csv(&m);
            }
        }
    }
}
