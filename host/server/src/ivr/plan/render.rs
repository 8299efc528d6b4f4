//! The test sheet in the layout of a Japanese acceptance test sheet (No., 試験項目, 実施日時,
//! 操作, 期待結果, 結果, 確認者): Markdown, CSV (UTF-8 with BOM, for Excel) or JSON; Japanese
//! or English. `scenario test` fills 結果 and 確認者.

use std::collections::HashMap;

use super::branch::{Lang, Trigger};
use super::sim::{Stimulus, TransferOutcome};
use super::{Plan, Row};

/// The outcome of one row run live.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RowResult {
    pub pass: bool,
    /// The call to look up (`GET /api/v1/calls/{call_id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// What differed, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// Who checked (the tester column).
    pub checked_by: String,
}

struct Texts {
    title: &'static str,
    header: [&'static str; 7],
    branches: &'static str,
    rows: &'static str,
    unreachable: &'static str,
    problems: &'static str,
    none: &'static str,
}

const JA: Texts = Texts {
    title: "受入試験項目書",
    header: [
        "No.",
        "試験項目",
        "実施日時",
        "操作",
        "期待結果",
        "結果",
        "確認者",
    ],
    branches: "分岐",
    rows: "試験項目数",
    unreachable: "到達できない分岐",
    problems: "問題",
    none: "なし",
};

const EN: Texts = Texts {
    title: "Acceptance test sheet",
    header: [
        "No.",
        "Test item",
        "Date and time",
        "Operation (keys)",
        "Expected result",
        "Result",
        "Checked by",
    ],
    branches: "Branches",
    rows: "Rows",
    unreachable: "Unreachable branches",
    problems: "Problems",
    none: "none",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Ja => &JA,
        Lang::En => &EN,
    }
}

/// The summary line: how many branches, and how many the rows cover.
pub fn coverage_line(plan: &Plan, lang: Lang, passed: Option<usize>) -> String {
    let n = plan.branches.len();
    let pct = plan.coverage_percent();
    let mut s = match lang {
        Lang::Ja => format!(
            "分岐 {n} 件、試験項目 {} 件。すべての分岐を網羅（網羅率 {pct:.0} %）",
            plan.rows.len()
        ),
        Lang::En => format!(
            "{n} branches, {} rows; the rows cover every branch ({pct:.0} % branch coverage)",
            plan.rows.len()
        ),
    };
    if pct < 100.0 {
        s = match lang {
            Lang::Ja => format!(
                "分岐 {n} 件、試験項目 {} 件。網羅率 {pct:.1} %",
                plan.rows.len()
            ),
            Lang::En => format!(
                "{n} branches, {} rows; {pct:.1} % branch coverage",
                plan.rows.len()
            ),
        };
    }
    if let Some(p) = passed {
        s.push_str(&match lang {
            Lang::Ja => format!("。合格 {p} / {} 件", plan.rows.len()),
            Lang::En => format!("; {p} of {} rows passed", plan.rows.len()),
        });
    }
    s
}

/// `2027-01-06 (水) 10:00`.
pub fn when(at: &str, lang: Lang) -> String {
    let Ok(t) = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
    else {
        return at.to_string();
    };
    let wd = t.weekday().number_days_from_monday() as usize;
    let day = match lang {
        Lang::Ja => ["月", "火", "水", "木", "金", "土", "日"][wd],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][wd],
    };
    format!(
        "{:04}-{:02}-{:02} ({day}) {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

pub fn step_label(s: &Stimulus, lang: Lang) -> String {
    let ja = lang == Lang::Ja;
    match s {
        Stimulus::Keys { keys } => keys.clone(),
        Stimulus::NoInput => (if ja { "(無入力)" } else { "(no input)" }).into(),
        Stimulus::Transfer { outcome } => {
            let o = match (outcome, ja) {
                (TransferOutcome::Answered, true) => "転送先: 応答",
                (TransferOutcome::Busy, true) => "転送先: 話中",
                (TransferOutcome::NoAnswer, true) => "転送先: 無応答",
                (TransferOutcome::Failed, true) => "転送先: 接続失敗",
                (TransferOutcome::Answered, false) => "destination answers",
                (TransferOutcome::Busy, false) => "destination busy",
                (TransferOutcome::NoAnswer, false) => "destination does not answer",
                (TransferOutcome::Failed, false) => "destination unreachable",
            };
            o.into()
        }
    }
}

fn operation(row: &Row, lang: Lang) -> String {
    let mut parts = vec![(if lang == Lang::Ja { "着信" } else { "call" }).to_string()];
    parts.extend(row.steps.iter().map(|s| step_label(s, lang)));
    parts.join(" → ")
}

fn item(plan: &Plan, row: &Row, lang: Lang) -> Vec<String> {
    let by_id: HashMap<&str, &super::BranchInfo> =
        plan.branches.iter().map(|b| (b.id.as_str(), b)).collect();
    let pick = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .filter_map(|id| by_id.get(id.as_str()))
            .filter(|b| b.branch.trigger != Trigger::Auto)
            .map(|b| match lang {
                Lang::Ja => b.label_ja.clone(),
                Lang::En => b.label_en.clone(),
            })
            .collect()
    };
    let mut v = pick(&row.covers);
    if v.is_empty() {
        v = pick(&row.branches);
    }
    v
}

fn expected(row: &Row, lang: Lang) -> Vec<String> {
    let mut lines: Vec<String> = row
        .expected
        .prompts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if h.text.is_empty() {
                format!("{}. [{}]", i + 1, h.prompt)
            } else {
                format!("{}. [{}] 「{}」", i + 1, h.prompt, h.text)
            }
        })
        .collect();
    let rec = match (row.expected.recorded, lang) {
        (true, Lang::Ja) => "（録音あり）",
        (false, Lang::Ja) => "（録音なし）",
        (true, Lang::En) => " (recorded)",
        (false, Lang::En) => " (not recorded)",
    };
    lines.push(format!("→ {}{rec}", row.expected.ending.label(lang)));
    lines
}

fn result_cells(r: Option<&RowResult>, lang: Lang) -> (Vec<String>, String) {
    match r {
        None => (Vec::new(), String::new()),
        Some(r) => {
            let mut v = vec![match (r.pass, lang) {
                (true, Lang::Ja) => "合格".to_string(),
                (false, Lang::Ja) => "不合格".to_string(),
                (true, Lang::En) => "pass".to_string(),
                (false, Lang::En) => "FAIL".to_string(),
            }];
            v.extend(r.differences.iter().cloned());
            if let Some(c) = &r.call_id {
                v.push(format!("call {c}"));
            }
            (v, r.checked_by.clone())
        }
    }
}

fn md_cell(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| l.replace('|', "\\|").replace('\n', " "))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The sheet as Markdown.
pub fn markdown(plan: &Plan, lang: Lang, results: Option<&[Option<RowResult>]>) -> String {
    let t = texts(lang);
    let mut s = String::new();
    let name = match (&plan.title, plan.version) {
        (Some(title), Some(v)) => format!("{title} ({} v{v})", plan.scenario),
        (Some(title), None) => format!("{title} ({})", plan.scenario),
        (None, Some(v)) => format!("{} v{v}", plan.scenario),
        (None, None) => plan.scenario.clone(),
    };
    s.push_str(&format!("# {}: {name}\n\n", t.title));
    let passed = results.map(|r| r.iter().flatten().filter(|r| r.pass).count());
    s.push_str(&format!("- {}\n", coverage_line(plan, lang, passed)));
    s.push_str(&format!(
        "- {}: {}, {}: {}\n\n",
        t.branches,
        plan.branches.len(),
        t.rows,
        plan.rows.len()
    ));
    s.push_str(&format!("| {} |\n", t.header.join(" | ")));
    s.push_str(&format!("|{}\n", "---|".repeat(7)));
    for (i, row) in plan.rows.iter().enumerate() {
        let r = results.and_then(|r| r.get(i)).and_then(Option::as_ref);
        let (result, by) = result_cells(r, lang);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            row.no,
            md_cell(&item(plan, row, lang)),
            when(&row.at, lang),
            md_cell(&[operation(row, lang)]),
            md_cell(&expected(row, lang)),
            md_cell(&result),
            md_cell(&[by]),
        ));
    }
    for (title, list) in [
        (t.unreachable, &plan.unreachable),
        (t.problems, &plan.problems),
    ] {
        s.push_str(&format!("\n## {title}\n\n"));
        if list.is_empty() {
            s.push_str(&format!("{}\n", t.none));
        }
        for f in list {
            if f.path.is_empty() {
                s.push_str(&format!("- {}\n", f.message));
            } else {
                s.push_str(&format!("- `{}`: {}\n", f.path, f.message));
            }
        }
    }
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The sheet as CSV (RFC 4180, UTF-8 with a BOM so that Excel reads the Japanese).
pub fn csv(plan: &Plan, lang: Lang, results: Option<&[Option<RowResult>]>) -> String {
    let t = texts(lang);
    let mut s = String::from("\u{feff}");
    s.push_str(
        &t.header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    s.push_str("\r\n");
    for (i, row) in plan.rows.iter().enumerate() {
        let r = results.and_then(|r| r.get(i)).and_then(Option::as_ref);
        let (result, by) = result_cells(r, lang);
        let cells = [
            row.no.to_string(),
            item(plan, row, lang).join("\n"),
            when(&row.at, lang),
            operation(row, lang),
            expected(row, lang).join("\n"),
            result.join("\n"),
            by,
        ];
        s.push_str(
            &cells
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        s.push_str("\r\n");
    }
    s
}

/// The plan as JSON (what `scenario test PLAN.json` reads back), with results if any.
pub fn json(plan: &Plan, results: Option<&[Option<RowResult>]>) -> String {
    let mut v = serde_json::to_value(plan).unwrap_or_default();
    v["coverage_percent"] = serde_json::json!(plan.coverage_percent());
    if let Some(r) = results {
        v["results"] = serde_json::to_value(r).unwrap_or_default();
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
