//! `make bench`'s report: the open-latency, sweep and create figures as ratios
//! against the baselines measured in the same run, read from criterion's
//! estimates (`<group>/<bench>/new/estimates.json`), with each S3 open's
//! requests (`open_s3/requests.json`) and the run's build
//! (`stampede-run.json`, both written by `benches/open.rs`). Writes the
//! `bench` block of each document given and, with `--svg`, a log-scale plot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use stampede_benches::{BenchRun, Estimates};

#[derive(Parser)]
struct Args {
    /// Criterion's directory (`$CARGO_TARGET_DIR/criterion`).
    criterion: PathBuf,
    /// Where to write the open-latency plot.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Documents whose `bench` block to rewrite.
    #[arg(long = "doc")]
    docs: Vec<PathBuf>,
}

fn time(seconds: Option<f64>) -> String {
    match seconds {
        None => "n/a".into(),
        Some(s) if s >= 1.0 => format!("{s:.2} s"),
        Some(s) if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        Some(s) => format!("{:.1} µs", s * 1e6),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn times(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}×"))
}

/// "met" or "missed" for a goal a figure is held to.
fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "not measured",
    }
}

const REFS: [&str; 4] = ["0", "10", "100", "1000"];
const OPENS: [(&str, &str); 4] = [
    (
        "raw_lance_open_cold",
        "raw Lance `Dataset::open` of `__manifest`, cold session",
    ),
    (
        "raw_lance_open_warm_session",
        "raw Lance `Dataset::open`, warm shared session",
    ),
    (
        "stampede_read_write_open",
        "Stampede read-write open, current graph",
    ),
    ("stampede_read_only_open", "Stampede read-only open"),
];

fn table(run: &Estimates) -> Result<String, String> {
    let mut rows = vec![
        "| benchmark | time (criterion mean) | against its same-run baseline |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut measured = 0;
    for group in ["open", "open_s3"] {
        let means: BTreeMap<&str, Option<f64>> = OPENS
            .iter()
            .map(|(name, _)| Ok((*name, run.mean(&[group, name])?)))
            .collect::<Result<_, String>>()?;
        measured += means.values().flatten().count();
        let requests: BTreeMap<String, u64> = if group == "open_s3" {
            run.json(Path::new("open_s3/requests.json"))?
                .unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        let (cold, warm) = (
            means["raw_lance_open_cold"],
            means["raw_lance_open_warm_session"],
        );
        for (name, label) in OPENS {
            let mean = means[name];
            let label = if group == "open_s3" {
                format!("on S3 (SeaweedFS, 127.0.0.1): {label}")
            } else {
                label.to_string()
            };
            let mut against = if name.starts_with("raw") {
                "floor".to_string()
            } else {
                let of_warm = ratio(mean, warm);
                let goal = if name == "stampede_read_write_open" && group == "open" {
                    format!(" (goal ≤ 1.3×: {})", verdict(of_warm.map(|r| r <= 1.3)))
                } else {
                    String::new()
                };
                format!(
                    "**{}** the warm floor{goal}, {} the cold one",
                    times(of_warm),
                    times(ratio(mean, cold))
                )
            };
            if group == "open_s3" {
                let n = |name: &str| requests.get(name).copied();
                match n(name) {
                    Some(1) => against.push_str("; 1 request"),
                    Some(count) => against.push_str(&format!("; {count} requests")),
                    None => against.push_str("; requests not recorded"),
                }
                if name == "stampede_read_write_open" {
                    let met = n(name).zip(n("raw_lance_open_warm_session"));
                    against.push_str(&format!(
                        " (goal ≤ the warm raw open's + 1: {})",
                        verdict(met.map(|(ours, raw)| ours <= raw + 1))
                    ));
                }
            }
            rows.push(format!("| {label} | {} | {against} |", time(mean)));
        }
    }
    let sweep = |bench: &str| -> Result<Vec<Option<f64>>, String> {
        REFS.iter()
            .map(|n| run.mean(&["sweep", bench, n]))
            .collect()
    };
    let (ours, naive) = (sweep("stampede_open")?, sweep("naive_force_delete")?);
    measured += ours.iter().chain(&naive).flatten().count();
    let listed = |ts: &[Option<f64>]| ts.iter().map(|t| time(*t)).collect::<Vec<_>>().join(" / ");
    let growth = |ts: &[Option<f64>]| ratio(ts[3], ts[2]);
    rows.push(format!(
        "| legacy v2 read-write open, {} `__run__` refs | {} | growth 100 → 1000: **{}** (goal ≤ 12×: {}) |",
        REFS.join(" / "),
        listed(&ours),
        times(growth(&ours)),
        verdict(growth(&ours).map(|g| g <= 12.0))
    ));
    let speedup = ratio(naive[3], ours[3]);
    rows.push(format!(
        "| the same sweep with Lance's `force_delete_branch`, {} refs | {} | Stampede **{}** faster at 1000 refs (goal ≥ 10×: {}); naive growth 100 → 1000: {} |",
        REFS.join(" / "),
        listed(&naive),
        times(speedup),
        verdict(speedup.map(|s| s >= 10.0)),
        times(growth(&naive))
    ));
    let create = |bench: &str| run.mean(&["create", bench]);
    let (ours, raw) = (
        create("stampede_branch_create")?,
        create("raw_lance_create_branch")?,
    );
    measured += [ours, raw].iter().flatten().count();
    rows.push(format!(
        "| Lance's `create_branch` of `__manifest`, current graph | {} | floor |",
        time(raw)
    ));
    rows.push(format!(
        "| Stampede branch create from main (its claim, the lock's check, the fork, the ref) | {} | **{}** the floor |",
        time(ours),
        times(ratio(ours, raw))
    ));
    if measured == 0 {
        return Err(format!(
            "no estimates under {}: run `make bench` first",
            run.root.display()
        ));
    }
    let build = BenchRun::describe(BenchRun::of(run, "open")?.as_ref());
    rows.push(String::new());
    rows.push(format!(
        "Written by `make bench` from criterion's estimates ({build}); each figure shares its run with its baseline."
    ));
    Ok(rows.join("\n"))
}

/// Open latency as a log-scale bar chart: an SVG, so no plotting library
/// is needed and the documents render it.
fn plot(run: &Estimates, path: &Path) -> Result<(), String> {
    let mut bars = vec![];
    for (group, prefix) in [("open", ""), ("open_s3", "S3 ")] {
        for (name, label) in [
            ("raw_lance_open_cold", "raw open, cold"),
            ("raw_lance_open_warm_session", "raw open, warm"),
            ("stampede_read_write_open", "stampede RW open"),
            ("stampede_read_only_open", "stampede RO open"),
        ] {
            bars.push((format!("{prefix}{label}"), run.mean(&[group, name])?));
        }
    }
    for n in REFS {
        bars.push((
            format!("sweep {n} refs"),
            run.mean(&["sweep", "stampede_open", n])?,
        ));
        bars.push((
            format!("naive {n} refs"),
            run.mean(&["sweep", "naive_force_delete", n])?,
        ));
    }
    let bars: Vec<(String, f64)> = bars
        .into_iter()
        .filter_map(|(label, t)| Some((label, t?)))
        .collect();
    if bars.is_empty() {
        return Ok(());
    }
    let fold = |f: fn(f64, f64) -> f64, start| bars.iter().map(|(_, t)| *t).fold(start, f);
    let lo = fold(f64::min, f64::INFINITY).log10() - 0.3;
    let hi = fold(f64::max, 0.0).log10() + 0.3;
    let (width, left, row) = (760.0, 150.0, 26.0);
    let height = 40.0 + row * bars.len() as f64 + 30.0;
    let x = |t: f64| left + (t.log10() - lo) / (hi - lo) * (width - left - 90.0);
    let mut out = vec![
        format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#),
        format!(r#"<rect width="{width}" height="{height}" fill="white"/>"#),
        r#"<text x="10" y="20" font-size="14" font-weight="bold">Open latency (criterion mean, log scale)</text>"#.to_string(),
    ];
    for decade in lo.ceil() as i32..=hi.floor() as i32 {
        let t = 10f64.powi(decade);
        out.push(format!(
            r##"<line x1="{0:.1}" y1="30" x2="{0:.1}" y2="{1}" stroke="#ddd"/>"##,
            x(t),
            height - 25.0
        ));
        out.push(format!(
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            x(t),
            height - 10.0,
            time(Some(t))
        ));
    }
    for (i, (label, t)) in bars.iter().enumerate() {
        let y = 35.0 + i as f64 * row;
        let colour = if label.contains("raw") || label.starts_with("naive") {
            "#999"
        } else {
            "#2a7ab0"
        };
        out.push(format!(
            r#"<text x="{}" y="{}" text-anchor="end">{label}</text>"#,
            left - 6.0,
            y + 15.0
        ));
        out.push(format!(
            r#"<rect x="{left}" y="{}" width="{:.1}" height="{}" fill="{colour}"/>"#,
            y + 3.0,
            x(*t) - left,
            row - 8.0
        ));
        out.push(format!(
            r#"<text x="{:.1}" y="{}">{}</text>"#,
            x(*t) + 4.0,
            y + 15.0,
            time(Some(*t))
        ));
    }
    out.push("</svg>\n".into());
    std::fs::write(path, out.join("\n")).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("plot: {}", path.display());
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let run = Estimates {
        root: args.criterion.clone(),
    };
    let table = table(&run).and_then(|table| {
        if let Some(svg) = &args.svg {
            plot(&run, svg)?;
        }
        Ok(table)
    });
    stampede_benches::publish("bench", table, &args.docs)
}
