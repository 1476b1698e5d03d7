//! The multicast-vs-fan-out report's plots: renders the CSV that
//! `scripts/report.sh` writes (one row per `mcsctp perf --group` run) into
//! SVG files.
//!
//! ```sh
//! cargo run --release --example report_plots -- docs/report/perf-group.csv docs/report/
//! ```
//!
//! Writes bytes-per-message.svg, cpu-per-message.svg, goodput-vs-loss.svg,
//! latency-cdf.svg and, if the CSV has a message size sweep,
//! bytes-vs-size.svg. Bad input: one line on stderr, exit code 2.

mod render;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, out] = args.as_slice() else {
        eprintln!("usage: report_plots CSV OUT_DIR");
        return ExitCode::from(2);
    };
    match render::render(Path::new(csv), Path::new(out)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("report_plots: {e}");
            ExitCode::from(2)
        }
    }
}
