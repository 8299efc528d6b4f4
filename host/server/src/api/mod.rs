//! The admin REST API under `/api/v1`: scenarios, plugins, prompts, call records, recordings,
//! the audit log and the test-mode clock, behind bearer tokens (`madoguchi token create`) or
//! a console session (`POST /api/v1/login`).
//!
//! [`router`] builds the routes over an [`ApiState`]; `serve` merges it next to
//! `/api/v1/health` (which stays open, without a token, for load balancers). The server's
//! live parts the API reaches into (the IVR picking up a newly published version, the clock
//! in test mode, the calls in progress) are behind [`ApiHooks`], so the API is tested with a
//! fake and never depends on the SIP core.
//!
//! Work that runs plugin code or compiles components (validation, plugin upload) runs on
//! tokio's blocking pool, so an upload never stalls SIP traffic on the executor.

#[cfg(test)]
mod access_tests;
pub mod audit;
pub mod auth;
mod calendar;
mod calls;
mod console_users;
pub mod demo;
pub mod env;
pub(crate) mod error;
pub mod jst;
pub mod openapi;
mod plugins;
mod prompts;
mod queues;
mod recordings;
#[cfg(test)]
mod recordings_tests;
mod scenario_analytics;
mod scenario_plan;
mod scenarios;
pub mod session;
mod test_clock;
#[cfg(test)]
mod tests;
mod throttle;
mod users;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
use axum::Router;
use madoguchi_plugin_host::Registry;
use madoguchi_scenario::{PromptStore, ScenarioStore};
use madoguchi_store::Store;

pub use env::RegistryEnv;
pub use session::Access;

/// Largest request body: a plugin component or a prompt recording.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// What the API needs from the running server. Implemented by the server core; tests use a
/// fake.
pub trait ApiHooks: Send + Sync {
    /// A version of scenario `name` was published or rolled back to: new calls should take
    /// the now-live version. Called on tokio's blocking pool, so it may load plugins.
    fn published(&self, name: &str);
    /// Test mode only: sets the clock schedules and plugins see, to an RFC 3339 instant.
    /// `Err` (with the reason) when the server is not in test mode or `rfc3339` is bad.
    fn set_clock(&self, rfc3339: &str) -> Result<(), String>;
    /// The calls in progress, as the server describes them (returned as-is).
    fn live_calls(&self) -> serde_json::Value;
    /// Every call queue: live snapshot and period statistics.
    fn queues(&self) -> serde_json::Value {
        serde_json::json!({ "queues": [] })
    }
    /// A member logs in, out, pauses or unpauses (`action`); `Err` names why not.
    fn queue_member(
        &self,
        _member: &str,
        _action: &str,
        _reason: Option<&str>,
    ) -> Result<serde_json::Value, String> {
        Err("this server has no call queues".into())
    }
}

/// Everything the handlers reach. Cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct ApiState {
    /// Tokens and call records live here.
    pub store: Store,
    /// Uploaded plugins.
    pub plugins: Arc<Registry>,
    /// Scenario versions, the live version of each, and the audit log.
    pub scenarios: Arc<ScenarioStore>,
    /// Prompt audio.
    pub prompts: Arc<PromptStore>,
    /// The running server.
    pub hooks: Arc<dyn ApiHooks>,
    /// Held while a version goes live and while a plugin is removed, so that a removal
    /// never slips between a version's check and its publish.
    pub live_changes: Arc<std::sync::Mutex<()>>,
    /// Console sessions' throttling and the recordings directory.
    pub access: Arc<Access>,
    /// The SIP trace of recent calls (`GET /calls/{call_id}/sip`); `None` in API tests.
    pub trace: Option<Arc<crate::observe::trace::SipTrace>>,
    /// The calls in progress (`GET /calls/live`); `None` in API tests.
    pub live: Option<Arc<crate::core::call_log::LiveCalls>>,
}

impl ApiState {
    /// Serialises going live and plugin removal (a poisoned lock is still a lock).
    pub fn lock_live_changes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.live_changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `/api/v1` routes except `/api/v1/health`, all behind bearer-token auth.
///
/// | method | path | role |
/// |---|---|---|
/// | POST | `/scenarios/validate` | operator |
/// | POST | `/scenarios[?publish=true&why=…]` | admin |
/// | GET | `/scenarios`, `/scenarios/{name}`, `/scenarios/{name}/versions/{v}` | viewer |
/// | POST | `/scenarios/{name}/publish`, `/scenarios/{name}/rollback` | admin |
/// | GET | `/scenarios/{name}/calendar?month=YYYY-MM[&version=N]` (days of each schedule destination) | viewer |
/// | GET | `/users` (staff extensions and their registered devices) | viewer |
/// | GET | `/scenarios/{name}/test-plan?version&from`, `/scenarios/{name}/simulate?at&keys&transfers` | viewer |
/// | GET | `/scenarios/{name}/analytics?from=DATE&to=DATE` | viewer |
/// | POST, DELETE | `/plugins/{name}/{version}` | admin |
/// | GET | `/plugins`, `/plugins/{name}/{version}` | viewer |
/// | POST | `/prompts/{id}?text=…` (raw WAV body) | operator |
/// | GET | `/prompts`, `/prompts/{id}`, `/prompts/{id}/audio` | viewer |
/// | GET | `/calls?limit=N&before=KEY`, `/calls/live`, `/calls/{call_id}`, `/calls/{call_id}/sip` | viewer |
/// | PUT | `/test/clock` | admin |
/// | GET | `/queues`, `/queues/{name}/history?from=DATE&to=DATE&interval=hour\|day\|all` | viewer |
/// | POST | `/queues/members/{user}` (`{"action": "login"\|"logout"\|"pause"\|"unpause", "reason"}`) | operator |
/// | POST | `/login` (no auth), `/logout` | - |
/// | GET | `/session` | any |
/// | GET | `/audit?from&to&user&action&object&limit&cursor` | audit-read |
/// | GET, POST, PATCH | `/console-users`, `/console-users/{name}` | admin |
/// | GET | `/recordings?from&to&caller&did&user&scenario&direction&min_duration&complete&repaired`, `/recordings/{id}` | recordings-read |
/// | GET | `/recordings/{id}/audio[?mix=mono&download=1]` (Range) | recordings-listen |
/// | DELETE | `/recordings/{id}` (`{"reason"}`) | recordings-delete |
///
/// The permission each route needs is decided in one place, `auth::required`; the roles
/// and what they may do are `madoguchi_store::Role::can`.
/// | GET | `/trunks`, `/trunks/{name}` (state, never the password) | viewer |
/// | PUT, DELETE | `/trunks/{name}` (the `[[trunk]]` keys as JSON) | admin |
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/scenarios/validate", post(scenarios::validate))
        .route("/scenarios", post(scenarios::upload).get(scenarios::list))
        .route("/scenarios/{name}", get(scenarios::show))
        .route(
            "/scenarios/{name}/versions/{version}",
            get(scenarios::document),
        )
        .route("/scenarios/{name}/publish", post(scenarios::publish))
        .route("/scenarios/{name}/rollback", post(scenarios::rollback))
        .route("/scenarios/{name}/calendar", get(calendar::month))
        .route("/users", get(users::list))
        .route("/scenarios/{name}/test-plan", get(scenario_plan::test_plan))
        .route("/scenarios/{name}/simulate", get(scenario_plan::simulate))
        .route(
            "/scenarios/{name}/analytics",
            get(scenario_analytics::analytics),
        )
        .route("/plugins", get(plugins::list))
        .route(
            "/plugins/{name}/{version}",
            post(plugins::upload)
                .get(plugins::meta)
                .delete(plugins::remove),
        )
        .route("/prompts", get(prompts::list))
        .route("/prompts/{id}", post(prompts::upload).get(prompts::meta))
        .route("/prompts/{id}/audio", get(prompts::audio))
        .route("/calls", get(calls::list))
        .route("/calls/live", get(calls::live))
        .route("/calls/{call_id}", get(calls::one))
        .route("/calls/{call_id}/sip", get(calls::sip_trace))
        .route("/test/clock", put(test_clock::set))
        .route("/queues", get(queues::list))
        .route("/queues/members/{user}", post(queues::member))
        .route("/queues/{name}/history", get(queues::history))
        .route("/logout", post(session::logout))
        .route("/session", get(session::show))
        .route("/audit", get(audit::list))
        .route("/recordings", get(recordings::list))
        .route(
            "/recordings/{id}",
            get(recordings::show).delete(recordings::delete),
        )
        .route("/recordings/{id}/audio", get(recordings::audio))
        .route(
            "/console-users",
            get(console_users::list).post(console_users::add),
        )
        .route("/console-users/{name}", patch(console_users::change))
        .route("/trunks", get(crate::trunks::api::list))
        .route(
            "/trunks/{name}",
            get(crate::trunks::api::one)
                .put(crate::trunks::api::put)
                .delete(crate::trunks::api::remove),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::audit_changes,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ));
    // Routes without authentication.
    let public = Router::new()
        .route("/login", post(session::login))
        .route("/openapi.json", get(openapi::serve));
    let api = api
        .merge(public)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    Router::new().nest("/api/v1", api)
}
