//! The printed report: the machine line and the Markdown table.

use std::process::Command;

use super::generator::Outcome;

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
