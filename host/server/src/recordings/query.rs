//! Recording search over the index: newest first, cursor paging, a bounded scan per call.

use redb::{TableDefinition, TableError};

use madoguchi_store::{Store, StoreError};

use super::{db, Indexed, BY_CALLER, BY_DID, BY_TIME, BY_USER};

/// Rows one search looks at before it answers with what it found and a cursor to go on.
const MAX_SCAN: usize = 100_000;

/// Search filters; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Started at or after (Unix s).
    pub from: Option<u64>,
    /// Started before (Unix s).
    pub to: Option<u64>,
    pub caller: Option<String>,
    pub did: Option<String>,
    pub user: Option<String>,
    pub scenario: Option<String>,
    pub direction: Option<String>,
    pub min_duration_ms: Option<u64>,
    pub complete: Option<bool>,
    pub repaired: Option<bool>,
    /// Only recordings before this one (the `next` of the previous page).
    pub before: Option<(u64, String)>,
    /// At most this many (at least 1).
    pub limit: usize,
}

/// One page of results, newest first.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Indexed>,
    /// Where the next page starts: everything strictly before this `(start_unix, id)`.
    pub next: Option<(u64, String)>,
}

impl Filter {
    fn matches(&self, r: &Indexed) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.caller, &r.caller)
            && eq(&self.did, &r.did)
            && self
                .user
                .as_deref()
                .is_none_or(|u| r.user.as_deref() == Some(u))
            && self
                .scenario
                .as_deref()
                .is_none_or(|s| r.scenario.as_deref() == Some(s))
            && eq(&self.direction, &r.direction)
            && self.min_duration_ms.is_none_or(|d| r.duration_ms >= d)
            && self.complete.is_none_or(|c| r.complete == c)
            && self.repaired.is_none_or(|c| r.repaired == c)
            && self.from.is_none_or(|f| r.start_unix >= f)
            && self.to.is_none_or(|t| r.start_unix < t)
    }

    /// The exclusive upper bound `(start, id)` of the scan.
    fn upper(&self) -> (u64, String) {
        let to = (self.to.unwrap_or(u64::MAX), String::new());
        match &self.before {
            Some(b) if *b < to => b.clone(),
            _ => to,
        }
    }
}

/// Recordings matching `f`, newest first.
pub fn search(store: &Store, f: &Filter) -> Result<Page, StoreError> {
    let tx = store.db().begin_read().map_err(db)?;
    let by_time = match tx.open_table(BY_TIME) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Page::default()),
        Err(e) => return Err(db(e)),
    };
    let limit = f.limit.max(1);
    let from = f.from.unwrap_or(0);
    let (hi_start, hi_id) = f.upper();
    let mut page = Page::default();
    if (from, "") >= (hi_start, hi_id.as_str()) {
        return Ok(page);
    }
    // The most selective secondary index the filters allow, else the time index itself.
    type Secondary = TableDefinition<'static, (&'static str, u64, &'static str), ()>;
    let secondary: Option<(Secondary, &str)> = [
        (BY_CALLER, f.caller.as_deref()),
        (BY_USER, f.user.as_deref()),
        (BY_DID, f.did.as_deref()),
    ]
    .into_iter()
    .find_map(|(t, v)| v.map(|v| (t, v)));
    // Returns false when the page is full (`next` then names its last row: the next page
    // is everything strictly before it).
    let take = |row: Indexed, page: &mut Page| -> bool {
        if !f.matches(&row) {
            return true;
        }
        if page.items.len() == limit {
            page.next = page.items.last().map(|r| (r.start_unix, r.id.clone()));
            return false;
        }
        page.items.push(row);
        true
    };
    let decode = |id: &str, bytes: &[u8]| -> Result<Indexed, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| super::codec(id, e))
    };
    match secondary {
        Some((table, value)) => {
            let t = match tx.open_table(table) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(page),
                Err(e) => return Err(db(e)),
            };
            let range = t
                .range((value, from, "")..(value, hi_start, hi_id.as_str()))
                .map_err(db)?;
            for (scanned, row) in range.rev().enumerate() {
                let (k, _) = row.map_err(db)?;
                let (_, start, id) = k.value();
                let Some(v) = by_time.get((start, id)).map_err(db)? else {
                    continue;
                };
                let r = decode(id, v.value())?;
                if !take(r, &mut page) {
                    break;
                }
                if scanned + 1 >= MAX_SCAN {
                    page.next = Some((start, id.to_string()));
                    break;
                }
            }
        }
        None => {
            let range = by_time
                .range((from, "")..(hi_start, hi_id.as_str()))
                .map_err(db)?;
            for (scanned, row) in range.rev().enumerate() {
                let (k, v) = row.map_err(db)?;
                let (start, id) = k.value();
                let r = decode(id, v.value())?;
                if !take(r, &mut page) {
                    break;
                }
                if scanned + 1 >= MAX_SCAN {
                    page.next = Some((start, id.to_string()));
                    break;
                }
            }
        }
    }
    Ok(page)
}

#[cfg(test)]
#[allow(clippy::manual_is_multiple_of)] // the fixtures read better with %
mod tests {
    use super::*;
    use crate::recordings::{get, put_many};

    fn row(i: u64) -> Indexed {
        Indexed {
            id: format!("{}-call{i}", 1_798_000_000 + i * 60),
            file_name: format!("{}-call{i}.wav", 1_798_000_000 + i * 60),
            call_id: format!("call{i}"),
            start_unix: 1_798_000_000 + i * 60,
            duration_ms: i * 1000,
            caller: format!("0901234{:04}", i % 10),
            callee: "ivr:zama".into(),
            did: if i % 2 == 0 {
                "0462000000"
            } else {
                "0462000001"
            }
            .into(),
            user: (i % 3 == 0).then(|| "1001".to_string()),
            scenario: Some("zama".into()),
            direction: "inbound".into(),
            size: 44 + i,
            sha256: format!("{i:064}"),
            complete: i % 5 != 0,
            repaired: i % 10 == 0,
            problems: vec![],
        }
    }

    fn all(store: &Store, mut f: Filter) -> Vec<u64> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            let p = search(store, &f).unwrap();
            out.extend(p.items.iter().map(|r| (r.start_unix - 1_798_000_000) / 60));
            match p.next {
                Some(n) => f.before = Some(n),
                None => return out,
            }
        }
        panic!("paging did not end")
    }

    #[test]
    fn filters_indexes_and_paging() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(search(&store, &Filter::default()).unwrap().items.is_empty());
        let rows: Vec<Indexed> = (0..100).map(row).collect();
        put_many(&store, &rows).unwrap();
        let f = |limit| Filter {
            limit,
            ..Default::default()
        };
        assert_eq!(all(&store, f(7)), (0..100).rev().collect::<Vec<_>>());
        let by_caller = all(
            &store,
            Filter {
                caller: Some("09012340003".into()),
                ..f(3)
            },
        );
        assert_eq!(
            by_caller,
            (0..100).rev().filter(|i| i % 10 == 3).collect::<Vec<_>>()
        );
        // Two indexed filters and two plain ones together.
        let mixed = all(
            &store,
            Filter {
                user: Some("1001".into()),
                did: Some("0462000000".into()),
                complete: Some(true),
                min_duration_ms: Some(50_000),
                ..f(2)
            },
        );
        let want: Vec<u64> = (50..100)
            .rev()
            .filter(|i| i % 3 == 0 && i % 2 == 0 && i % 5 != 0)
            .collect();
        assert_eq!(mixed, want);
        let window = all(
            &store,
            Filter {
                from: Some(1_798_000_000 + 10 * 60),
                to: Some(1_798_000_000 + 20 * 60),
                repaired: Some(false),
                ..f(4)
            },
        );
        assert_eq!(window, (11..20).rev().collect::<Vec<_>>());
        assert!(all(
            &store,
            Filter {
                caller: Some("nobody".into()),
                ..f(4)
            }
        )
        .is_empty());
        // Re-indexing a row with a new caller moves it between index entries.
        let mut r = row(42);
        r.caller = "0311112222".into();
        put_many(&store, &[r]).unwrap();
        assert_eq!(
            all(
                &store,
                Filter {
                    caller: Some("0311112222".into()),
                    ..f(4)
                }
            ),
            vec![42]
        );
        assert!(!all(
            &store,
            Filter {
                caller: Some("09012340002".into()),
                ..f(50)
            }
        )
        .contains(&42));
        assert_eq!(
            get(&store, &row(42).id).unwrap().unwrap().caller,
            "0311112222"
        );
    }
}
