//! `madoguchi scenario validate|upload|publish|rollback|list|show`: scenarios through a
//! running server's admin API (`--api`, default `http://127.0.0.1:8080`), authenticated
//! with `--token` or `MADOGUCHI_TOKEN` (see `madoguchi token create`).
//!
//! `upload FILE` first uploads the prompt files the document names (`prompts.ID.file`,
//! relative to the scenario file) through `POST /api/v1/prompts/ID`, then the document, so
//! one command ships a scenario and its audio. `validate FILE` sends only the document
//! unless `--with-prompts` is given (the prompts it names must then already be uploaded).
//! Problems are printed one per line (`error: nodes.main.exits[0]: …`); any error makes the
//! command exit non-zero.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    #[command(subcommand)]
    command: ScenarioCommand,
    /// Base URL of the server's admin API.
    #[arg(
        long,
        global = true,
        env = "MADOGUCHI_API",
        default_value = "http://127.0.0.1:8080"
    )]
    api: String,
    /// Bearer token (`madoguchi token create`); prefer the environment variable, which `ps`
    /// does not show.
    #[arg(long, global = true, env = "MADOGUCHI_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ScenarioCommand {
    /// Check a scenario file without storing it.
    Validate {
        file: PathBuf,
        /// Upload the prompt files the document names first (they are stored).
        #[arg(long)]
        with_prompts: bool,
    },
    /// Upload the prompt files a scenario names, then the scenario as a new version.
    Upload {
        file: PathBuf,
        /// Publish the new version at once.
        #[arg(long)]
        publish: bool,
        /// Why (recorded in the audit log).
        #[arg(long)]
        why: Option<String>,
    },
    /// Publish a stored version: new calls to its DIDs take it at once.
    Publish {
        name: String,
        version: u32,
        #[arg(long)]
        why: Option<String>,
    },
    /// Publish an earlier version again.
    Rollback {
        name: String,
        version: u32,
        #[arg(long)]
        why: Option<String>,
    },
    /// List scenarios with their live and latest versions.
    List,
    /// Show a scenario's versions and audit log (JSON).
    Show { name: String },
    #[command(flatten)]
    Plan(super::scenario_plan::PlanCommand),
}

pub fn run(args: ScenarioArgs) -> Result<()> {
    if let ScenarioCommand::Plan(cmd) = args.command {
        return super::scenario_plan::run(cmd, &args.api, args.token);
    }
    let client = Client::new(&args.api, args.token)?;
    match args.command {
        ScenarioCommand::Plan(_) => unreachable!("handled above"),
        ScenarioCommand::Validate { file, with_prompts } => {
            let doc = read(&file)?;
            if with_prompts {
                upload_prompts(&client, &file, &doc)?;
            }
            let answer = client.send("POST", "/scenarios/validate", &[], &doc, JSON)?;
            print_problems(&answer);
            println!("{}: valid", file.display());
        }
        ScenarioCommand::Upload { file, publish, why } => {
            let doc = read(&file)?;
            upload_prompts(&client, &file, &doc)?;
            let mut query = vec![];
            if publish {
                query.push(("publish", "true".to_string()));
            }
            if let Some(w) = why {
                query.push(("why", w));
            }
            let answer = client.send("POST", "/scenarios", &query, &doc, JSON)?;
            print_problems(&answer);
            let version = &answer["version"];
            let name = answer["name"].as_str().unwrap_or("?");
            if answer["published"].is_null() {
                println!("uploaded {name} version {version}");
            } else {
                println!("uploaded and published {name} version {version}");
            }
        }
        ScenarioCommand::Publish { name, version, why } => {
            let body = serde_json::json!({"version": version, "why": why.unwrap_or_default()});
            client.send(
                "POST",
                &format!("/scenarios/{name}/publish"),
                &[],
                body.to_string().as_bytes(),
                JSON,
            )?;
            println!("published {name} version {version}");
        }
        ScenarioCommand::Rollback { name, version, why } => {
            let body = serde_json::json!({"version": version, "why": why.unwrap_or_default()});
            client.send(
                "POST",
                &format!("/scenarios/{name}/rollback"),
                &[],
                body.to_string().as_bytes(),
                JSON,
            )?;
            println!("rolled {name} back to version {version}");
        }
        ScenarioCommand::List => {
            let answer = client.get("/scenarios")?;
            println!("{:<32}  {:>6}  {:>6}", "name", "live", "latest");
            for s in answer.as_array().map(Vec::as_slice).unwrap_or_default() {
                let n = |v: &Value| v.as_u64().map_or("-".to_string(), |n| n.to_string());
                println!(
                    "{:<32}  {:>6}  {:>6}",
                    s["name"].as_str().unwrap_or("?"),
                    n(&s["live"]),
                    n(&s["latest"])
                );
            }
        }
        ScenarioCommand::Show { name } => {
            let answer = client.get(&format!("/scenarios/{name}"))?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
        }
    }
    Ok(())
}

pub(crate) const JSON: &str = "application/json";

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// Uploads every prompt with a `file` (relative to the scenario file), before the document
/// that needs them. A document that is not JSON is left for the server to report.
fn upload_prompts(client: &Client, file: &Path, doc: &[u8]) -> Result<()> {
    let Ok(parsed) = serde_json::from_slice::<Value>(doc) else {
        return Ok(());
    };
    let Some(prompts) = parsed.get("prompts").and_then(Value::as_object) else {
        return Ok(());
    };
    let base = file.parent().unwrap_or(Path::new("."));
    for (id, def) in prompts {
        let Some(rel) = def.get("file").and_then(Value::as_str) else {
            continue;
        };
        let text = def.get("text").and_then(Value::as_str).unwrap_or_default();
        let path = base.join(rel);
        let wav = std::fs::read(&path)
            .with_context(|| format!("prompt {id}: cannot read {}", path.display()))?;
        client
            .send(
                "POST",
                &format!("/prompts/{id}"),
                &[("text", text.to_string())],
                &wav,
                "audio/wav",
            )
            .with_context(|| format!("prompt {id} ({})", path.display()))?;
        eprintln!("uploaded prompt {id} ({})", path.display());
    }
    Ok(())
}

/// Prints the `warnings` (or `problems`) of an answer one per line on stderr.
fn print_problems(answer: &Value) {
    for key in ["problems", "warnings"] {
        for p in answer[key]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            eprintln!("{}", problem_line(p));
        }
    }
}

fn problem_line(p: &Value) -> String {
    let severity = p["severity"].as_str().unwrap_or("error");
    let message = p["message"].as_str().unwrap_or("?");
    match p["path"].as_str().filter(|s| !s.is_empty()) {
        Some(path) => format!("{severity}: {path}: {message}"),
        None => format!("{severity}: {message}"),
    }
}

/// A blocking JSON client for `/api/v1`.
pub(crate) struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    pub(crate) fn new(api: &str, token: Option<String>) -> Result<Self> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            bail!("no token: pass --token or set MADOGUCHI_TOKEN (madoguchi token create --role admin)");
        };
        Ok(Client {
            base: format!("{}/api/v1", api.trim_end_matches('/')),
            token,
            agent: ureq::AgentBuilder::new()
                .timeout(std::time::Duration::from_secs(120))
                .build(),
        })
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value> {
        self.finish(path, self.request("GET", path).call())
    }

    /// `GET path?query` (values encoded).
    pub(crate) fn get_with(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        let mut req = self.request("GET", path);
        for (k, v) in query {
            req = req.query(k, v);
        }
        self.finish(path, req.call())
    }

    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: &[u8],
        content_type: &str,
    ) -> Result<Value> {
        let mut req = self.request(method, path).set("Content-Type", content_type);
        for (k, v) in query {
            req = req.query(k, v);
        }
        self.finish(path, req.send_bytes(body))
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        self.agent
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
    }

    /// The JSON answer, or an error carrying the server's message and problems (printed).
    fn finish(&self, path: &str, result: Result<ureq::Response, ureq::Error>) -> Result<Value> {
        match result {
            Ok(resp) => {
                let text = resp.into_string().context("reading the answer")?;
                Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
            }
            Err(ureq::Error::Status(code, resp)) => {
                let text = resp.into_string().unwrap_or_default();
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                // The problems go into the error, which is printed once (not also here).
                let problems: Vec<String> = ["problems", "warnings"]
                    .iter()
                    .flat_map(|k| answer[*k].as_array().cloned().unwrap_or_default())
                    .map(|p| problem_line(&p))
                    .collect();
                if !problems.is_empty() {
                    bail!("{path}: HTTP {code}:\n{}", problems.join("\n"))
                }
                let message = answer["error"]
                    .as_str()
                    .map_or(text.clone(), str::to_string);
                bail!("{path}: HTTP {code}: {message}")
            }
            Err(ureq::Error::Transport(t)) => {
                bail!("cannot reach the admin API at {}: {t} (is `madoguchi serve` running? see --api)", self.base)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::problem_line;

    #[test]
    fn problems_print_with_their_path() {
        let p = serde_json::json!({"severity": "error", "path": "nodes.main.exits[0]", "message": "no node \"x\""});
        assert_eq!(
            problem_line(&p),
            "error: nodes.main.exits[0]: no node \"x\""
        );
        let p = serde_json::json!({"severity": "warning", "path": "", "message": "m"});
        assert_eq!(problem_line(&p), "warning: m");
    }
}
