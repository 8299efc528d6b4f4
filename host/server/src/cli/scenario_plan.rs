//! `madoguchi scenario test-plan|simulate|test|analytics`: acceptance test plans generated
//! from a scenario, what a caller would hear at a time, the plan run live over SIP, and how
//! callers went through the menus.
//!
//! `test-plan FILE` works offline with the plugin components of `--plugins` (default
//! `target/plugins`, where `scripts/build-plugins` puts the built-in ones); `test-plan NAME`
//! asks the server for its live version's plan, made with the server's own plugins.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Subcommand, ValueEnum};

use super::scenario::Client;
use crate::ivr::plan::branch::Lang;
use crate::ivr::plan::render;
use crate::ivr::plan::sim::SimScenario;
use crate::ivr::plan::{self, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    Ja,
    En,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::Ja => Lang::Ja,
            LangArg::En => Lang::En,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// The acceptance test sheet of a scenario: one row per path, covering every branch.
    TestPlan {
        /// A scenario file, or the name of a scenario on the server (its live version).
        file_or_name: String,
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        #[arg(long, value_enum, default_value = "ja")]
        lang: LangArg,
        /// The first day rows may run at (YYYY-MM-DD; default today in Japan).
        #[arg(long)]
        from: Option<String>,
        /// With a name: that stored version instead of the live one.
        #[arg(long)]
        version: Option<u32>,
        /// With a file: the directory of plugin components (`NAME.wasm`).
        #[arg(long, default_value = "target/plugins")]
        plugins: PathBuf,
        /// Write the sheet here instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// What a caller would hear at a time, for given keys, without placing a call.
    Simulate {
        name: String,
        /// RFC 3339, e.g. 2027-01-06T10:00:00+09:00.
        #[arg(long)]
        at: String,
        /// One input per menu, comma-separated (`-` = silence); silence after them.
        #[arg(long, default_value = "")]
        keys: String,
        /// How each transfer ends, in order: answered, busy, no-answer, failed (default
        /// answered).
        #[arg(long, default_value = "")]
        transfers: String,
        #[arg(long, value_enum, default_value = "ja")]
        lang: LangArg,
        /// Print the JSON answer instead.
        #[arg(long)]
        json: bool,
    },
    /// How callers went through a scenario's menus in a period, from the call records.
    Analytics {
        name: String,
        /// First day (YYYY-MM-DD, Japan time) or an RFC 3339 instant; default today.
        #[arg(long)]
        from: Option<String>,
        /// Last day (included) or an RFC 3339 instant (excluded); default the day of --from.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "ja")]
        lang: LangArg,
        /// Print the JSON answer instead.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: PlanCommand, api: &str, token: Option<String>) -> Result<()> {
    match cmd {
        PlanCommand::TestPlan {
            file_or_name,
            format,
            lang,
            from,
            version,
            plugins,
            out,
        } => {
            let from = match &from {
                Some(f) => plan::parse_date(f).map_err(|e| anyhow!("--from: {e}"))?,
                None => plan::today(madoguchi_plugin_host::clock::JST_OFFSET_SECS),
            };
            let p = if std::path::Path::new(&file_or_name).is_file() {
                local_plan(&PathBuf::from(&file_or_name), &plugins, from)?
            } else if madoguchi_scenario::is_scenario_name(&file_or_name) {
                server_plan(api, token, &file_or_name, version, from)?
            } else {
                bail!("{file_or_name:?} is neither a scenario file nor a scenario name");
            };
            let text = match format {
                Format::Md => render::markdown(&p, lang.into(), None),
                Format::Csv => render::csv(&p, lang.into(), None),
                Format::Json => render::json(&p, None),
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
            eprintln!("{}", render::coverage_line(&p, lang.into(), None));
            for f in p.unreachable.iter().chain(&p.problems) {
                eprintln!("warning: {}: {}", f.path, f.message);
            }
        }
        PlanCommand::Simulate {
            name,
            at,
            keys,
            transfers,
            lang,
            json,
        } => {
            let client = Client::new(api, token)?;
            let answer = client.get_with(
                &format!("/scenarios/{name}/simulate"),
                &[("at", at), ("keys", keys), ("transfers", transfers)],
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print!("{}", simulation_text(&answer, lang.into()));
            }
        }
        PlanCommand::Analytics {
            name,
            from,
            to,
            lang,
            json,
        } => {
            let client = Client::new(api, token)?;
            let mut q = Vec::new();
            if let Some(f) = from {
                q.push(("from", f));
            }
            if let Some(t) = to {
                q.push(("to", t));
            }
            let answer = client.get_with(&format!("/scenarios/{name}/analytics"), &q)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print!("{}", analytics_text(&answer, lang.into()));
            }
        }
    }
    Ok(())
}

/// The analytics report as text tables.
fn analytics_text(v: &serde_json::Value, lang: Lang) -> String {
    let ja = lang == Lang::Ja;
    let n = |x: &serde_json::Value| x.as_u64().unwrap_or(0);
    let mut s = format!(
        "{} {}  {} – {}  {} {}\n\n",
        if ja { "シナリオ" } else { "scenario" },
        v["scenario"].as_str().unwrap_or_default(),
        v["from"].as_str().unwrap_or_default(),
        v["to"].as_str().unwrap_or_default(),
        if ja { "通話数" } else { "calls" },
        n(&v["calls"]),
    );
    let head = if ja {
        ["ノード", "到達", "通話", "キー別", "無効", "無入力", "切断"]
    } else {
        [
            "node", "reached", "calls", "keys", "invalid", "no input", "hung up",
        ]
    };
    s.push_str(&format!(
        "| {} |\n|{}\n",
        head.join(" | "),
        "---|".repeat(head.len())
    ));
    for (node, st) in v["nodes"].as_object().into_iter().flatten() {
        let keys: Vec<String> = st["keys"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, c)| format!("{k}:{}", n(c)))
            .collect();
        s.push_str(&format!(
            "| {node} | {} | {} | {} | {} | {} | {} |\n",
            n(&st["reached"]),
            n(&st["calls"]),
            keys.join(" "),
            n(&st["invalid"]),
            n(&st["no_input"]),
            n(&st["hung_up"]),
        ));
    }
    let head = if ja {
        ["転送先", "着信", "応答", "話中", "無応答", "失敗", "放棄"]
    } else {
        [
            "destination",
            "offered",
            "answered",
            "busy",
            "no answer",
            "failed",
            "abandoned",
        ]
    };
    s.push_str(&format!(
        "\n| {} |\n|{}\n",
        head.join(" | "),
        "---|".repeat(head.len())
    ));
    for (d, st) in v["destinations"].as_object().into_iter().flatten() {
        s.push_str(&format!(
            "| {d} | {} | {} | {} | {} | {} | {} |\n",
            n(&st["offered"]),
            n(&st["answered"]),
            n(&st["busy"]),
            n(&st["no_answer"]),
            n(&st["failed"]),
            n(&st["abandoned"]),
        ));
    }
    s.push_str(if ja {
        "\n終了のしかた:\n"
    } else {
        "\nendings:\n"
    });
    for e in v["funnel"]["endings"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "  {}  {} ({} %)\n",
            e["ending"].as_str().unwrap_or_default(),
            n(&e["calls"]),
            e["percent"]
        ));
    }
    s
}

/// The plan of a scenario file, with plugins from `plugins`.
pub fn local_plan(
    file: &std::path::Path,
    plugins: &std::path::Path,
    from: time::Date,
) -> Result<Plan> {
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let doc: madoguchi_scenario::Scenario = serde_json::from_slice(&raw)
        .with_context(|| format!("{} is not a scenario document", file.display()))?;
    let resolve = plan::dir_resolver(plugins.to_path_buf()).map_err(|e| anyhow!(e))?;
    let sc = SimScenario::new(doc, &resolve).map_err(|e| anyhow!(e))?;
    Ok(plan::build(&sc, None, from))
}

/// The plan of the server's live (or given) version.
pub fn server_plan(
    api: &str,
    token: Option<String>,
    name: &str,
    version: Option<u32>,
    from: time::Date,
) -> Result<Plan> {
    let client = Client::new(api, token)?;
    let mut q = vec![("from", from.to_string())];
    if let Some(v) = version {
        q.push(("version", v.to_string()));
    }
    let answer = client.get_with(&format!("/scenarios/{name}/test-plan"), &q)?;
    serde_json::from_value(answer).context("the server's plan is not readable")
}

/// A simulation as text: the path, the prompts with their words, the ending.
fn simulation_text(v: &serde_json::Value, lang: Lang) -> String {
    let ja = lang == Lang::Ja;
    let mut s = String::new();
    let at = v["at"].as_str().unwrap_or_default();
    s.push_str(&format!(
        "{} {} v{} @ {}\n",
        if ja { "シナリオ" } else { "scenario" },
        v["scenario"].as_str().unwrap_or_default(),
        v["version"],
        render::when(at, lang)
    ));
    let path: Vec<&str> = v["path"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .collect();
    s.push_str(&format!(
        "{}: {}\n",
        if ja { "経路" } else { "path" },
        path.join(" → ")
    ));
    if let Ok(steps) = serde_json::from_value::<Vec<plan::sim::Stimulus>>(v["steps"].clone()) {
        let steps: Vec<String> = steps
            .iter()
            .map(|st| render::step_label(st, lang))
            .collect();
        s.push_str(&format!(
            "{}: {}\n",
            if ja { "操作" } else { "inputs" },
            steps.join(" → ")
        ));
    }
    for q in v["schedule"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "{}: {}/{} = {} {}\n",
            if ja { "受付時間" } else { "schedule" },
            q["schedule"].as_str().unwrap_or_default(),
            q["destination"].as_str().unwrap_or_default(),
            q["status"].as_str().unwrap_or_default(),
            q["name"].as_str().unwrap_or_default()
        ));
    }
    s.push_str(if ja {
        "聞こえる案内:\n"
    } else {
        "the caller hears:\n"
    });
    for (i, p) in v["prompts"].as_array().into_iter().flatten().enumerate() {
        s.push_str(&format!(
            "  {}. [{}] {}\n",
            i + 1,
            p["prompt"].as_str().unwrap_or_default(),
            p["text"].as_str().unwrap_or_default()
        ));
    }
    if let Ok(e) = serde_json::from_value::<plan::Ending>(v["ending"].clone()) {
        s.push_str(&format!(
            "{}: {}\n",
            if ja { "結果" } else { "ending" },
            e.label(lang)
        ));
    }
    if let Some(e) = v["error"].as_str() {
        s.push_str(&format!("error: {e}\n"));
    }
    s
}
