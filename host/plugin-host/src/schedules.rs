//! Named schedules backed by schedule plugins: what the `schedules` import
//! of node plugins (e.g. `hours`) queries.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::bindings::types::ScheduleAnswer;
use crate::clock::unix_ms_to_local;
use crate::error::PluginError;
use crate::kind::PluginKind;
use crate::plugin::Plugin;
use crate::state::{CallContext, ScheduleSource};

/// Schedule name → (schedule plugin, its JSON config). Queries run the
/// plugin at the runtime's clock "now", in a store of their own with their
/// own deadline; a failing schedule plugin answers `Err`, which the node
/// routes on (`hours` takes its `on_error` route). The query runs inside
/// the node's call, on its thread, so its CPU time also counts against the
/// node's deadline: keep schedule configs small (a `japan-calendar` check
/// parses its JSON config each time, ~tens of µs).
#[derive(Default)]
pub struct PluginSchedules {
    map: RwLock<HashMap<String, (Plugin, Arc<str>)>>,
}

impl std::fmt::Debug for PluginSchedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .map
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("PluginSchedules")
            .field("names", &names)
            .finish()
    }
}

impl PluginSchedules {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace the schedule `name`.
    pub fn insert(&self, name: &str, plugin: Plugin, config: String) -> Result<(), PluginError> {
        if plugin.kind() != PluginKind::Schedule {
            return Err(PluginError::WrongKind {
                plugin: plugin.name().to_string(),
                expected: PluginKind::Schedule,
                found: plugin.kind(),
            });
        }
        if let Ok(mut m) = self.map.write() {
            m.insert(name.to_string(), (plugin, Arc::from(config)));
        }
        Ok(())
    }

    pub fn remove(&self, name: &str) {
        if let Ok(mut m) = self.map.write() {
            m.remove(name);
        }
    }
}

impl ScheduleSource for PluginSchedules {
    fn query(&self, schedule: &str, destination: &str) -> Result<ScheduleAnswer, String> {
        let (plugin, config) = self
            .map
            .read()
            .map_err(|_| "schedule table unavailable".to_string())?
            .get(schedule)
            .cloned()
            .ok_or_else(|| format!("no schedule named {schedule:?}"))?;
        let cfg = plugin.runtime().config();
        let now = unix_ms_to_local(cfg.clock.now_unix_ms(), cfg.utc_offset_secs);
        plugin
            .check_schedule(
                &CallContext::new(format!("schedule:{schedule}")),
                &config,
                destination,
                now,
            )
            .map_err(|e| e.to_string())
    }
}
