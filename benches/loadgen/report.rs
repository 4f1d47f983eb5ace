//! Figures of one run, their medians over the rounds, and the table in
//! `docs/benchmarks.md`, every figure beside its ratio to the static
//! ceiling measured in the same rounds.

use std::fmt::Write as _;

use crate::caller::{KINDS, Tally};
use crate::check::Checked;
use crate::servers::Kind;
use crate::{Options, Shape};

pub(crate) struct Measure {
    kind: Kind,
    shape: &'static str,
    round: usize,
    webhooks: u64,
    per_sec: f64,
    server_cpu_us: f64,
    generator_cpu_us: f64,
    pg_cpu_us: Option<f64>,
    /// Server time (ms): p50, p99, p99.9.
    server_ms: [f64; 3],
    /// p99 by kind of webhook (voice, answer, status), ms.
    kind_p99: [f64; 3],
    errors: u64,
    checked: usize,
    wrong: usize,
}

fn pct(v: &[u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)] as f64 / 1000.0
}

impl Measure {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        kind: Kind,
        shape: &Shape,
        round: usize,
        elapsed: f64,
        tally: &mut Tally,
        server_cpu: f64,
        generator_cpu: f64,
        pg_cpu: Option<f64>,
        checked: Checked,
    ) -> Measure {
        let n = tally.webhooks.max(1) as f64;
        tally.server_us.sort_unstable();
        let s = &tally.server_us;
        let mut kind_p99 = [0.0; 3];
        for (i, v) in tally.by_kind.iter_mut().enumerate() {
            v.sort_unstable();
            kind_p99[i] = pct(v, 0.99);
        }
        Measure {
            kind,
            shape: shape.name,
            round,
            webhooks: tally.webhooks,
            per_sec: tally.webhooks as f64 / elapsed,
            server_cpu_us: server_cpu * 1e6 / n,
            generator_cpu_us: generator_cpu * 1e6 / n,
            pg_cpu_us: pg_cpu.map(|c| c * 1e6 / n),
            server_ms: [pct(s, 0.50), pct(s, 0.99), pct(s, 0.999)],
            kind_p99,
            errors: tally.errors,
            checked: checked.ok + checked.wrong.len(),
            wrong: checked.wrong.len(),
        }
    }

    /// No failed call, and every sampled call stored as sent.
    pub(crate) fn clean(&self) -> bool {
        self.errors == 0 && self.wrong == 0 && self.webhooks > 0
    }

    pub(crate) fn line(&self) -> String {
        let pg = self
            .pg_cpu_us
            .map(|c| format!(", PostgreSQL {c:.0} µs"))
            .unwrap_or_default();
        let kinds: Vec<String> = KINDS
            .iter()
            .zip(self.kind_p99)
            .map(|(k, p)| format!("{k} {p:.2}"))
            .collect();
        format!(
            "round {} {:10} {:8}: {:7.0} webhooks/s ({} in window), CPU/webhook: server {:.0} µs, generator {:.0} µs{pg} | server p50 {:.2} p99 {:.2} p99.9 {:.2} ms (p99 by kind: {}) | errors {}, answers checked {} wrong {} | load {}",
            self.round,
            self.shape,
            self.kind.name(),
            self.per_sec,
            self.webhooks,
            self.server_cpu_us,
            self.generator_cpu_us,
            self.server_ms[0],
            self.server_ms[1],
            self.server_ms[2],
            kinds.join(", "),
            self.errors,
            self.checked,
            self.wrong,
            load_average(),
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The medians of one cell (shape × server).
struct Cell {
    per_sec: f64,
    server_cpu_us: f64,
    generator_cpu_us: f64,
    pg_cpu_us: f64,
    server_ms: [f64; 3],
    errors: u64,
    checked: usize,
    wrong: usize,
    runs: usize,
}

fn cell(results: &[Measure], shape: &str, kind: Kind) -> Option<Cell> {
    let runs: Vec<&Measure> = results
        .iter()
        .filter(|m| m.shape == shape && m.kind == kind)
        .collect();
    if runs.is_empty() {
        return None;
    }
    let med = |f: &dyn Fn(&Measure) -> f64| median(runs.iter().map(|m| f(m)).collect());
    Some(Cell {
        per_sec: med(&|m| m.per_sec),
        server_cpu_us: med(&|m| m.server_cpu_us),
        generator_cpu_us: med(&|m| m.generator_cpu_us),
        pg_cpu_us: med(&|m| m.pg_cpu_us.unwrap_or(f64::NAN)),
        server_ms: [
            med(&|m| m.server_ms[0]),
            med(&|m| m.server_ms[1]),
            med(&|m| m.server_ms[2]),
        ],
        errors: runs.iter().map(|m| m.errors).sum(),
        checked: runs.iter().map(|m| m.checked).sum(),
        wrong: runs.iter().map(|m| m.wrong).sum(),
        runs: runs.len(),
    })
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(x: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b.is_finite() && b > 0.0 && x.is_finite() => format!("{:.2}×", x / b),
        _ => "—".into(),
    }
}

fn us(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.0} µs")
    } else {
        "—".into()
    }
}

/// The matrix as a Markdown table: medians per shape and server.
pub(crate) fn table(shapes: &[Shape], kinds: &[Kind], results: &[Measure]) -> String {
    let mut t = String::new();
    t.push_str("| run (medians) | server | webhooks/s | × static | server CPU / webhook | × static | generator CPU / webhook | PostgreSQL backends CPU / webhook | server p50 / p99 / p99.9 | p99 × static | failed calls | answers checked (wrong) | runs |\n");
    t.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
    for shape in shapes {
        let base = cell(results, shape.name, Kind::Static);
        for &kind in kinds {
            let Some(c) = cell(results, shape.name, kind) else {
                continue;
            };
            let b = base.as_ref();
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.3} / {:.3} / {:.3} ms | {} | {} | {} | {} |",
                shape.label(),
                kind.title(),
                thousands(c.per_sec),
                ratio(c.per_sec, b.map(|b| b.per_sec)),
                us(c.server_cpu_us),
                ratio(c.server_cpu_us, b.map(|b| b.server_cpu_us)),
                us(c.generator_cpu_us),
                us(c.pg_cpu_us),
                c.server_ms[0],
                c.server_ms[1],
                c.server_ms[2],
                ratio(c.server_ms[1], b.map(|b| b.server_ms[1])),
                c.errors,
                if !kind.is_dialback() {
                    "—".to_string()
                } else {
                    format!("{} ({})", c.checked, c.wrong)
                },
                c.runs,
            );
        }
    }
    t.push('\n');
    t.push_str(&targets(shapes, results));
    t.push_str(&floors(shapes, results));
    t
}

/// dialback's CPU per webhook against the durable floors of its backend,
/// in the paced shapes (where each webhook is its own commit, as in the
/// floors).
fn floors(shapes: &[Shape], results: &[Measure]) -> String {
    let mut t = String::new();
    for shape in shapes.iter().filter(|s| !s.think.is_zero()) {
        for (kind, floors) in [
            (Kind::Sqlite, &[Kind::FloorSqlx, Kind::FloorThread][..]),
            (Kind::Postgres, &[Kind::FloorPostgres][..]),
        ] {
            let Some(c) = cell(results, shape.name, kind) else {
                continue;
            };
            let against: Vec<String> = floors
                .iter()
                .filter_map(|&f| cell(results, shape.name, f).map(|b| (f, b)))
                .map(|(f, b)| {
                    let with_pg = if f == Kind::FloorPostgres {
                        format!(
                            " (with PostgreSQL's backends: {} against {})",
                            us(c.server_cpu_us + c.pg_cpu_us),
                            us(b.server_cpu_us + b.pg_cpu_us),
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "{} the {} ({}){with_pg}",
                        ratio(c.server_cpu_us, Some(b.server_cpu_us)),
                        f.title(),
                        us(b.server_cpu_us),
                    )
                })
                .collect();
            if against.is_empty() {
                continue;
            }
            if t.is_empty() {
                t.push_str("\nAgainst the durable floors (one committed row per webhook, nothing else), server CPU per webhook:\n\n");
            }
            let _ = writeln!(
                t,
                "- {}, {}: {} = {}",
                shape.label(),
                kind.title(),
                us(c.server_cpu_us),
                against.join("; "),
            );
        }
    }
    t
}

/// The targets, each said met or not against the medians above.
fn targets(shapes: &[Shape], results: &[Measure]) -> String {
    let mut t = String::from("Targets (issue 18), against the medians above:\n\n");
    let has = |name: &str| shapes.iter().any(|s| s.name == name);
    for (shape, label) in [("paced1", "~1 s"), ("paced3", "~3 s")] {
        if !has(shape) {
            continue;
        }
        for kind in [Kind::Sqlite, Kind::Postgres] {
            if let Some(c) = cell(results, shape, kind) {
                let _ = writeln!(
                    t,
                    "- paced {label}, {}: server p99 {:.2} ms (target < 5: {}), server CPU {:.0} µs / webhook (target ≤ 150: {})",
                    kind.title(),
                    c.server_ms[1],
                    met(c.server_ms[1] < 5.0),
                    c.server_cpu_us,
                    met(c.server_cpu_us <= 150.0),
                );
            }
        }
    }
    if has("closed50") {
        let base = cell(results, "closed50", Kind::Static).map(|c| c.per_sec);
        for (kind, goal) in [(Kind::Sqlite, 0.35), (Kind::Postgres, 0.20)] {
            if let (Some(c), Some(b)) = (cell(results, "closed50", kind), base) {
                let share = c.per_sec / b;
                let _ = writeln!(
                    t,
                    "- closed loop, 50 callers, {}: {:.0} % of the static ceiling (target ≥ {:.0} %: {})",
                    kind.title(),
                    share * 100.0,
                    goal * 100.0,
                    met(share >= goal),
                );
            }
        }
    }
    t
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "**not met**" }
}

/// `/proc/loadavg`'s three averages.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

const BEGIN: &str =
    "<!-- loadgen:begin (written by scripts/bench-external; edits inside are overwritten) -->";
const END: &str = "<!-- loadgen:end -->";

pub(crate) fn section(
    table: &str,
    o: &Options,
    started: chrono::DateTime<chrono::Utc>,
    load_before: &str,
    load_after: &str,
) -> String {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut changed = String::new();
    if !o.db_options.is_empty() {
        let _ = write!(changed, ", database URL options `{}`", o.db_options);
    }
    for s in &o.pg_settings {
        let _ = write!(changed, ", PostgreSQL `{s}`");
    }
    format!(
        "{BEGIN}\n\nMeasured {} UTC on `{commit}`, {cores} cores, {} round(s){}{changed}, load average {load_before} before and {load_after} after (1, 5, 15 min).\n\n{table}\n{END}",
        started.format("%Y-%m-%d %H:%M"),
        o.rounds,
        if o.quick { ", quick mode" } else { "" },
    )
}

/// Replaces the marked section of `path`, or appends it.
pub(crate) fn write_section(path: &std::path::Path, section: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let updated = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{section}{}", &text[..b], &text[e + END.len()..])
        }
        _ => format!("{}\n{section}\n", text.trim_end()),
    };
    std::fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
}
