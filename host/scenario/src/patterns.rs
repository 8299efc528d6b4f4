//! The spelling rules of names and ids in a scenario document (the same
//! patterns as `schemas/scenario-v1.schema.json`, written out by hand so the
//! crate needs no regex engine).

/// Scenario names: `[a-z0-9][a-z0-9-]{0,63}`.
pub fn is_scenario_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Node, prompt and schedule ids: `[A-Za-z0-9_-]{1,64}`.
pub fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Plugin references `name@version`, as the plugin registry spells them:
/// name `[a-z0-9][a-z0-9_-]{0,63}`, version `[0-9][0-9A-Za-z.+-]{0,31}`.
pub fn is_plugin_ref(s: &str) -> bool {
    let Some((name, version)) = s.split_once('@') else {
        return false;
    };
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    let version_ok = (1..=32).contains(&version.len())
        && version.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'+' || b == b'-');
    name_ok && version_ok
}

/// Prompt files: a relative path that stays below the scenario's directory
/// (no leading `/` or `\`, no `..` component), so reading a document's
/// prompts can never reach files elsewhere.
pub fn is_relative_path(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.starts_with('\\')
        && !s.contains(':')
        && s.split(['/', '\\']).all(|part| part != "..")
}

/// Hex SHA-256 as the stores spell it: 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(is_scenario_name("zama-mynumber"));
        assert!(is_scenario_name("0"));
        assert!(!is_scenario_name("-zama"));
        assert!(!is_scenario_name("Zama"));
        assert!(!is_scenario_name("zama_mynumber"));
        assert!(!is_scenario_name(""));
        assert!(is_scenario_name(&"a".repeat(64)));
        assert!(!is_scenario_name(&"a".repeat(65)));

        assert!(is_id("menu-main_2"));
        assert!(is_id("-"));
        assert!(!is_id(""));
        assert!(!is_id("a.b"));
        assert!(!is_id("メニュー"));
        assert!(!is_id(&"a".repeat(65)));
    }

    #[test]
    fn plugin_references() {
        assert!(is_plugin_ref("menu@0.1.0"));
        assert!(is_plugin_ref("japan-calendar@1.0.0-rc.1+b2"));
        assert!(!is_plugin_ref("menu"));
        assert!(!is_plugin_ref("Menu@1"));
        assert!(!is_plugin_ref("menu@v1"));
        assert!(!is_plugin_ref("../x@1"));
        assert!(!is_plugin_ref("menu@1/.."));
    }

    #[test]
    fn paths_and_hashes() {
        assert!(is_relative_path("prompts/notice.wav"));
        assert!(is_relative_path("notice..wav"));
        assert!(!is_relative_path("/etc/passwd"));
        assert!(!is_relative_path("prompts/../../x.wav"));
        assert!(!is_relative_path("..\\x.wav"));
        assert!(!is_relative_path("C:x.wav"));
        assert!(!is_relative_path(""));
        assert!(is_sha256_hex(&"ab".repeat(32)));
        assert!(!is_sha256_hex(&"AB".repeat(32)));
        assert!(!is_sha256_hex(&"ab".repeat(31)));
    }
}
