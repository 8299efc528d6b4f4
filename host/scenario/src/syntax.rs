//! Rule 1, the part a JSON value cannot show: keys given twice in one object.
//! JSON parsers keep only the last, so a copied node whose id was not changed
//! would silently replace the original; here it is an error with its path.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::problem::{index, join, Problem};

/// Appends an error for every duplicate key in `json` (which must already
/// have parsed as JSON; a syntax error here is ignored).
pub(crate) fn duplicate_keys(json: &[u8], out: &mut Vec<Problem>) {
    let mut de = serde_json::Deserializer::from_slice(json);
    let _ = Finder {
        path: String::new(),
        out,
    }
    .deserialize(&mut de);
}

struct Finder<'a> {
    path: String,
    out: &'a mut Vec<Problem>,
}

impl<'de> DeserializeSeed<'de> for Finder<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Finder<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let out = self.out;
        let mut i = 0;
        while seq
            .next_element_seed(Finder {
                path: index(&self.path, i),
                out: &mut *out,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.out;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            if !seen.insert(key.clone()) {
                let what = if self.path.is_empty() {
                    "the document".to_string()
                } else {
                    self.path.clone()
                };
                out.push(Problem::error(
                    &path,
                    format!("{key:?} is given more than once in {what}; only one definition may use a key"),
                ));
            }
            map.next_value_seed(Finder {
                path,
                out: &mut *out,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_duplicate_with_its_path() {
        let mut out = Vec::new();
        duplicate_keys(
            br#"{"nodes": {"a": {"exits": [{"x": 1, "x": 2}]}, "a": {}}, "name": "n"}"#,
            &mut out,
        );
        let paths: Vec<&str> = out.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, vec!["nodes.a.exits[0].x", "nodes.a"]);
        assert!(out[1]
            .message
            .contains("\"a\" is given more than once in nodes"));
    }

    #[test]
    fn no_duplicates_no_problems() {
        let mut out = Vec::new();
        duplicate_keys(
            br#"{"a": [1, 2.5, -3, null, true, "s", {"b": {}}]}"#,
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }
}
