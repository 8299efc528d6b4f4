//! Which plugin world a component implements, read from its exports.

use wasmtime::component::Component;
use wasmtime::Engine;

use crate::error::LoadError;

/// The version of `madoguchi:ivr` this host implements.
pub const WIT_VERSION: &str = "0.1.0";
const PACKAGE: &str = "madoguchi:ivr/";

/// The three plugin kinds, one per WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// World `ivr-node`, exports `node-api`.
    Node = 0,
    /// World `schedule`, exports `schedule-api`.
    Schedule = 1,
    /// World `recording-policy`, exports `recording-api`.
    Recording = 2,
}

impl PluginKind {
    /// The WIT world name.
    pub fn world(self) -> &'static str {
        match self {
            Self::Node => "ivr-node",
            Self::Schedule => "schedule",
            Self::Recording => "recording-policy",
        }
    }
    /// The exported interface's name within the package.
    pub fn interface(self) -> &'static str {
        match self {
            Self::Node => "node-api",
            Self::Schedule => "schedule-api",
            Self::Recording => "recording-api",
        }
    }
    fn from_interface(name: &str) -> Option<Self> {
        [Self::Node, Self::Schedule, Self::Recording]
            .into_iter()
            .find(|k| k.interface() == name)
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.world())
    }
}

/// Semver compatibility as Cargo reads it: same major, and for 0.x the same minor.
fn compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split(['.', '-', '+']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(version), parse(WIT_VERSION)) {
        (Some((ma, mi)), Some((hma, hmi))) => ma == hma && (ma != 0 || mi == hmi),
        _ => false,
    }
}

/// Find the one plugin world the component exports, at a compatible version.
pub(crate) fn detect_kind(engine: &Engine, component: &Component) -> Result<PluginKind, LoadError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let mut found = Vec::new();
    for name in &exports {
        let Some(rest) = name.strip_prefix(PACKAGE) else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let Some(kind) = PluginKind::from_interface(iface) else {
            continue;
        };
        if !compatible(version) {
            return Err(LoadError::IncompatibleVersion {
                export: name.clone(),
            });
        }
        found.push((kind, name.clone()));
    }
    match found.len() {
        0 => Err(LoadError::UnknownWorld { exports }),
        1 => Ok(found[0].0),
        _ => Err(LoadError::MultipleWorlds {
            exports: found.into_iter().map(|(_, n)| n).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_compatibility() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.1.0"));
        assert!(!compatible(""));
    }
}
