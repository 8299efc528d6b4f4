//! DID spelling: the pattern a document may use, and the canonical form under
//! which DIDs are bound, so `+81462000000` and `0462000000` (the same Japanese
//! number, international and national format) are one binding.

/// Digits with an optional leading `+`, 2–20 digits.
pub fn is_valid_did(did: &str) -> bool {
    let digits = did.strip_prefix('+').unwrap_or(did);
    (2..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The key a DID is bound under: `+81X…` becomes the national `0X…`; any
/// other spelling is kept as written.
pub fn canonical_did(did: &str) -> String {
    match did.strip_prefix("+81") {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
            format!("0{rest}")
        }
        _ => did.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern() {
        assert!(is_valid_did("0462000000"));
        assert!(is_valid_did("+81462000000"));
        assert!(is_valid_did("12"));
        assert!(!is_valid_did("1"));
        assert!(!is_valid_did("+"));
        assert!(!is_valid_did("046-200-0000"));
        assert!(!is_valid_did("++81462000000"));
        assert!(!is_valid_did(&"1".repeat(21)));
        assert!(is_valid_did(&format!("+{}", "1".repeat(20))));
    }

    #[test]
    fn japanese_numbers_have_one_canonical_form() {
        assert_eq!(canonical_did("+81462000000"), "0462000000");
        assert_eq!(canonical_did("0462000000"), "0462000000");
        assert_eq!(canonical_did("+14155550100"), "+14155550100");
        assert_eq!(canonical_did("81462000000"), "81462000000");
        assert_eq!(canonical_did("+81"), "+81");
    }
}
