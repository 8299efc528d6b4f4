//! Start-up of the IVR side of the server: the plugin runtime (with the test clock when
//! asked), the plugin registry, the scenario and prompt stores, and the [`Ivr`] table; plus
//! installing a scenario bundle from disk (the demo's Zama scenario) and the hooks the admin
//! API calls into.

use std::path::Path;
use std::sync::{Arc, Mutex};

use madoguchi_acd::{Acd, QueueConfig};

use anyhow::{anyhow, bail, Context, Result};
use madoguchi_plugin_host::clock::{Clock, FixedClock, SystemClock};
use madoguchi_plugin_host::{Registry, RegistryError, Runtime, RuntimeConfig};
use madoguchi_scenario::{validate, PromptStore, ScenarioStore};
use madoguchi_store::Store;
use tracing::{info, warn};

use super::Ivr;
use crate::api::{ApiHooks, ApiState, RegistryEnv};
use crate::core::queue_history::restore_presences;

/// The version given to plugins installed from a directory (the demo's bundled plugins).
pub const BUNDLED_PLUGIN_VERSION: &str = "0.1.0";

/// The IVR's parts, shared by the SIP core and the admin API.
pub struct IvrParts {
    pub ivr: Arc<Ivr>,
    pub registry: Arc<Registry>,
    pub scenarios: Arc<ScenarioStore>,
    pub prompts: Arc<PromptStore>,
    /// Set when the server runs on a test clock (`--clock`).
    pub test_clock: Option<Arc<FixedClock>>,
    /// The data directory (recordings are in its `recordings/`).
    pub data_dir: std::path::PathBuf,
    /// Every published scenario went live at start (its plugins loaded): `/ready`.
    pub ready: bool,
}

/// Parses `2027-01-04T10:00:00+09:00` to Unix milliseconds.
pub fn parse_instant(s: &str) -> Result<u64, String> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
        format!("{s:?} is not an RFC 3339 time such as 2027-01-04T10:00:00+09:00: {e}")
    })?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| format!("{s:?} is before 1970"))
}

impl IvrParts {
    /// Opens everything under `data_dir`, with compiled plugins kept in `plugin_cache`;
    /// `clock` (RFC 3339) puts the server on a test clock.
    pub fn open(
        store: &Store,
        data_dir: &Path,
        plugin_cache: &Path,
        clock: Option<&str>,
    ) -> Result<IvrParts> {
        let test_clock = match clock {
            Some(c) => Some(Arc::new(FixedClock::new(
                parse_instant(c).map_err(|e| anyhow!("--clock: {e}"))?,
            ))),
            None => None,
        };
        let clock: Arc<dyn Clock> = match &test_clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        // Compiled plugins are kept by SHA-256, so a restart loads them instead of compiling.
        let runtime = Runtime::new(RuntimeConfig {
            clock,
            // Only start-up time depends on it: an unusable directory is a warning.
            cache_dir: open_dir(plugin_cache)
                .map_err(|e| tracing::warn!("no compiled-plugin cache: {e:#}"))
                .ok(),
            ..RuntimeConfig::default()
        })
        .context("cannot start the plugin runtime")?;
        let plugins_dir = open_dir(&data_dir.join("plugins"))?;
        let prompts_dir = open_dir(&data_dir.join("prompts"))?;
        let registry = Arc::new(
            Registry::open(runtime, store.shared_db(), plugins_dir)
                .context("cannot open the plugin registry")?,
        );
        let scenarios =
            Arc::new(ScenarioStore::open(store).context("cannot open the scenario store")?);
        let prompts = Arc::new(
            PromptStore::open(store, prompts_dir).context("cannot open the prompt store")?,
        );
        let ivr = Arc::new(Ivr::new(
            scenarios.clone(),
            prompts.clone(),
            registry.clone(),
        ));
        Ok(IvrParts {
            ivr,
            registry,
            scenarios,
            prompts,
            test_clock,
            data_dir: data_dir.to_path_buf(),
            ready: false,
        })
    }

    /// Uploads every `NAME.wasm` of `dir` as `NAME@0.1.0` (already stored: kept as is).
    pub fn install_plugins(&self, dir: &Path) -> Result<usize> {
        let mut n = 0;
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the plugin directory {}", dir.display()))?;
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("wasm") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if name.starts_with("guest-") {
                continue; // test guests
            }
            let bytes = std::fs::read(&path)?;
            match self
                .registry
                .upload(name, BUNDLED_PLUGIN_VERSION, &bytes, None)
            {
                Ok(_) => n += 1,
                Err(RegistryError::Exists { reference }) => {
                    warn!(plugin = %reference, "a different build of this plugin version is stored; keeping the stored one");
                }
                Err(e) => bail!("plugin {}: {e}", path.display()),
            }
        }
        Ok(n)
    }

    /// Uploads a scenario bundle (the document and the prompt files it names) and
    /// publishes it unless the same document is already live.
    pub fn install_scenario(&self, file: &Path, who: &str) -> Result<()> {
        let raw = std::fs::read(file)
            .with_context(|| format!("cannot read the scenario {}", file.display()))?;
        let doc: madoguchi_scenario::Scenario = serde_json::from_slice(&raw)
            .with_context(|| format!("{} is not a scenario document", file.display()))?;
        let base = file.parent().unwrap_or(Path::new("."));
        for (id, p) in &doc.prompts {
            let Some(rel) = &p.file else { continue };
            let path = base.join(rel);
            let wav = std::fs::read(&path)
                .with_context(|| format!("prompt {id}: cannot read {}", path.display()))?;
            let same = self.prompts.get(id)?.is_some_and(|old| {
                old.text == p.text && old.sha256 == madoguchi_plugin_host::sha256_hex(&wav)
            });
            if !same {
                self.prompts
                    .upload(id, &wav, &p.text, who)
                    .with_context(|| format!("prompt {id} ({})", path.display()))?;
            }
        }
        let env = RegistryEnv::new(&self.registry, &self.prompts);
        let validated = validate(&raw, &env)
            .map_err(|report| anyhow!("{} is not a valid scenario:\n{report}", file.display()))?;
        for w in &validated.warnings {
            warn!(scenario = %doc.name, "{w}");
        }
        let live = self.scenarios.live(&doc.name)?;
        if let Some(live) = &live {
            if let Some(stored) = self.scenarios.get(&doc.name, live.version)? {
                if stored.document.as_bytes() == raw.as_slice() {
                    info!(scenario = %doc.name, version = live.version, "scenario already live");
                    return Ok(());
                }
            }
        }
        let meta = self
            .scenarios
            .upload(&validated, &raw, who, "installed from disk")?;
        self.scenarios
            .publish(&doc.name, meta.version, who, "installed from disk")?;
        info!(scenario = %doc.name, version = meta.version, "scenario published");
        Ok(())
    }

    /// The admin API's state over these parts and the queues.
    pub fn api_state(&self, store: Store, queues: QueueHandle) -> ApiState {
        ApiState {
            store,
            plugins: self.registry.clone(),
            scenarios: self.scenarios.clone(),
            prompts: self.prompts.clone(),
            hooks: Arc::new(Hooks {
                ivr: self.ivr.clone(),
                test_clock: self.test_clock.clone(),
                queues,
            }),
            live_changes: Arc::default(),
            access: Arc::new(crate::api::Access::new(Some(
                self.data_dir.join("recordings"),
            ))),
            trace: None,
            live: None,
        }
    }
}

fn open_dir(path: &Path) -> Result<cap_std::fs::Dir> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority())
        .with_context(|| format!("cannot open {}", path.display()))
}

/// The queues as the admin API reaches them: the machine, and the SIP core to wake after
/// a change.
#[derive(Clone, Default)]
pub struct QueueHandle {
    pub acd: Arc<Mutex<Acd>>,
    pub kick: Arc<tokio::sync::Notify>,
}

/// Builds the queues from the configuration: each checked (members are users, the fallback
/// resolves); members get back the log-in and pause they had (new members log in).
pub fn build_queues(queues: &[QueueConfig], store: &Store) -> Result<QueueHandle> {
    let mut acd = Acd::new();
    let now = std::time::Instant::now();
    for q in queues {
        let user_exists = |u: &str| store.get_user(u).ok().flatten().is_some();
        let route_exists = |r: &str| r == QUEUE_FALLBACK_TO_SCENARIO;
        if let Err(problems) = q.validate(&user_exists, &route_exists) {
            bail!("queue {}: {}", q.name, problems.join("; "));
        }
        acd.configure(q.clone(), now)
            .map_err(|e| anyhow!("queue {}: {e}", q.name))?;
        info!(queue = %q.name, members = ?q.members, strategy = ?q.strategy, "call queue ready");
    }
    // Staff stay logged out or on their break across a restart; the rest log in.
    restore_presences(&mut acd, store, now).context("cannot read the queue members' presences")?;
    Ok(QueueHandle {
        acd: Arc::new(Mutex::new(acd)),
        kick: Arc::new(tokio::sync::Notify::new()),
    })
}

/// The one fallback route there is today: back to the scenario, whose transfer node takes
/// its `no_answer` route (e.g. the call center).
pub const QUEUE_FALLBACK_TO_SCENARIO: &str = "scenario";

/// What the admin API reaches in the running server.
struct Hooks {
    ivr: Arc<Ivr>,
    test_clock: Option<Arc<FixedClock>>,
    queues: QueueHandle,
}

impl ApiHooks for Hooks {
    fn published(&self, name: &str) {
        if let Err(e) = self.ivr.refresh() {
            warn!(scenario = name, error = %e, "published version not taken live");
        }
    }

    fn set_clock(&self, rfc3339: &str) -> Result<(), String> {
        let clock = self
            .test_clock
            .as_ref()
            .ok_or("the server is not on a test clock (start it with --clock)")?;
        clock.set(parse_instant(rfc3339)?);
        info!(at = rfc3339, "test clock set");
        Ok(())
    }

    fn queues(&self) -> serde_json::Value {
        let acd = self.queues.acd.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let queues: Vec<serde_json::Value> = acd
            .queue_names()
            .map(|name| {
                let stats = acd.period_stats(name);
                serde_json::json!({
                    "name": name,
                    "live": acd.snapshot(name, now),
                    "period": stats,
                    "service_level": stats.and_then(|s| s.service_level()),
                    "average_wait_ms": stats.and_then(|s| s.average_wait_ms()),
                    "average_talk_ms": stats.and_then(|s| s.average_talk_ms()),
                    "average_abandon_wait_ms": stats.and_then(|s| s.average_abandon_wait_ms()),
                })
            })
            .collect();
        serde_json::json!({ "queues": queues })
    }

    fn queue_member(
        &self,
        member: &str,
        action: &str,
        reason: Option<&str>,
    ) -> Result<serde_json::Value, String> {
        let now = std::time::Instant::now();
        let state = {
            let mut acd = self.queues.acd.lock().unwrap_or_else(|p| p.into_inner());
            match action {
                "login" => acd.member_login(member, now),
                "logout" => acd.member_logout(member, now),
                "pause" => acd.member_pause(member, reason.unwrap_or("API"), now),
                "unpause" => acd.member_unpause(member, now),
                other => {
                    return Err(format!(
                        "unknown action {other:?}: login, logout, pause or unpause"
                    ))
                }
            }
            .map_err(|e| e.to_string())?;
            acd.member_state(member)
        };
        // The core drains what the change set off (offers to a member now available).
        self.queues.kick.notify_one();
        info!(member, action, "queue member changed through the API");
        Ok(serde_json::json!({ "member": member, "state": state }))
    }

    fn live_calls(&self) -> serde_json::Value {
        serde_json::json!({
            "scenarios": self.ivr.live().into_iter().map(|(did, name, version)| {
                serde_json::json!({"did": did, "scenario": name, "version": version})
            }).collect::<Vec<_>>(),
        })
    }
}
