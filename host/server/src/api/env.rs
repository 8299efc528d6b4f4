//! What scenario validation checks a document against: the uploaded plugins (exists, right
//! kind, `validate-config` accepts the node's config) and the uploaded prompts.
//!
//! The API's upload and the server's startup (re-checking stored versions) use this same
//! type, so a version that validated at upload means the same thing at boot.

use madoguchi_plugin_host::{CallContext, PluginError, PluginKind, Registry, RegistryError};
use madoguchi_scenario::{Environment, PromptInfo, PromptStore};

/// [`Environment`] over the plugin [`Registry`] and the [`PromptStore`]. Calls plugin code
/// (`validate-config`) and may compile components: use it off the async executor.
#[derive(Debug, Clone, Copy)]
pub struct RegistryEnv<'a> {
    pub plugins: &'a Registry,
    pub prompts: &'a PromptStore,
}

impl<'a> RegistryEnv<'a> {
    pub fn new(plugins: &'a Registry, prompts: &'a PromptStore) -> Self {
        RegistryEnv { plugins, prompts }
    }
}

/// The plugin host's kind for the scenario crate's (the scenario crate does not depend on
/// the plugin host).
pub fn host_kind(kind: madoguchi_scenario::PluginKind) -> PluginKind {
    match kind {
        madoguchi_scenario::PluginKind::Node => PluginKind::Node,
        madoguchi_scenario::PluginKind::Schedule => PluginKind::Schedule,
        madoguchi_scenario::PluginKind::RecordingPolicy => PluginKind::Recording,
    }
}

impl Environment for RegistryEnv<'_> {
    fn check_plugin(
        &self,
        reference: &str,
        kind: madoguchi_scenario::PluginKind,
        config: &str,
    ) -> Result<(), String> {
        let plugin = self.plugins.get(reference).map_err(|e| match e {
            RegistryError::NotFound { .. } => {
                "not uploaded (upload it first: POST /api/v1/plugins/NAME/VERSION)".to_string()
            }
            other => other.to_string(),
        })?;
        let want = host_kind(kind);
        if plugin.kind() != want {
            return Err(format!(
                "is a {} plugin; this needs a {want} plugin",
                plugin.kind()
            ));
        }
        match plugin.validate_config(&CallContext::new("validate-config"), config) {
            Ok(()) => Ok(()),
            Err(PluginError::Failed { message, .. }) => {
                Err(format!("the plugin rejected the config: {message}"))
            }
            Err(other) => Err(format!("the plugin could not check the config: {other}")),
        }
    }

    fn prompt(&self, id: &str) -> Option<PromptInfo> {
        match self.prompts.get(id) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(prompt = id, "cannot read prompt: {e}");
                None
            }
        }
    }
}
