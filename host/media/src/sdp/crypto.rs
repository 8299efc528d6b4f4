//! SDES (RFC 4568): the `a=crypto` attribute that carries SRTP keys in SDP, for desk phones
//! that offer `RTP/SAVP`. Keys travel in the SIP signalling, so SDES is only as private as
//! the signalling: use it over `tls:` (RFC 4568 §8.3).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::parse::MediaDescription;

/// SRTP crypto suites we accept, in our order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum CryptoSuite {
    /// AES-128 counter mode, 80-bit HMAC-SHA1 tag (RFC 4568's mandatory suite).
    AesCm128HmacSha1_80,
    /// The same with a 32-bit tag.
    AesCm128HmacSha1_32,
}

impl CryptoSuite {
    /// Preferred first.
    pub const ALL: [CryptoSuite; 2] = [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn from_name(s: &str) -> Option<CryptoSuite> {
        CryptoSuite::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
    }
}

/// Master key (16 bytes) followed by master salt (14 bytes), as `inline:` carries it.
pub const KEY_SALT_LEN: usize = 30;

/// One side's SRTP master key and salt.
pub type KeySalt = [u8; KEY_SALT_LEN];

/// What both sides agreed for an SRTP stream: the suite, the key we encrypt with (ours, sent
/// in our SDP) and the key we decrypt with (theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpParams {
    pub suite: CryptoSuite,
    pub tag: u32,
    pub local: KeySalt,
    pub remote: KeySalt,
}

/// Whether a leg must use SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// Plain RTP or SDES-SRTP, whichever the phone offers; our own offers are plain.
    #[default]
    Optional,
    /// SDES-SRTP only: a plain offer is refused (SIP 488) and our offers are `RTP/SAVP`.
    Required,
}

/// One `a=crypto` line we can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttr {
    pub tag: u32,
    pub suite: CryptoSuite,
    pub key: KeySalt,
}

impl CryptoAttr {
    /// `a=crypto:<tag> <suite> inline:<key||salt>[|lifetime][|MKI:len] [params]`. None for a
    /// suite we do not support, an MKI (RFC 4568 §6.1: we use one key), session parameters,
    /// or a key of the wrong size.
    pub fn parse(value: &str) -> Option<CryptoAttr> {
        let mut parts = value.split_ascii_whitespace();
        let tag: u32 = parts.next()?.parse().ok()?;
        let suite = CryptoSuite::from_name(parts.next()?)?;
        let key_params = parts.next()?;
        if parts.next().is_some() {
            // Session parameters (UNENCRYPTED_SRTP, KDR=, …): not supported, skip the line.
            return None;
        }
        // One key only (several `;`-separated keys would need MKIs).
        if key_params.contains(';') {
            return None;
        }
        let inline = key_params.strip_prefix("inline:")?;
        let mut fields = inline.split('|');
        let key_b64 = fields.next()?;
        for f in fields {
            if f.contains(':') {
                return None; // MKI
            }
        }
        let raw = STANDARD.decode(key_b64).ok()?;
        let key: KeySalt = raw.try_into().ok()?;
        Some(CryptoAttr { tag, suite, key })
    }

    /// The attribute value we send.
    pub fn to_value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite.name(),
            STANDARD.encode(self.key)
        )
    }
}

/// A fresh random master key and salt.
pub fn new_key() -> KeySalt {
    rand::random()
}

/// Whether a media line's transport profile is secure RTP (`RTP/SAVP`, `RTP/SAVPF`).
pub fn is_savp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/SAVP") || proto.eq_ignore_ascii_case("RTP/SAVPF")
}

/// The usable `a=crypto` lines of a media section, in the offerer's order.
pub fn crypto_attrs(m: &MediaDescription) -> Vec<CryptoAttr> {
    m.attributes
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("crypto"))
        .filter_map(|a| CryptoAttr::parse(a.value.as_deref()?))
        .collect()
}

/// The offer's line to answer: our most preferred suite among those offered, the first
/// line of it.
pub fn choose(offered: &[CryptoAttr]) -> Option<&CryptoAttr> {
    CryptoSuite::ALL
        .into_iter()
        .find_map(|s| offered.iter().find(|c| c.suite == s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc4568_example_and_round_trips() {
        // RFC 4568 §4's example, with a lifetime.
        let v = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
        let c = CryptoAttr::parse(v).unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, CryptoSuite::AesCm128HmacSha1_80);
        let again = CryptoAttr::parse(&c.to_value()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn refuses_what_we_cannot_use() {
        let k = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        assert!(CryptoAttr::parse(&format!("1 AES_256_CM_HMAC_SHA1_80 inline:{k}")).is_none());
        assert!(
            CryptoAttr::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}|2^20|1:4")).is_none()
        );
        assert!(CryptoAttr::parse(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{k} UNENCRYPTED_SRTP"
        ))
        .is_none());
        assert!(CryptoAttr::parse("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=").is_none());
        assert!(CryptoAttr::parse("x AES_CM_128_HMAC_SHA1_80 inline:{k}").is_none());
    }

    #[test]
    fn prefers_the_80_bit_tag() {
        let k = new_key();
        let a = CryptoAttr {
            tag: 1,
            suite: CryptoSuite::AesCm128HmacSha1_32,
            key: k,
        };
        let b = CryptoAttr {
            tag: 2,
            suite: CryptoSuite::AesCm128HmacSha1_80,
            key: k,
        };
        let offered = [a, b.clone()];
        assert_eq!(choose(&offered), Some(&b));
    }
}
