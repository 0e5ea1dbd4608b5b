//! The printed report: the machine line and the Markdown table.

use std::process::Command;

use super::generator::Outcome;

/// The cases' names, as the table shows them (and the targets find them).
pub const COMMANDS: &str = "`/request` slash command";
pub const KNOWN_REACTION: &str = "reaction, known request (+1)";
pub const SUBMISSIONS_SQLITE: &str = "`view_submission` (/request modal), SQLite";
pub const SUBMISSIONS_POSTGRES: &str = "`view_submission` (/request modal), PostgreSQL";
/// Its "floor" column is the same commands over HTTP, in the same run.
pub const SOCKET: &str = "`/request` over Socket Mode (floor column: the same over HTTP)";

/// One table row: intake's run and, where there is one, the floor's.
pub struct Row {
    pub case: &'static str,
    pub concurrency: usize,
    pub floor: Option<Outcome>,
    pub intake: Outcome,
}

/// CPUs, memory, OS and rustc of this machine, in one line.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map_or("unknown OS".to_owned(), |v| v.trim_matches('"').to_owned());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "rustc (unknown version)".to_owned());
    format!("{cpus} CPUs, {:.1} GiB RAM, {os}, {rustc}", mem_kib / 1024.0 / 1024.0)
}

fn rate(outcome: Option<&Outcome>) -> String {
    outcome.map_or("–".to_owned(), |o| format!("{:.0}", o.rate()))
}

fn errors(row: &Row) -> String {
    let intake = row.intake.errors().to_string();
    match row.floor.as_ref().map(Outcome::errors) {
        Some(floor) if floor > 0 => format!("{intake} (floor {floor})"),
        _ => intake,
    }
}

/// The Markdown table of all rows.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| case | concurrency | floor req/s | intake req/s | ratio | intake p50 ms | intake p99 ms | errors |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        let ratio = row.floor.as_ref().map_or("–".to_owned(), |f| {
            format!("{:.2}", row.intake.rate() / f.rate().max(1e-9))
        });
        out.push_str(&format!(
            "| {} | {} | {} | {} | {ratio} | {:.2} | {:.2} | {} |\n",
            row.case,
            row.concurrency,
            rate(row.floor.as_ref()),
            rate(Some(&row.intake)),
            row.intake.percentile_ms(50.0),
            row.intake.percentile_ms(99.0),
            errors(row),
        ));
    }
    out
}

/// What the targets table needs besides the rows.
pub struct Process {
    pub cold_start_ms: f64,
    pub idle_rss_mib: Option<f64>,
    pub peak_rss_mib: Option<f64>,
}

/// Issue 18's table, one line per target: what was measured in this run,
/// as a ratio where the target is one, and whether it is met.
pub fn targets(rows: &[Row], process: &Process) -> String {
    let find = |case: &str, c: usize| rows.iter().find(|r| r.case == case && r.concurrency == c);
    let ratio = |row: Option<&Row>| row.and_then(|r| r.floor.as_ref().map(|f| r.intake.rate() / f.rate().max(1e-9)));
    let mut out = String::from("| path | measured | target | met? |\n| --- | --- | --- | --- |\n");
    let mut line = |path: String, measured: String, target: &str, met: Option<bool>| {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not run",
        };
        out.push_str(&format!("| {path} | {measured} | {target} | {met} |\n"));
    };
    let shown = |v: Option<f64>, unit: &str| v.map_or("–".to_owned(), |v| format!("{v:.2}{unit}"));
    for c in [1, 16, 64] {
        let r = ratio(find(COMMANDS, c));
        line(
            format!("`/request` vs the floor, c={c}"),
            shown(r, " ×"),
            "≥ 0.8 ×",
            r.map(|r| r >= 0.8),
        );
    }
    let p99 = find(COMMANDS, 64).map(|r| r.intake.percentile_ms(99.0));
    line(
        "`/request` p99 at c=64".into(),
        shown(p99, " ms"),
        "≤ 10 ms",
        p99.map(|p| p <= 10.0),
    );
    let floor16 = find(COMMANDS, 16).and_then(|r| r.floor.as_ref()).map(Outcome::rate);
    for (case, database, want) in [
        (SUBMISSIONS_SQLITE, "SQLite", 0.1),
        (SUBMISSIONS_POSTGRES, "PostgreSQL", 0.07),
    ] {
        let r = find(case, 16)
            .zip(floor16)
            .map(|(row, floor)| row.intake.rate() / floor.max(1e-9));
        let rate = find(case, 16).map(|row| row.intake.rate());
        line(
            format!("`view_submission` on {database}, c=16, vs the floor's `/request` req/s"),
            format!(
                "{} ({} /s)",
                shown(r, " ×"),
                rate.map_or("–".into(), |v| format!("{v:.0}"))
            ),
            &format!("≥ {want} ×"),
            r.map(|r| r >= want),
        );
    }
    for c in [16, 64] {
        let r = ratio(find(KNOWN_REACTION, c));
        line(
            format!("known reaction (+1) vs the floor, c={c}"),
            shown(r, " ×"),
            "≥ 0.5 ×",
            r.map(|r| r >= 0.5),
        );
    }
    for c in [1, 16, 64] {
        let r = ratio(find(SOCKET, c));
        line(
            format!("`/request` over Socket Mode vs over HTTP, c={c}"),
            shown(r, " ×"),
            "≥ 0.8 ×",
            r.map(|r| r >= 0.8),
        );
    }
    line(
        "idle RSS".into(),
        shown(process.idle_rss_mib, " MiB"),
        "< 20 MiB",
        process.idle_rss_mib.map(|v| v < 20.0),
    );
    line(
        "peak RSS under load".into(),
        shown(process.peak_rss_mib, " MiB"),
        "< 30 MiB",
        process.peak_rss_mib.map(|v| v < 30.0),
    );
    line(
        "cold start to ready, with migrations".into(),
        format!("{:.0} ms", process.cold_start_ms),
        "< 100 ms",
        Some(process.cold_start_ms < 100.0),
    );
    out
}
