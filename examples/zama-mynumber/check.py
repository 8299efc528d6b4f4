"""Checks the Zama scenario with the real plugins; see `check` for what and why."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# The branch table: (test time, inputs, transfer outcomes, expected end).
# Inputs are digits, "-" for silence until the menu times out. Outcomes are
# taken by the transfers in order ("answer" when the list runs out).
# Expected end: "queue mynumber", "callcenter" (answered transfers) or
# "hangup <node>" (the call ends after that node's announcement).
WED_10 = "2027-01-06T10:00:00+09:00"  # Wednesday, both open
WED_0845 = "2027-01-06T08:45:00+09:00"  # city hall open, call center not yet
WED_1715 = "2027-01-06T17:15:00+09:00"  # city hall just closed (hours are half-open)
WED_1730 = "2027-01-06T17:30:00+09:00"  # city hall closed, call center open
MON_0830 = "2027-01-04T08:30:00+09:00"  # first minute after the year-end closure
SAT_10 = "2027-01-09T10:00:00+09:00"  # Saturday
HOLIDAY_10 = "2027-02-11T10:00:00+09:00"  # 建国記念の日 (Thursday)
YEAR_END_10 = "2026-12-31T10:00:00+09:00"  # 年末年始
NIGHT = "2027-01-06T20:00:00+09:00"  # both closed

ROWS = [
    (WED_10, "1 1", "", "callcenter"),
    (WED_10, "1 2", "", "queue mynumber"),
    (WED_10, "1 3 1", "", "queue mynumber"),
    (WED_10, "1 3 2", "", "queue mynumber"),
    (WED_10, "1 3 3", "", "callcenter"),
    (WED_10, "2", "", "queue mynumber"),
    (WED_10, "3", "", "queue mynumber"),
    (WED_10, "4", "", "queue mynumber"),
    (WED_10, "9 2", "", "queue mynumber"),
    (WED_10, "5 2", "", "queue mynumber"),
    (WED_10, "- 3", "", "queue mynumber"),
    (WED_10, "7 8", "", "callcenter"),
    (WED_10, "- -", "", "callcenter"),
    (WED_10, "1 0 0", "", "callcenter"),
    (WED_10, "1 3 - -", "", "callcenter"),
    (WED_10, "2", "busy", "hangup busy"),
    (WED_10, "2", "no-answer", "hangup busy"),
    (WED_10, "2", "failed", "callcenter"),
    (WED_10, "1 1", "busy", "hangup busy"),
    (WED_10, "1 1", "no-answer", "hangup busy"),
    (WED_10, "1 1", "failed", "hangup apology"),
    (WED_10, "4", "busy", "hangup lost-unavailable"),
    (WED_10, "4", "no-answer", "hangup lost-unavailable"),
    (WED_10, "4", "failed", "hangup lost-unavailable"),
    (WED_0845, "2", "", "queue mynumber"),
    (WED_0845, "1 1", "", "hangup callcenter-closed"),
    (WED_0845, "7 8", "", "hangup callcenter-closed"),
    (WED_0845, "2", "failed", "hangup callcenter-closed"),
    (WED_1715, "2", "", "hangup cityhall-closed"),
    (WED_1730, "2", "", "hangup cityhall-closed"),
    (WED_1730, "1 3 1", "", "hangup cityhall-closed"),
    (WED_1730, "1 1", "", "callcenter"),
    (WED_1730, "4", "", "hangup lost-closed"),
    (MON_0830, "3", "", "queue mynumber"),
    (SAT_10, "3", "", "hangup cityhall-closed"),
    (SAT_10, "1 3 3", "", "callcenter"),
    (SAT_10, "4", "", "hangup lost-closed"),
    (HOLIDAY_10, "1 2", "", "hangup cityhall-holiday"),
    (HOLIDAY_10, "4", "", "hangup lost-holiday"),
    (HOLIDAY_10, "1 1", "", "callcenter"),
    (YEAR_END_10, "2", "", "hangup cityhall-year-end"),
    (YEAR_END_10, "4", "", "hangup lost-year-end"),
    (YEAR_END_10, "1 1", "", "hangup callcenter-year-end"),
    (NIGHT, "- -", "", "hangup callcenter-closed"),
    (NIGHT, "4", "", "hangup lost-closed"),
]

# Stand-in for a named external destination while the transfer plugin only
# accepts E.164 numbers (see README: "Known gaps").
EXTERNAL_STAND_IN = "+81462000999"

PROMPT_KEYS = ("prompt", "prompts", "announce", "notice")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Fail(Exception):
    pass


def find_binary():
    env = os.environ.get("MADOGUCHI")
    if env:
        return env
    found = shutil.which("madoguchi")
    if found:
        return found
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for profile in ("release", "debug"):
        p = os.path.join(target, profile, "madoguchi")
        if os.access(p, os.X_OK):
            return p
    sys.exit("check: no madoguchi binary (set MADOGUCHI or build host/server)")


BIN = find_binary()
PLUGIN_DIR = os.environ.get("PLUGIN_DIR", os.path.join(ROOT, "target", "plugins"))
_cache = {}


def plugin_test(ref, config, script):
    """Runs `madoguchi plugin test`; returns (events, error): events is a list
    of (event line, [action lines]); error is the rejection message, if any."""
    name = ref.split("@", 1)[0]
    wasm = os.path.join(PLUGIN_DIR, f"{name}.wasm")
    if not os.path.exists(wasm):
        raise Fail(f"{wasm} missing: run scripts/build-plugins")
    key = (wasm, json.dumps(config, sort_keys=True), json.dumps(script, sort_keys=True))
    if key in _cache:
        return _cache[key]
    with tempfile.TemporaryDirectory() as tmp:
        cfg, ev = os.path.join(tmp, "config.json"), os.path.join(tmp, "events.json")
        with open(cfg, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False)
        with open(ev, "w", encoding="utf-8") as f:
            json.dump(script, f, ensure_ascii=False)
        r = subprocess.run(
            [BIN, "plugin", "test", wasm, "--config", cfg, "--events", ev],
            capture_output=True,
            text=True,
            env=dict(os.environ, RUST_BACKTRACE="0"),
        )
    if r.returncode != 0:
        msg = next((l.strip() for l in r.stderr.splitlines() if "rejected" in l), r.stderr.strip())
        _cache[key] = (None, msg)
        return _cache[key]
    events = []
    for line in r.stdout.splitlines():
        if line.startswith("> "):
            events.append((line[2:], []))
        elif line.startswith("  ") and events:
            events[-1][1].append(line.strip())
    _cache[key] = (events, None)
    return _cache[key]


def prompt_refs(value, key=None):
    """Prompt ids a config refers to, by the format's rule 6."""
    out = []
    if isinstance(value, dict):
        if key is not None and set(value) == {"asset"}:
            return [value["asset"]]
        for k, v in value.items():
            out += prompt_refs(v, k)
    elif isinstance(value, list):
        for v in value:
            out += prompt_refs(v, key)
    elif isinstance(value, str) and key is not None:
        if key in PROMPT_KEYS or key.endswith("_prompt"):
            out.append(value)
    return out


def static_checks(doc):
    errors = []
    nodes = doc["nodes"]
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,63}$", doc["name"]):
        errors.append(f"name {doc['name']!r}")
    for did in doc["dids"]:
        if not re.match(r"^\+?[0-9]{2,20}$", did):
            errors.append(f"dids: {did!r}")
    for nid, n in nodes.items():
        if not ID_RE.match(nid):
            errors.append(f"nodes.{nid}: bad id")
        for t in n.get("exits", []) + ([n["on_error"]] if "on_error" in n else []):
            if t not in nodes:
                errors.append(f"nodes.{nid}: names missing node {t!r}")
    for field in ("start", "fallback"):
        if field in doc and doc[field] not in nodes:
            errors.append(f"{field}: no node {doc[field]!r}")
    succ = {nid: set(n.get("exits", [])) | ({n["on_error"]} if "on_error" in n else set()) for nid, n in nodes.items()}
    seen, todo = set(), [doc["start"]]
    while todo:
        nid = todo.pop()
        if nid not in seen and nid in nodes:
            seen.add(nid)
            todo += succ[nid]
    unreachable = sorted(set(nodes) - seen)
    ends = {nid for nid, n in nodes.items() if not n.get("exits")}
    changed = True
    while changed:
        changed = False
        for nid, n in nodes.items():
            if nid not in ends and set(n.get("exits", [])) & ends:
                ends.add(nid)
                changed = True
    for nid in sorted(seen - ends):
        errors.append(f"nodes.{nid}: no path to a leaf")
    prompts = doc.get("prompts", {})
    refs = [("recording_policy", r) for r in prompt_refs(doc.get("recording_policy", {}).get("config", {}))]
    for nid, n in nodes.items():
        refs += [(f"nodes.{nid}", r) for r in prompt_refs(n["config"])]
    for where, r in refs:
        if r not in prompts:
            errors.append(f"{where}: prompt {r!r} not defined")
    used = {r for _, r in refs}
    for pid, p in prompts.items():
        try:
            with wave.open(os.path.join(HERE, p["file"])) as w:
                if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (8000, 1, 2):
                    errors.append(f"prompts.{pid}: not 8 kHz mono 16-bit")
        except (OSError, wave.Error, KeyError) as e:
            errors.append(f"prompts.{pid}: audio: {e}")
    return errors, unreachable, sorted(set(prompts) - used)


def status_for_script(answer):
    """A japan-calendar answer line -> the fixed status `plugin test` takes."""
    head = answer.split(",")[0]
    if head == "open" or head == "closed":
        return head
    if head.startswith("holiday "):
        return {"holiday": head[len("holiday "):]}
    if head.startswith("year-end closure "):
        return {"year-end": head[len("year-end closure "):]}
    if head.startswith("special closure "):
        return {"special-closure": head[len("special closure "):]}
    raise Fail(f"unexpected schedule answer {answer!r}")


def schedule_answers(doc, times):
    """(schedule, destination, time) -> answer line, from the schedule plugins."""
    out = {}
    for sname, s in doc.get("schedules", {}).items():
        dests = sorted(s["config"]["destinations"])
        queries = [{"destination": d, "at": t[:19]} for t in times for d in dests]
        events, err = plugin_test(s["plugin"], s["config"], queries)
        if err:
            raise Fail(f"schedules.{sname}: {err}")
        for q, (_, actions) in zip(queries, events):
            out[(sname, q["destination"], q["at"])] = actions[0] if actions else "!"
    return out


def prompt_ids(text):
    """`[asset:a, asset:b]` inside an action line -> ["a", "b"]."""
    inside = text[text.index("[") + 1 : text.rindex("]")]
    return [p.strip()[len("asset:"):] if p.strip().startswith("asset:") else p.strip() for p in inside.split(", ") if p.strip()]


def walk(doc, answers, at, inputs, outcomes, edges, substituted):
    """Plays one call through the scenario; returns (end, prompts heard, path)."""
    nodes = doc["nodes"]
    notice_events, err = plugin_test(doc["recording_policy"]["plugin"], doc["recording_policy"]["config"], [])
    if err:
        raise Fail(f"recording_policy: {err}")
    heard = prompt_ids(notice_events[0][1][0]) if notice_events and notice_events[0][1] else []
    inputs, outcomes = list(inputs), list(outcomes)
    nid, path = doc["start"], []
    for _ in range(40):
        node = nodes[nid]
        path.append(nid)
        config = node["config"]
        target = config.get("target", {}) if isinstance(config, dict) else {}
        if "external" in target:
            _, err = plugin_test(node["plugin"], config, [])
            if err:
                substituted.add((nid, err))
                config = dict(config, target={"external": EXTERNAL_STAND_IN})
        script = {"now": at[:19], "events": ["entered"]}
        if node["plugin"].startswith("hours@"):
            key = (config["schedule"], config["destination"], at[:19])
            script["schedules"] = {config["schedule"]: status_for_script(answers[key])}
        while True:
            events, err = plugin_test(node["plugin"], config, script)
            if err:
                raise Fail(f"nodes.{nid}: {err}")
            actions = events[-1][1]
            for a in actions:
                if a.startswith("!"):
                    raise Fail(f"nodes.{nid}: plugin failed: {a}")
                if a.startswith("play ") or ", prompts [" in a:
                    heard += prompt_ids(a[a.index("[") :] if a.startswith("play ") else a[a.index(", prompts [") + 10 :])
            kinds = [a.split(" ")[0] for a in actions]
            if "goto" in kinds:
                nxt = actions[kinds.index("goto")].split(" ", 1)[1]
                if nxt not in node.get("exits", []):
                    raise Fail(f"nodes.{nid}: goto {nxt} is not in exits")
                edges.add((nid, nxt))
                nid = nxt
                break
            if "hangup" in kinds:
                return f"hangup {nid}", heard, path
            if "transfer" in kinds:
                t = actions[kinds.index("transfer")]
                outcome = outcomes.pop(0) if outcomes else "answer"
                if outcome == "answer":
                    if t.startswith("transfer to user ") or t.startswith("transfer to queue "):
                        kind, name = t.split(" ")[2:4]
                        return f"{kind} {name}", heard, path
                    if t.startswith("transfer to number ") and not t.endswith(EXTERNAL_STAND_IN):
                        return t.rsplit(" ", 1)[1], heard, path
                    if t.endswith(EXTERNAL_STAND_IN):
                        return node["config"]["target"]["external"], heard, path
                    return t, heard, path
                script["events"].append({"transfer-failed": outcome})
            elif "collect" in kinds:
                if not inputs:
                    raise Fail(f"nodes.{nid}: waits for digits but the row has no more")
                d = inputs.pop(0)
                script["events"].append("no-input" if d == "-" else {"digits": d})
            elif "play" in kinds:
                script["events"].append("prompt-finished")
            else:
                raise Fail(f"nodes.{nid}: stuck after {actions}")
    raise Fail("more than 40 nodes: a loop")


def main():
    table_only = sys.argv[1:] == ["--table"]
    with open(os.path.join(HERE, "scenario.json"), encoding="utf-8") as f:
        doc = json.load(f)
    failures = []
    errors, unreachable, unused = static_checks(doc)
    failures += errors

    def say(s=""):
        if not table_only:
            print(s)

    say(f"static: {len(doc['nodes'])} nodes, {len(doc.get('prompts', {}))} prompts, "
        f"{len(errors)} errors, unreachable {unreachable or 'none'}, unused prompts {unused or 'none'}")
    for e in errors:
        say(f"  ERROR {e}")

    # validate-config of every plugin config.
    configs = [(f"nodes.{nid}", n["plugin"], n["config"]) for nid, n in doc["nodes"].items()]
    configs += [(f"schedules.{k}", s["plugin"], s["config"]) for k, s in doc.get("schedules", {}).items()]
    if "recording_policy" in doc:
        configs.append(("recording_policy", doc["recording_policy"]["plugin"], doc["recording_policy"]["config"]))
    rejected = []
    for where, ref, cfg in configs:
        _, err = plugin_test(ref, cfg, [])
        if err:
            rejected.append(f"{where} ({ref}): {err}")
    say(f"validate-config: {len(configs) - len(rejected)} of {len(configs)} accepted")
    for r in rejected:
        say(f"  REJECTED {r}")
    failures += rejected

    times = sorted({r[0] for r in ROWS})
    answers = schedule_answers(doc, times)
    say("schedule answers (japan-calendar plugin):")
    for t in times:
        parts = [f"{d}: {answers[(s, d, t[:19])]}" for (s, d, tt) in sorted(answers) if tt == t[:19]]
        say(f"  {t}  " + " | ".join(parts))

    edges, substituted, table = set(), set(), []
    for at, inputs, outcomes, expected in ROWS:
        try:
            end, heard, path = walk(doc, answers, at, inputs.split(), outcomes.split(), edges, substituted)
        except Fail as e:
            end, heard, path = f"ERROR {e}", [], []
        ok = end == expected
        if not ok:
            failures.append(f"row {at} {inputs!r} {outcomes!r}: expected {expected}, got {end}")
        table.append((at, inputs, outcomes, expected, end, heard, path, ok))
    for nid, err in sorted(substituted):
        say(f"note: nodes.{nid} walked with target {EXTERNAL_STAND_IN} because {err}")

    if table_only:
        print("| # | time (JST) | digits | transfer | destination | prompts heard, in order |")
        print("|---|---|---|---|---|---|")
        for i, (at, inputs, outcomes, expected, end, heard, path, ok) in enumerate(table, 1):
            digits = " ".join("(silence)" if d == "-" else d for d in inputs.split())
            dest = expected if ok else f"{expected} (GOT {end})"
            print(f"| {i} | `{at}` | {digits} | {outcomes or 'answer'} | {dest} | {' '.join(heard)} |")
        return 1 if failures else 0

    say(f"branch table: {sum(r[-1] for r in table)} of {len(table)} rows end as expected")
    for at, inputs, outcomes, expected, end, heard, path, ok in table:
        mark = "ok  " if ok else "FAIL"
        say(f"  {mark} {at[:16]} {inputs:8} {outcomes or 'answer':9} -> {end:26} via {' > '.join(path)}")
    all_edges = {(nid, x) for nid, n in doc["nodes"].items() for x in n.get("exits", [])}
    missing = sorted(all_edges - edges)
    say(f"exits taken: {len(all_edges & edges)} of {len(all_edges)}"
        + ("" if not missing else "; not taken: " + ", ".join(f"{a}->{b}" for a, b in missing)))
    if missing:
        failures.append("exits not taken by any row: " + ", ".join(f"{a}->{b}" for a, b in missing))
    say()
    if failures:
        say(f"{len(failures)} problem(s):")
        for f in failures:
            say(f"  - {f}")
        return 1
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
