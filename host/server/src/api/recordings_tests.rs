//! The recordings routes for every role, through the router over a real store and real WAV
//! files (see `tests.rs` for the fixture).

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use madoguchi_store::Role;
use serde_json::{json, Value};

use super::access_tests::{audit, bearer, send};
use super::tests::{fixture, Fixture};
use crate::core::media::{RecordingMeta, RECORDINGS_TABLE};
use crate::recordings::audio::wav_header;

/// 2027-01-04T10:15:00+09:00.
const T0: u64 = 1_799_025_300;

/// A stereo WAV of `frames` frames: left = i, right = -i.
fn stereo(frames: u32) -> Vec<u8> {
    let mut v = wav_header(2, frames * 4).to_vec();
    for i in 0..frames {
        let s = (i % 1000) as i16;
        v.extend_from_slice(&s.to_le_bytes());
        v.extend_from_slice(&(-s).to_le_bytes());
    }
    v
}

/// Stores recording `n` (file, metadata, index) and returns its id.
fn record(f: &Fixture, n: u64, caller: &str, callee: &str, did: &str) -> String {
    let dir = f.state.access.recordings_dir.clone().unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let start = T0 + n * 600;
    let id = format!("{start}-call{n}");
    let wav = stereo(8000 + n as u32);
    std::fs::write(dir.join(format!("{id}.wav")), &wav).unwrap();
    let meta = RecordingMeta {
        file_name: format!("{id}.wav"),
        call_id: format!("call{n}"),
        caller: caller.into(),
        callee: callee.into(),
        did: did.into(),
        started_unix: start,
        ended_unix: start + 1,
        duration_ms: 1000 + n,
        bytes: wav.len() as u64,
        sha256: format!("{n:064}"),
        complete: true,
        ..RecordingMeta::default()
    };
    f.store
        .put_json(RECORDINGS_TABLE, &meta.file_name, &meta)
        .unwrap();
    crate::recordings::index_recording(&f.store, &meta).unwrap();
    id
}

struct Tokens {
    all: Vec<(Role, String)>,
}

fn tokens(f: &Fixture) -> Tokens {
    let mut all = vec![
        (Role::Admin, f.admin.clone()),
        (Role::Operator, f.operator.clone()),
        (Role::Viewer, f.viewer.clone()),
    ];
    for (role, label) in [(Role::Supervisor, "sae"), (Role::Auditor, "aki")] {
        all.push((role, f.store.create_token(role, label, "t").unwrap().0));
    }
    Tokens { all }
}

async fn get(
    f: &Fixture,
    uri: &str,
    token: &str,
    extra: &[(&str, &str)],
) -> super::access_tests::Reply {
    let auth = bearer(token);
    let mut h = vec![("authorization", auth.as_str())];
    h.extend_from_slice(extra);
    send(f, Method::GET, uri, &h, Body::empty()).await
}

#[tokio::test]
async fn every_role_against_every_recording_and_audit_route() {
    let f = fixture();
    let id = record(&f, 1, "09012345678", "ivr:zama", "0462000000");
    let victim = record(&f, 2, "09012345678", "1001", "1001");
    let t = tokens(&f);
    for (role, token) in &t.all {
        let may_listen = matches!(role, Role::Admin | Role::Supervisor);
        let may_audit = matches!(role, Role::Admin | Role::Auditor);
        let cases: [(&str, bool); 5] = [
            ("/api/v1/recordings?caller=09012345678", true),
            (&format!("/api/v1/recordings/{id}"), true),
            (&format!("/api/v1/recordings/{id}/audio"), may_listen),
            (
                &format!("/api/v1/recordings/{id}/audio?mix=mono&download=1"),
                may_listen,
            ),
            ("/api/v1/audit", may_audit),
        ];
        for (uri, ok) in cases {
            let r = get(&f, uri, token, &[]).await;
            let want = if ok {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(r.status, want, "{role} GET {uri}");
        }
        // Deleting: admin only (tried on a recording the admin deletes last).
        if *role != Role::Admin {
            let r = send(
                &f,
                Method::DELETE,
                &format!("/api/v1/recordings/{victim}"),
                &[("authorization", &bearer(token))],
                json!({"reason": "test"}).to_string(),
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} DELETE");
        }
    }
    // Every refusal is audited under the refused actor, naming the route.
    let denied = audit(&f, "action=denied").await;
    let audio_refusals = denied
        .iter()
        .filter(|e| e["object"] == "route:GET /api/v1/recordings/{id}/audio")
        .count();
    assert_eq!(
        audio_refusals,
        2 * 3,
        "operator, auditor, viewer × 2 audio requests"
    );
    assert!(denied
        .iter()
        .any(|e| e["who"].as_str().unwrap().starts_with("aki")
            && e["detail"]["needs"] == "recordings-listen"));
    let listens = audit(&f, &format!("object={id}&action=recording.listen")).await;
    assert_eq!(listens.len(), 2, "admin and supervisor");
    let downloads = audit(&f, &format!("object={id}&action=recording.download")).await;
    assert_eq!(downloads.len(), 2);
    let r = send(
        &f,
        Method::DELETE,
        &format!("/api/v1/recordings/{victim}"),
        &[("authorization", &bearer(&f.admin))],
        json!({"reason": "保存期間の経過"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
}

#[tokio::test]
async fn search_filters_shape_and_paging() {
    let f = fixture();
    let ids: Vec<String> = (0..6)
        .map(|n| {
            let caller = if n % 2 == 0 {
                "09011112222"
            } else {
                "0311112222"
            };
            let (callee, did) = if n < 4 {
                ("ivr:zama", "0462000000")
            } else {
                ("1002", "1002")
            };
            record(&f, n, caller, callee, did)
        })
        .collect();
    let r = get(&f, "/api/v1/recordings?caller=09011112222", &f.viewer, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    let got: Vec<&str> = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [&ids[4], &ids[2], &ids[0]], "newest first");
    assert!(j["next"].is_null());
    let item = &j["items"][2];
    assert_eq!(item["start"], "2027-01-04T10:15:00+09:00");
    assert_eq!(item["call"], "/api/v1/calls/call0");
    assert_eq!(item["did"], "0462000000");
    assert_eq!(item["scenario"], "zama");
    assert_eq!(item["direction"], "inbound");
    for k in [
        "duration_ms",
        "callee",
        "user",
        "size",
        "sha256",
        "repaired",
        "call_id",
    ] {
        assert!(item.get(k).is_some(), "{k}");
    }
    // Internal calls name the user reached.
    let r = get(&f, "/api/v1/recordings?user=1002", &f.viewer, &[]).await;
    let j = r.json();
    assert_eq!(j["items"].as_array().unwrap().len(), 2);
    assert_eq!(j["items"][0]["direction"], "internal");
    let count = |uri: &'static str| {
        let f = &f;
        async move {
            let r = get(f, uri, &f.viewer, &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.json());
            r.json()["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("/api/v1/recordings?did=0462000000").await, 4);
    assert_eq!(
        count("/api/v1/recordings?from=2027-01-04&to=2027-01-04").await,
        6
    );
    assert_eq!(count("/api/v1/recordings?to=2027-01-03").await, 0);
    assert_eq!(
        count("/api/v1/recordings?from=2027-01-04T10:35:00%2B09:00&to=2027-01-04T10:55:00%2B09:00")
            .await,
        2
    );
    assert_eq!(
        count("/api/v1/recordings?scenario=zama&direction=inbound").await,
        4
    );
    assert_eq!(count("/api/v1/recordings?min_duration=2").await, 0);
    assert_eq!(
        count("/api/v1/recordings?complete=true&repaired=false").await,
        6
    );
    // Paging walks everything once.
    let mut seen = Vec::new();
    let mut uri = "/api/v1/recordings?limit=4".to_string();
    for _ in 0..5 {
        let j = get(&f, &uri, &f.viewer, &[]).await.json();
        seen.extend(
            j["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone()),
        );
        match j["next"].as_str() {
            Some(n) => uri = format!("/api/v1/recordings?limit=4&cursor={n}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    // Bad input is 400 naming the parameter.
    for bad in [
        "from=tomorrow",
        "complete=maybe",
        "cursor=zzz",
        "colour=red",
    ] {
        let r = get(&f, &format!("/api/v1/recordings?{bad}"), &f.viewer, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // Searches are audited.
    assert!(!audit(&f, "action=recording.search").await.is_empty());
}

#[tokio::test]
async fn audio_ranges_mono_names_and_unknown_ids() {
    let f = fixture();
    let id = record(&f, 3, "09012345678", "ivr:zama", "0462000000");
    let file = std::fs::read(
        f.state
            .access
            .recordings_dir
            .clone()
            .unwrap()
            .join(format!("{id}.wav")),
    )
    .unwrap();
    let admin = f.admin.clone();
    let uri = format!("/api/v1/recordings/{id}/audio");
    let r = get(&f, &uri, &admin, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, file);
    assert_eq!(r.headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(r.headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        r.headers[header::CONTENT_DISPOSITION],
        "inline; filename=\"20270104-104500_09012345678.wav\""
    );
    let r = get(&f, &uri, &admin, &[("range", "bytes=100-1099")]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, &file[100..1100]);
    assert_eq!(
        r.headers[header::CONTENT_RANGE],
        format!("bytes 100-1099/{}", file.len()).as_str()
    );
    let r = get(&f, &uri, &admin, &[("range", "bytes=-44")]).await;
    assert_eq!(r.body, &file[file.len() - 44..]);
    let past = format!("bytes={}-", file.len());
    let r = get(&f, &uri, &admin, &[("range", &past)]).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        r.headers[header::CONTENT_RANGE],
        format!("bytes */{}", file.len()).as_str()
    );
    // The mono mix: one channel, half the audio bytes, both sides averaged (here: silence).
    let r = get(&f, &format!("{uri}?mix=mono&download=1"), &admin, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), 44 + (file.len() - 44) / 2);
    assert_eq!(u16::from_le_bytes([r.body[22], r.body[23]]), 1);
    assert!(r.body[44..].iter().all(|b| *b == 0));
    assert_eq!(
        r.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"20270104-104500_09012345678_mono.wav\""
    );
    let r = get(&f, &format!("{uri}?mix=left"), &admin, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A player's seeking is one listen; a new play from the start is another.
    let before = audit(&f, &format!("object={id}&action=recording.listen"))
        .await
        .len();
    get(&f, &uri, &admin, &[("range", "bytes=5000-")]).await;
    assert_eq!(
        audit(&f, &format!("object={id}&action=recording.listen"))
            .await
            .len(),
        before
    );
    get(&f, &uri, &admin, &[("range", "bytes=0-")]).await;
    assert_eq!(
        audit(&f, &format!("object={id}&action=recording.listen"))
            .await
            .len(),
        before + 1
    );
    // Unknown ids are 404, for metadata, audio and deletion alike; bad ids too.
    for uri in [
        "/api/v1/recordings/1799025300-nothing",
        "/api/v1/recordings/1799025300-nothing/audio",
        "/api/v1/recordings/..%2Fmadoguchi.redb/audio",
    ] {
        assert_eq!(
            get(&f, uri, &admin, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
    // Metadata carries the call record (none here: the IVR did not store one).
    let r = get(&f, &format!("/api/v1/recordings/{id}"), &admin, &[]).await;
    assert!(r.json()["call_record"].is_null());
    assert_eq!(r.json()["id"], id.as_str());
}

#[tokio::test]
async fn delete_needs_a_reason_and_leaves_a_tombstone_in_the_audit_log() {
    let f = fixture();
    let id = record(&f, 4, "09012345678", "ivr:zama", "0462000000");
    let uri = format!("/api/v1/recordings/{id}");
    let del = |body: Value| {
        let f = &f;
        let uri = uri.clone();
        async move {
            send(
                f,
                Method::DELETE,
                &uri,
                &[("authorization", &bearer(&f.admin))],
                body.to_string(),
            )
            .await
        }
    };
    let r = del(json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("reason"));
    let r = del(json!({"reason": "  "})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = del(json!({"reason": "本人からの削除依頼"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["deleted"], id.as_str());
    let dir = f.state.access.recordings_dir.clone().unwrap();
    assert!(!dir.join(format!("{id}.wav")).exists());
    assert_eq!(
        get(&f, &uri, &f.admin, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        del(json!({"reason": "again"})).await.status,
        StatusCode::NOT_FOUND
    );
    let r = get(&f, "/api/v1/recordings?caller=09012345678", &f.admin, &[]).await;
    assert!(r.json()["items"].as_array().unwrap().is_empty());
    let e = &audit(&f, &format!("object={id}&action=recording.delete")).await[0];
    assert_eq!(e["detail"]["reason"], "本人からの削除依頼");
    assert!(e["who"].as_str().unwrap().starts_with("alice"));
    // A re-index does not bring it back.
    assert_eq!(crate::recordings::reindex(&f.store).unwrap(), 0);
}
