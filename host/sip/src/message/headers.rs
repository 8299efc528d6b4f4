//! Header fields kept in wire order, with case-insensitive names.
//!
//! Values are stored as text (folding already unfolded by the parser); typed
//! views (`Via`, `NameAddr`, `CSeq`, …) are parsed on demand by the accessors
//! in [`crate::message::typed`], so unknown or unusual headers pass through a
//! B2BUA untouched.

use std::fmt;

/// A header name in its canonical (long, conventional-case) form.
///
/// Compact forms (`v`, `f`, `t`, `i`, `m`, `l`, `c`, `k`, `s`, `e`, `o`, `r`, `u`, `x`, `y`)
/// are expanded when constructed, so lookups never need to know about them.
#[derive(Debug, Clone, Eq)]
pub struct HeaderName(String);

impl HeaderName {
    pub const VIA: &'static str = "Via";
    pub const FROM: &'static str = "From";
    pub const TO: &'static str = "To";
    pub const CALL_ID: &'static str = "Call-ID";
    pub const CSEQ: &'static str = "CSeq";
    pub const CONTACT: &'static str = "Contact";
    pub const MAX_FORWARDS: &'static str = "Max-Forwards";
    pub const CONTENT_LENGTH: &'static str = "Content-Length";
    pub const CONTENT_TYPE: &'static str = "Content-Type";
    pub const EXPIRES: &'static str = "Expires";
    pub const ROUTE: &'static str = "Route";
    pub const RECORD_ROUTE: &'static str = "Record-Route";
    pub const AUTHORIZATION: &'static str = "Authorization";
    pub const WWW_AUTHENTICATE: &'static str = "WWW-Authenticate";
    pub const PROXY_AUTHORIZATION: &'static str = "Proxy-Authorization";
    pub const PROXY_AUTHENTICATE: &'static str = "Proxy-Authenticate";
    pub const ALLOW: &'static str = "Allow";
    pub const SUPPORTED: &'static str = "Supported";
    pub const UNSUPPORTED: &'static str = "Unsupported";
    pub const REQUIRE: &'static str = "Require";
    pub const PROXY_REQUIRE: &'static str = "Proxy-Require";
    pub const ACCEPT: &'static str = "Accept";
    pub const USER_AGENT: &'static str = "User-Agent";
    pub const SERVER: &'static str = "Server";
    pub const RETRY_AFTER: &'static str = "Retry-After";
    pub const MIN_EXPIRES: &'static str = "Min-Expires";

    /// Builds a name, expanding compact forms and normalising the case of known names.
    pub fn new(name: &str) -> HeaderName {
        let canonical = match name.to_ascii_lowercase().as_str() {
            "v" | "via" => Self::VIA,
            "f" | "from" => Self::FROM,
            "t" | "to" => Self::TO,
            "i" | "call-id" => Self::CALL_ID,
            "cseq" => Self::CSEQ,
            "m" | "contact" => Self::CONTACT,
            "max-forwards" => Self::MAX_FORWARDS,
            "l" | "content-length" => Self::CONTENT_LENGTH,
            "c" | "content-type" => Self::CONTENT_TYPE,
            "e" | "content-encoding" => "Content-Encoding",
            "k" | "supported" => Self::SUPPORTED,
            "s" | "subject" => "Subject",
            "o" | "event" => "Event",
            "r" | "refer-to" => "Refer-To",
            "u" | "allow-events" => "Allow-Events",
            "x" | "session-expires" => "Session-Expires",
            "y" | "identity" => "Identity",
            "expires" => Self::EXPIRES,
            "route" => Self::ROUTE,
            "record-route" => Self::RECORD_ROUTE,
            "authorization" => Self::AUTHORIZATION,
            "www-authenticate" => Self::WWW_AUTHENTICATE,
            "proxy-authorization" => Self::PROXY_AUTHORIZATION,
            "proxy-authenticate" => Self::PROXY_AUTHENTICATE,
            "allow" => Self::ALLOW,
            "unsupported" => Self::UNSUPPORTED,
            "require" => Self::REQUIRE,
            "proxy-require" => Self::PROXY_REQUIRE,
            "accept" => Self::ACCEPT,
            "user-agent" => Self::USER_AGENT,
            "server" => Self::SERVER,
            "retry-after" => Self::RETRY_AFTER,
            "min-expires" => Self::MIN_EXPIRES,
            _ => return HeaderName(name.to_string()),
        };
        HeaderName(canonical.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Case-insensitive comparison with a (long-form) name.
    pub fn is(&self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One header field line (after unfolding). A comma-separated list may still be
/// inside `value`; typed accessors split it where the grammar allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

/// All header fields of a message, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Appends a field at the end.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push(Header {
            name: HeaderName::new(name),
            value: value.into(),
        });
    }

    /// Inserts a field before all others (e.g. a new top Via).
    pub fn push_front(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(
            0,
            Header {
                name: HeaderName::new(name),
                value: value.into(),
            },
        );
    }

    /// The first value of a header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.is(name))
            .map(|h| h.value.as_str())
    }

    /// Every field line of a header, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| h.name.is(name))
            .map(|h| h.value.as_str())
    }

    /// How many field lines of this header there are.
    pub fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|h| h.name.is(name)).count()
    }

    /// Removes every field of this header.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|h| !h.name.is(name));
    }

    /// Replaces every field of this header with one value (appended where the first one was,
    /// or at the end).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name.is(name)) {
            Some(pos) => {
                self.0[pos].value = value;
                let mut i = 0;
                self.0.retain(|h| {
                    let keep = i <= pos || !h.name.is(name);
                    i += 1;
                    keep
                });
            }
            None => self.push(name, value),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Header> {
        self.0.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes and returns the first field line of this header.
    pub fn remove_first(&mut self, name: &str) -> Option<String> {
        let pos = self.0.iter().position(|h| h.name.is(name))?;
        Some(self.0.remove(pos).value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_names_expand() {
        let mut h = Headers::new();
        h.push("v", "SIP/2.0/UDP a");
        h.push("i", "abc");
        h.push("l", "0");
        assert_eq!(h.get("Via"), Some("SIP/2.0/UDP a"));
        assert_eq!(h.get("call-id"), Some("abc"));
        assert_eq!(h.get("Content-Length"), Some("0"));
    }

    #[test]
    fn set_replaces_all_in_place() {
        let mut h = Headers::new();
        h.push("A", "1");
        h.push("Contact", "x");
        h.push("B", "2");
        h.push("Contact", "y");
        h.set("contact", "z");
        let names: Vec<_> = h.iter().map(|h| h.name.as_str().to_string()).collect();
        assert_eq!(names, ["A", "Contact", "B"]);
        assert_eq!(h.get("Contact"), Some("z"));
    }
}
