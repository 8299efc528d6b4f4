//! Console login, sessions, CSRF, throttling, roles and the audit log, through the router
//! over a real store (see `tests.rs` for the fixture).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use madoguchi_store::Role;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::tests::{fixture, Fixture};

pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// The `Set-Cookie` header of cookie `name`.
    pub fn set_cookie(&self, name: &str) -> String {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no Set-Cookie for {name}"))
    }
}

/// Sends a request with the given extra headers.
pub(super) async fn send(
    f: &Fixture,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = f
        .app
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub(super) fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// A logged-in console session: the cookie header value and the CSRF token.
pub(super) struct Login {
    pub cookie: String,
    pub csrf: String,
}

pub(super) async fn login(f: &Fixture, user: &str, password: &str) -> Login {
    let r = send(
        f,
        Method::POST,
        "/api/v1/login",
        &[],
        json!({"user": user, "password": password}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let set = r.set_cookie("madoguchi_session");
    let secret = set
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("madoguchi_session=")
        .to_string();
    Login {
        cookie: format!("madoguchi_session={secret}"),
        csrf: r.json()["csrf"].as_str().unwrap().to_string(),
    }
}

/// The audit entries (newest first), read with the admin token.
pub(super) async fn audit(f: &Fixture, query: &str) -> Vec<Value> {
    let r = send(
        f,
        Method::GET,
        &format!("/api/v1/audit?limit=1000&{query}"),
        &[("authorization", &bearer(&f.admin))],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    r.json()["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn login_session_csrf_and_logout() {
    let f = fixture();
    f.store
        .add_console_user("kanri", Role::Supervisor, "窓口のパスワード")
        .unwrap();
    // A wrong password is refused with a clear message, and audited.
    let r = send(
        &f,
        Method::POST,
        "/api/v1/login",
        &[],
        json!({"user": "kanri", "password": "wrong-pass"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("パスワードが違います"));
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    let failed = audit(&f, "action=login-failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["who"], "kanri");
    assert_eq!(failed[0]["source"], "in-process");

    // The right one: an HttpOnly SameSite=Strict session cookie, not Secure over plain HTTP.
    let r = send(
        &f,
        Method::POST,
        "/api/v1/login",
        &[],
        json!({"user": "kanri", "password": "窓口のパスワード"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let session = r.set_cookie("madoguchi_session");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    assert!(!session.contains("Secure"), "{session}");
    let csrf_cookie = r.set_cookie("madoguchi_csrf");
    assert!(!csrf_cookie.contains("HttpOnly"));
    let j = r.json();
    assert_eq!(j["role"], "supervisor");
    assert!(j["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("recordings-listen")));
    assert!(j["expires"].as_str().unwrap().ends_with("+09:00"));
    // Behind HTTPS the cookie is Secure.
    let r = send(
        &f,
        Method::POST,
        "/api/v1/login",
        &[("x-forwarded-proto", "https")],
        json!({"user": "kanri", "password": "窓口のパスワード"}).to_string(),
    )
    .await;
    assert!(r.set_cookie("madoguchi_session").contains("; Secure"));

    let s = login(&f, "kanri", "窓口のパスワード").await;
    let r = send(
        &f,
        Method::GET,
        "/api/v1/session",
        &[("cookie", &s.cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["user"], "kanri");
    assert_eq!(r.json()["csrf"], s.csrf.as_str());
    // Reads work with the cookie alone.
    let r = send(
        &f,
        Method::GET,
        "/api/v1/queues",
        &[("cookie", &s.cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // A change with the cookie but without the CSRF token is refused.
    let change = json!({"action": "login"}).to_string();
    let r = send(
        &f,
        Method::POST,
        "/api/v1/queues/members/1001",
        &[("cookie", &s.cookie)],
        change.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["error"].as_str().unwrap().contains("CSRF"));
    let r = send(
        &f,
        Method::POST,
        "/api/v1/queues/members/1001",
        &[("cookie", &s.cookie), ("x-csrf-token", "0000")],
        change.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With it, the request reaches the handler (the fake server has no queues: 409).
    let r = send(
        &f,
        Method::POST,
        "/api/v1/queues/members/1001",
        &[("cookie", &s.cookie), ("x-csrf-token", &s.csrf)],
        change,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json());
    // Logout needs the CSRF token too, then the cookie is dead.
    let r = send(
        &f,
        Method::POST,
        "/api/v1/logout",
        &[("cookie", &s.cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &f,
        Method::POST,
        "/api/v1/logout",
        &[("cookie", &s.cookie), ("x-csrf-token", &s.csrf)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.set_cookie("madoguchi_session").contains("Max-Age=0"));
    let r = send(
        &f,
        Method::GET,
        "/api/v1/session",
        &[("cookie", &s.cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["expired"], true);
    let actions: Vec<String> = audit(&f, "user=kanri")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "login").count(), 3);
    assert_eq!(actions[0], "logout");
    // A session idle for longer than the limit is refused (and removed); so is one older
    // than the absolute limit, however busy.
    for (idle, age) in [
        (super::auth::IDLE_MS + 1000, 0),
        (0, super::auth::ABSOLUTE_MS + 1000),
    ] {
        let s = login(&f, "kanri", "窓口のパスワード").await;
        let secret = s
            .cookie
            .trim_start_matches("madoguchi_session=")
            .to_string();
        let mut stale = f.store.session(&secret).unwrap().unwrap();
        stale.last_seen_unix_ms -= idle;
        stale.created_unix_ms -= age;
        f.store.save_session(&secret, &stale).unwrap();
        let r = send(
            &f,
            Method::GET,
            "/api/v1/session",
            &[("cookie", &s.cookie)],
            Body::empty(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "idle {idle} age {age}");
        assert_eq!(r.json()["expired"], true);
        assert!(f.store.session(&secret).unwrap().is_none());
    }
    // Disabling a user ends their sessions.
    let s = login(&f, "kanri", "窓口のパスワード").await;
    f.store
        .update_console_user("kanri", None, Some(true), None)
        .unwrap();
    let r = send(
        &f,
        Method::GET,
        "/api/v1/session",
        &[("cookie", &s.cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a disabled user's session ends"
    );
}

#[tokio::test(start_paused = true)]
async fn repeated_failures_slow_then_lock_the_source() {
    let f = fixture();
    f.store
        .add_console_user("kanri", Role::Admin, "the-right-one")
        .unwrap();
    let attempt = |pw: &'static str| {
        let f = &f;
        async move {
            send(
                f,
                Method::POST,
                "/api/v1/login",
                &[],
                json!({"user": "kanri", "password": pw}).to_string(),
            )
            .await
        }
    };
    for i in 0..super::throttle::LOCK_AFTER {
        let r = attempt("wrong-one").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Locked: even the right password is refused, with when to try again.
    let r = attempt("the-right-one").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json());
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    assert!(r.json()["retry_after_s"].as_u64().unwrap() > 60);
    assert_eq!(audit(&f, "action=login-locked").await.len(), 1);
    assert_eq!(
        audit(&f, "action=login-failed").await.len(),
        super::throttle::LOCK_AFTER as usize
    );
}

#[tokio::test]
async fn audit_log_needs_its_permission_and_refusals_are_audited() {
    let f = fixture();
    let auditor = f.store.create_token(Role::Auditor, "aki", "t").unwrap().0;
    let supervisor = f
        .store
        .create_token(Role::Supervisor, "sae", "t")
        .unwrap()
        .0;
    for (token, ok) in [
        (&f.admin, true),
        (&auditor, true),
        (&supervisor, false),
        (&f.operator, false),
        (&f.viewer, false),
    ] {
        let r = send(
            &f,
            Method::GET,
            "/api/v1/audit",
            &[("authorization", &bearer(token))],
            Body::empty(),
        )
        .await;
        let want = if ok {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(r.status, want, "{}", r.json());
    }
    let denied = audit(&f, "action=denied").await;
    assert_eq!(denied.len(), 3);
    assert!(denied
        .iter()
        .all(|e| e["object"] == "route:GET /api/v1/audit"));
    assert!(denied
        .iter()
        .any(|e| e["who"].as_str().unwrap().starts_with("victor")));
    assert_eq!(denied[0]["detail"]["needs"], "audit-read");
    // No route edits or deletes entries.
    for m in [Method::DELETE, Method::PUT, Method::PATCH, Method::POST] {
        let r = send(
            &f,
            m.clone(),
            "/api/v1/audit",
            &[("authorization", &bearer(&f.admin))],
            Body::empty(),
        )
        .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{m}");
    }
    // Filters: bad dates are 400 naming the parameter; paging walks everything.
    let r = send(
        &f,
        Method::GET,
        "/api/v1/audit?from=yesterday",
        &[("authorization", &bearer(&f.admin))],
        Body::empty(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("from="));
    let today = super::jst::format_ms(crate::core::unix_now_ms());
    let items = audit(&f, &format!("from={}&to={}", &today[..10], &today[..10])).await;
    assert_eq!(items.len(), 3);
    let r = send(
        &f,
        Method::GET,
        "/api/v1/audit?limit=2",
        &[("authorization", &bearer(&f.admin))],
        Body::empty(),
    )
    .await;
    let next = r.json()["next"].as_str().unwrap().to_string();
    let r = send(
        &f,
        Method::GET,
        &format!("/api/v1/audit?limit=2&cursor={next}"),
        &[("authorization", &bearer(&f.admin))],
        Body::empty(),
    )
    .await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    assert!(r.json()["next"].is_null());
}

#[tokio::test]
async fn changes_are_audited_with_who_and_why() {
    let f = fixture();
    let r = send(
        &f,
        Method::POST,
        "/api/v1/prompts/greeting?text=%E3%81%93%E3%82%93",
        &[("authorization", &bearer(&f.operator))],
        super::tests::wav(800),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let e = &audit(&f, "action=prompt.upload").await[0];
    assert_eq!(e["object"], "prompt:greeting");
    assert!(e["who"].as_str().unwrap().starts_with("olga ("));
    assert_eq!(e["detail"]["query"], "text=%E3%81%93%E3%82%93");
    // A refused change writes no change entry.
    let r = send(
        &f,
        Method::POST,
        "/api/v1/scenarios/none/publish",
        &[("authorization", &bearer(&f.admin))],
        json!({"version": 1, "why": "テスト"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(audit(&f, "action=scenario.").await.is_empty());
    // Console users through the API: admin only, passwords never in the log.
    let body =
        json!({"name": "sato", "role": "auditor", "password": "a-long-password"}).to_string();
    let r = send(
        &f,
        Method::POST,
        "/api/v1/console-users",
        &[("authorization", &bearer(&f.operator))],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &f,
        Method::POST,
        "/api/v1/console-users",
        &[("authorization", &bearer(&f.admin))],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let r = send(
        &f,
        Method::POST,
        "/api/v1/console-users",
        &[("authorization", &bearer(&f.admin))],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let s = login(&f, "sato", "a-long-password").await;
    let r = send(
        &f,
        Method::PATCH,
        "/api/v1/console-users/sato",
        &[("authorization", &bearer(&f.admin))],
        json!({"password": "another-password"}).to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let r = send(
        &f,
        Method::GET,
        "/api/v1/session",
        &[("cookie", &s.cookie)],
        Body::empty(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a new password ends old sessions"
    );
    let r = send(
        &f,
        Method::GET,
        "/api/v1/console-users",
        &[("authorization", &bearer(&f.admin))],
        Body::empty(),
    )
    .await;
    assert_eq!(r.json()["users"][0]["role"], "auditor");
    assert!(!String::from_utf8_lossy(&r.body).contains("argon2"));
    let log = String::from_utf8_lossy(
        &send(
            &f,
            Method::GET,
            "/api/v1/audit?limit=1000",
            &[("authorization", &bearer(&f.admin))],
            Body::empty(),
        )
        .await
        .body,
    )
    .to_string();
    assert!(log.contains("console-user.add") && log.contains("console-user.change"));
    assert!(!log.contains("a-long-password") && !log.contains("another-password"));
}
