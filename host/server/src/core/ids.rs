//! Random identifiers for the requests and dialogs the server originates.

use rand::Rng;

fn hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// A Via branch with the RFC 3261 magic cookie.
pub fn branch() -> String {
    format!("z9hG4bK{}", hex(16))
}

/// A From/To tag.
pub fn tag() -> String {
    hex(12)
}

/// A Call-ID for a leg we originate.
pub fn call_id() -> String {
    format!("{}@madoguchi", hex(20))
}
