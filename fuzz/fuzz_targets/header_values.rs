//! Any text as a header value: the typed parsers must not panic, and what they accept must
//! print back to text that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use madoguchi_sip::message::ContactList;
use madoguchi_sip::parse::{
    parse_contact_list, parse_cseq, parse_name_addr, parse_name_addr_list, parse_uri,
    parse_via_list,
};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(u) = parse_uri(s) {
        assert_eq!(parse_uri(&u.to_string()).as_ref(), Ok(&u), "uri {s:?}");
    }
    if let Ok(vias) = parse_via_list(s) {
        for v in vias {
            assert_eq!(
                parse_via_list(&v.to_string()),
                Ok(vec![v.clone()]),
                "via {s:?}"
            );
        }
    }
    if let Ok(a) = parse_name_addr(s) {
        assert_eq!(
            parse_name_addr(&a.to_string()).as_ref(),
            Ok(&a),
            "name-addr {s:?}"
        );
    }
    if let Ok(list) = parse_name_addr_list(s) {
        for a in list {
            assert_eq!(
                parse_name_addr(&a.to_string()).as_ref(),
                Ok(&a),
                "list {s:?}"
            );
        }
    }
    if let Ok(ContactList::Addrs(list)) = parse_contact_list(s) {
        for a in list {
            assert_eq!(
                parse_name_addr(&a.to_string()).as_ref(),
                Ok(&a),
                "contact {s:?}"
            );
        }
    }
    if let Ok(c) = parse_cseq(s) {
        assert_eq!(parse_cseq(&c.to_string()).as_ref(), Ok(&c), "cseq {s:?}");
    }
});
