//! `examples/report_plots`: the report's rendering code (included with
//! `#[path]`) turns the small, hand-made fixture `tests/data/perf-group-small.csv`
//! (same columns as `scripts/report.sh` writes, made-up figures) into SVG
//! files that name their series; bad CSV input gives an error naming the
//! problem, not a panic.

#[allow(dead_code)]
#[path = "../examples/report_plots/render.rs"]
mod render;

use std::path::{Path, PathBuf};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/perf-group-small.csv"
);

/// A fresh directory under the target dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mcsctp-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn svg(dir: &Path, name: &str) -> String {
    let p = dir.join(name);
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        s.starts_with("<svg") || s.starts_with("<?xml"),
        "{name} is not SVG: {}",
        &s[..s.len().min(80)]
    );
    assert!(
        s.trim_end().ends_with("</svg>"),
        "{name}: not a complete SVG"
    );
    s
}

#[test]
fn fixture_renders_every_plot_with_its_series() {
    let dir = TempDir::new("ok");
    let files = render::render(Path::new(FIXTURE), &dir.0).expect("render");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "bytes-per-message.svg",
            "cpu-per-message.svg",
            "goodput-vs-loss.svg",
            "latency-cdf.svg",
            "bytes-vs-size.svg"
        ]
    );
    let expect: [(&str, &[&str]); 5] = [
        (
            "bytes-per-message.svg",
            &[
                "multicast (one group)",
                "fan-out (N unicast associations)",
                "server bytes per message (B)",
                "members N",
            ],
        ),
        (
            "cpu-per-message.svg",
            &[
                "multicast (one group)",
                "fan-out (N unicast associations)",
                "CPU per message",
            ],
        ),
        (
            "goodput-vs-loss.svg",
            &[
                "multicast, mean over members",
                "multicast, slowest member",
                "fan-out, mean, no injected loss (reference)",
                "MB/s",
            ],
        ),
        (
            "latency-cdf.svg",
            &[
                "multicast, loss 0",
                "multicast, loss 1 %",
                "fan-out, loss 0",
                "fraction of deliveries",
            ],
        ),
        ("bytes-vs-size.svg", &["multicast, N = 4", "fan-out, N = 4"]),
    ];
    for (file, texts) in expect {
        let s = svg(&dir.0, file);
        for t in texts {
            assert!(s.contains(t), "{file}: no {t:?}");
        }
        // The command and the machine caveat on every plot.
        assert!(
            s.contains("mcsctp perf --group"),
            "{file}: command not named"
        );
        assert!(
            s.contains("2-core machine (other builds running)"),
            "{file}: no caveat"
        );
        // Lines were drawn: polylines with more than one point.
        assert!(s.contains("<polyline"), "{file}: no line drawn");
    }
}

#[test]
fn bad_csv_is_an_error_naming_the_problem() {
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let header = text.lines().next().unwrap();
    let row = text.lines().nth(1).unwrap();
    let cases: [(&str, String, &str); 6] = [
        ("empty", String::new(), "empty"),
        (
            "no column",
            header.replace("goodput_mean", "goodput_avg") + "\n" + row,
            "no column \"goodput_mean\"",
        ),
        (
            "short row",
            format!("{header}\n{}", &row[..row.rfind(',').unwrap()]),
            "fields, the header has",
        ),
        (
            "not a number",
            format!("{header}\n{}", row.replacen("1200", "12x0", 1)),
            "column length: \"12x0\" is not a count",
        ),
        (
            "bad mode",
            format!("{header}\n{}", row.replacen("multicast", "broadcast", 1)),
            "mode \"broadcast\"",
        ),
        ("header only", header.to_string(), "no data rows"),
    ];
    for (what, csv, needle) in cases {
        let err = render::parse("x.csv", &csv)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(
            err.contains(needle),
            "{what}: {err:?} does not say {needle:?}"
        );
    }
    // A CSV whose rows fit no plot, and a missing file: errors too.
    let dir = TempDir::new("bad");
    let odd = dir.0.join("odd.csv");
    std::fs::write(
        &odd,
        format!("{header}\n{}", row.replacen(",1200,", ",999,", 1)),
    )
    .unwrap();
    let err = render::render(&odd, &dir.0.join("out")).unwrap_err();
    assert!(err.contains("no rows for any plot"), "{err}");
    let err = render::render(&dir.0.join("missing.csv"), &dir.0).unwrap_err();
    assert!(err.contains("missing.csv"), "{err}");
}
