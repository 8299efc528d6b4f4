//! What validation reports: problems with a JSON path, and the report that
//! refuses an upload.

use std::fmt;

use serde::Serialize;

/// Whether a problem blocks the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the upload.
    Error,
    /// Reported, but the document is accepted (unreachable nodes).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding, located by its JSON path (`nodes.main.exits[2]`; empty for
/// the whole document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Where in the document: keys joined by `.`, array indexes as `[i]`.
    pub path: String,
    /// What is wrong, naming the node, field or prompt.
    pub message: String,
}

impl Problem {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Warning,
            path: path.into(),
            message: message.into(),
        }
    }

    /// Whether this problem blocks the upload.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.severity, self.message)
        } else {
            write!(f, "{}: {}: {}", self.severity, self.path, self.message)
        }
    }
}

/// Why a document was refused: every problem found (at least one error),
/// warnings included, in the order the rules are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// All problems, errors and warnings.
    pub problems: Vec<Problem>,
}

impl Report {
    /// The problems that block the upload.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    /// The problem at exactly `path`, if any (tests, UIs highlighting a field).
    pub fn at(&self, path: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.path == path)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// Builds paths the way [`Problem::path`] spells them.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_prints_one_problem_per_line() {
        let r = Report {
            problems: vec![
                Problem::error("nodes.main.exits[2]", "no node \"x\""),
                Problem::warning("nodes.old", "unreachable"),
                Problem::error("", "not JSON"),
            ],
        };
        assert_eq!(
            r.to_string(),
            "error: nodes.main.exits[2]: no node \"x\"\nwarning: nodes.old: unreachable\nerror: not JSON"
        );
        assert_eq!(r.errors().count(), 2);
        assert!(r.at("nodes.old").is_some());
        assert_eq!(join("", "nodes"), "nodes");
        assert_eq!(index(&join("nodes.a", "exits"), 1), "nodes.a.exits[1]");
    }
}
