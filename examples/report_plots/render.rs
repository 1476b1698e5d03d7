//! The rendering of `examples/report_plots`: the CSV that `scripts/report.sh`
//! writes (one row per `mcsctp perf --group ... --json` run) into SVG plots.
//! `tests/report_plots.rs` includes this file with `#[path]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

/// The command that produced the data, named on every plot.
const COMMAND: &str =
    "scripts/report.sh: mcsctp perf --group N [--fanout] [--loss P] -n COUNT -l SIZE, loopback";
/// The caveat every plot carries.
const MACHINE: [&str; 2] = [
    "a point is the mean of its configuration's runs (report.sh: 3); server and members in one process on a shared",
    "2-core machine (other builds running): compare the series, not absolute figures",
];

/// Plot size, pixels.
const SIZE: (u32, u32) = (900, 600);
/// The N of the goodput-against-loss and latency plots.
const LOSS_N: u32 = 16;
/// Message size of the N and loss sweeps, bytes.
const LENGTH: u32 = 1200;

/// Series names (the test looks for them in the SVG files).
pub(crate) const MULTICAST: &str = "multicast";
/// See [`MULTICAST`].
pub(crate) const FANOUT: &str = "fan-out";

/// One run: the CSV columns the plots use.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    fanout: bool,
    members: u32,
    plain: u32,
    length: u32,
    loss: f64,
    goodput_min: f64,
    goodput_mean: f64,
    bytes_per_message: f64,
    cpu_us_per_message: f64,
    /// (quantile, latency in microseconds), quantile ascending.
    cdf: Vec<(f64, f64)>,
}

/// Parses the CSV text (`name` for error messages). Every error names the
/// line and column.
pub(crate) fn parse(name: &str, text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| format!("{name}: empty, no header line"))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |c: &str| {
        cols.iter()
            .position(|h| *h == c)
            .ok_or_else(|| format!("{name}: no column {c:?} in the header"))
    };
    let ix = [
        col("mode")?,
        col("members")?,
        col("plain")?,
        col("length")?,
        col("loss")?,
        col("goodput_min")?,
        col("goodput_mean")?,
        col("server_bytes_per_message")?,
        col("server_cpu_us_per_message")?,
    ];
    // lat_pQ_us: the quantile Q percent; lat_max_us: the quantile 1.
    let mut cdf_cols = Vec::new();
    for (i, h) in cols.iter().enumerate() {
        if *h == "lat_max_us" {
            cdf_cols.push((1.0, i));
        } else if let Some(q) = h.strip_prefix("lat_p").and_then(|h| h.strip_suffix("_us")) {
            let q: f64 = q
                .parse()
                .map_err(|_| format!("{name}: column {h:?}: {q:?} is not a percentage"))?;
            cdf_cols.push((q / 100.0, i));
        }
    }
    cdf_cols.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rows = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            return Err(format!(
                "{name}:{}: {} fields, the header has {}",
                n + 1,
                f.len(),
                cols.len()
            ));
        }
        let num = |i: usize| -> Result<f64, String> {
            f[i].parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    format!(
                        "{name}:{}: column {}: {:?} is not a number",
                        n + 1,
                        cols[i],
                        f[i]
                    )
                })
        };
        let count = |i: usize| -> Result<u32, String> {
            f[i].parse::<u32>().map_err(|_| {
                format!(
                    "{name}:{}: column {}: {:?} is not a count",
                    n + 1,
                    cols[i],
                    f[i]
                )
            })
        };
        let fanout = match f[ix[0]] {
            "multicast" => false,
            "fanout" => true,
            m => {
                return Err(format!(
                    "{name}:{}: mode {m:?}, not multicast or fanout",
                    n + 1
                ));
            }
        };
        rows.push(Row {
            fanout,
            members: count(ix[1])?,
            plain: count(ix[2])?,
            length: count(ix[3])?,
            loss: num(ix[4])?,
            goodput_min: num(ix[5])?,
            goodput_mean: num(ix[6])?,
            bytes_per_message: num(ix[7])?,
            cpu_us_per_message: num(ix[8])?,
            cdf: cdf_cols
                .iter()
                .map(|&(q, i)| Ok((q, num(i)?)))
                .collect::<Result<_, String>>()?,
        });
    }
    if rows.is_empty() {
        return Err(format!("{name}: no data rows"));
    }
    Ok(rows)
}

/// The mean of `f` over the rows (of one configuration) grouped by `key`,
/// key ascending.
fn series(rows: &[&Row], key: impl Fn(&Row) -> f64, f: impl Fn(&Row) -> f64) -> Vec<(f64, f64)> {
    let mut m: BTreeMap<u64, (f64, f64, u32)> = BTreeMap::new();
    for r in rows {
        let k = key(r);
        let e = m.entry(k.to_bits()).or_insert((k, 0.0, 0));
        e.1 += f(r);
        e.2 += 1;
    }
    let mut v: Vec<(f64, f64)> = m
        .into_values()
        .map(|(k, s, n)| (k, s / f64::from(n)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// An axis label: up to 3 significant digits, no trailing zeros.
fn number(v: f64) -> String {
    let a = v.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

type Error = Box<dyn std::error::Error>;

/// A line series with its legend entry.
struct Line {
    name: String,
    color: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// X axis scale.
#[derive(Clone, Copy)]
enum Scale {
    Linear,
    Log,
}

/// One plot: title, axis labels, lines, caption lines under the chart.
struct Plot<'a> {
    file: PathBuf,
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    x_scale: Scale,
    y_max: Option<f64>,
    legend: SeriesLabelPosition,
    lines: Vec<Line>,
    notes: Vec<String>,
}

const BLUE_: RGBColor = RGBColor(31, 119, 180);
const RED_: RGBColor = RGBColor(214, 39, 40);
const GREEN_: RGBColor = RGBColor(44, 160, 44);
const ORANGE_: RGBColor = RGBColor(255, 127, 14);

fn draw(p: &Plot) -> Result<(), Error> {
    let pts = p.lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return Err(format!("{}: no data for this plot", p.file.display()).into());
    }
    let y1 = p.y_max.unwrap_or(if y1 > 0.0 { y1 * 1.1 } else { 1.0 });
    let root = SVGBackend::new(&p.file, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let notes = 16 * (p.notes.len() as u32 + 3) + 8;
    let (chart_area, note_area) = root.split_vertically(SIZE.1 - notes);
    let style = ("sans-serif", 14).into_font();
    let mut all_notes = vec![
        COMMAND.to_string(),
        MACHINE[0].to_string(),
        MACHINE[1].to_string(),
    ];
    all_notes.extend(p.notes.iter().cloned());
    for (i, n) in all_notes.iter().enumerate() {
        note_area.draw(&Text::new(
            n.clone(),
            (20, 4 + 16 * i as i32),
            style.clone(),
        ))?;
    }
    let mut b = ChartBuilder::on(&chart_area);
    b.caption(p.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80);
    let pad = |lo: f64, hi: f64| {
        if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        }
    };
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(p.x_desc)
                .y_desc(p.y_desc)
                .label_style(("sans-serif", 14))
                .light_line_style(TRANSPARENT)
                .x_label_formatter(&|x| number(*x))
                .y_label_formatter(&|y| number(*y))
                .axis_desc_style(("sans-serif", 16))
                .draw()?;
            for l in &p.lines {
                let c = l.color;
                let s = c.stroke_width(2);
                if l.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(l.points.iter().copied(), 8, 5, s))?
                        .label(l.name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2))
                        });
                } else {
                    chart
                        .draw_series(LineSeries::new(l.points.iter().copied(), s).point_size(3))?
                        .label(l.name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2))
                        });
                }
            }
            chart
                .configure_series_labels()
                .position(p.legend.clone())
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()?;
        }};
    }
    match p.x_scale {
        Scale::Linear => {
            let (a, z) = pad(x0, x1);
            finish!(b.build_cartesian_2d(a..z, 0.0..y1)?)
        }
        Scale::Log => {
            let (a, z) = pad(x0 * 0.9, x1 * 1.1);
            finish!(b.build_cartesian_2d((a..z).log_scale(), 0.0..y1)?)
        }
    }
    root.present()?;
    Ok(())
}

/// Renders the CSV at `csv` into SVG files in `out` (created if missing);
/// returns the files written. Plots without data in the CSV are skipped
/// (named in the error if none could be drawn).
pub(crate) fn render(csv: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let text = std::fs::read_to_string(csv).map_err(|e| format!("{}: {e}", csv.display()))?;
    let rows = parse(&csv.display().to_string(), &text)?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    for p in plots(&rows, out) {
        if p.lines.iter().all(|l| l.points.is_empty()) {
            skipped.push(p.file.display().to_string());
            continue;
        }
        draw(&p).map_err(|e| format!("{}: {e}", p.file.display()))?;
        written.push(p.file);
    }
    if written.is_empty() {
        return Err(format!(
            "{}: no rows for any plot (need N-sweep rows at {LENGTH} bytes, loss 0, no plain members)",
            csv.display()
        ));
    }
    Ok(written)
}

fn plots<'a>(rows: &'a [Row], out: &Path) -> Vec<Plot<'a>> {
    let pick = |fanout: bool, f: &dyn Fn(&Row) -> bool| -> Vec<&Row> {
        rows.iter()
            .filter(|r| r.fanout == fanout && r.plain == 0 && f(r))
            .collect()
    };
    let n_sweep = |fanout| pick(fanout, &|r| r.length == LENGTH && r.loss == 0.0);
    let by_n =
        |fanout: bool, f: fn(&Row) -> f64| series(&n_sweep(fanout), |r| f64::from(r.members), f);
    let pair = |f: fn(&Row) -> f64| {
        vec![
            Line {
                name: format!("{MULTICAST} (one group)"),
                color: BLUE_,
                dashed: false,
                points: by_n(false, f),
            },
            Line {
                name: format!("{FANOUT} (N unicast associations)"),
                color: RED_,
                dashed: false,
                points: by_n(true, f),
            },
        ]
    };
    let mut v = vec![
        Plot {
            file: out.join("bytes-per-message.svg"),
            title: "Server bytes on the wire per message vs group size N (1200-byte messages)",
            x_desc: "members N (log scale)",
            y_desc: "server bytes per message (B)",
            x_scale: Scale::Log,
            y_max: None,
            legend: SeriesLabelPosition::UpperLeft,
            lines: pair(|r| r.bytes_per_message),
            notes: vec!["bytes: all UDP payload the server sent (multicast + unicast, SCTP headers included) / messages".into()],
        },
        Plot {
            file: out.join("cpu-per-message.svg"),
            title: "Server CPU time per message vs group size N (1200-byte messages)",
            x_desc: "members N (log scale)",
            y_desc: "server thread CPU per message (µs)",
            x_scale: Scale::Log,
            y_max: None,
            legend: SeriesLabelPosition::UpperLeft,
            lines: pair(|r| r.cpu_us_per_message),
            notes: vec!["CPU: user + system time of the server's thread (CLOCK_THREAD_CPUTIME_ID) / messages".into()],
        },
    ];
    // Goodput against loss: multicast at N = LOSS_N; fan-out's loss-free
    // point as a horizontal reference over the same x range.
    let lossy = pick(false, &|r| r.length == LENGTH && r.members == LOSS_N);
    let mean = series(&lossy, |r| r.loss, |r| r.goodput_mean / 1e6);
    let min = series(&lossy, |r| r.loss, |r| r.goodput_min / 1e6);
    let fan = series(
        &pick(true, &|r| {
            r.length == LENGTH && r.members == LOSS_N && r.loss == 0.0
        }),
        |r| r.loss,
        |r| r.goodput_mean / 1e6,
    );
    let x_range = (
        mean.first().map_or(0.0, |p| p.0),
        mean.last().map_or(0.0, |p| p.0),
    );
    let mut lines = vec![
        Line {
            name: format!("{MULTICAST}, mean over members"),
            color: BLUE_,
            dashed: false,
            points: mean,
        },
        Line {
            name: format!("{MULTICAST}, slowest member"),
            color: GREEN_,
            dashed: false,
            points: min,
        },
    ];
    if let Some(&(_, g)) = fan.first() {
        lines.push(Line {
            name: format!("{FANOUT}, mean, no injected loss (reference)"),
            color: RED_,
            dashed: true,
            points: vec![(x_range.0, g), (x_range.1, g)],
        });
    }
    v.push(Plot {
        file: out.join("goodput-vs-loss.svg"),
        title: "Goodput per member vs injected loss, N = 16 (1200-byte messages)",
        x_desc: "loss injected at each multicast member (% of group datagrams)",
        y_desc: "goodput per member (MB/s)",
        x_scale: Scale::Linear,
        y_max: None,
        legend: SeriesLabelPosition::LowerLeft,
        lines,
        notes: vec![
            "--loss drops group datagrams at multicast members only; fan-out has no injected loss, its loss-free point is drawn across".into(),
            "goodput: bytes a member delivered / time from the first send to its last message".into(),
        ],
    });
    // Latency CDF at N = LOSS_N.
    let cdf = |fanout: bool, loss: f64| -> Vec<(f64, f64)> {
        let r = pick(fanout, &|r| {
            r.length == LENGTH && r.members == LOSS_N && r.loss == loss
        });
        r.first()
            .map(|r| {
                r.cdf
                    .iter()
                    .map(|&(q, us)| ((us / 1000.0).max(0.001), q))
                    .collect()
            })
            .unwrap_or_default()
    };
    v.push(Plot {
        file: out.join("latency-cdf.svg"),
        title: "Delivery latency CDF, N = 16 (1200-byte messages)",
        x_desc: "send call to delivery (ms, log scale)",
        y_desc: "fraction of deliveries, all members",
        x_scale: Scale::Log,
        y_max: Some(1.0),
        legend: SeriesLabelPosition::UpperLeft,
        lines: vec![
            Line {
                name: format!("{MULTICAST}, loss 0"),
                color: BLUE_,
                dashed: false,
                points: cdf(false, 0.0),
            },
            Line {
                name: format!("{MULTICAST}, loss 1 %"),
                color: ORANGE_,
                dashed: false,
                points: cdf(false, 1.0),
            },
            Line {
                name: format!("{FANOUT}, loss 0"),
                color: RED_,
                dashed: false,
                points: cdf(true, 0.0),
            },
        ],
        notes: vec![
            "latency: from the send call to delivery; the server offers all COUNT messages back to back, so it includes the wait in its send buffer".into(),
            "points: the quantiles 0.01 0.05 0.1 0.2 ... 0.9 0.95 0.99 0.999 and the max of perf --group's latency histogram (1.6 % buckets)".into(),
            "of the first run of each configuration, joined by straight lines (the CDF between two points is interpolated)".into(),
        ],
    });
    // Message size sweep: server bytes per payload byte, at the N that has
    // more than one size (multicast and fan-out).
    let sizes = |fanout: bool| {
        let mut by_n: BTreeMap<u32, Vec<&Row>> = BTreeMap::new();
        for r in pick(fanout, &|r| r.loss == 0.0) {
            by_n.entry(r.members).or_default().push(r);
        }
        by_n.into_iter()
            .filter(|(_, rs)| {
                let mut l: Vec<u32> = rs.iter().map(|r| r.length).collect();
                l.sort_unstable();
                l.dedup();
                l.len() > 2
            })
            .map(|(n, rs)| {
                (
                    n,
                    series(
                        &rs,
                        |r| f64::from(r.length),
                        |r| r.bytes_per_message / f64::from(r.length),
                    ),
                )
            })
            .next()
    };
    let (m, f) = (sizes(false), sizes(true));
    let n = m.as_ref().or(f.as_ref()).map_or(0, |s| s.0);
    v.push(Plot {
        file: out.join("bytes-vs-size.svg"),
        title: if n == 0 {
            ""
        } else {
            "Server bytes per payload byte vs message size"
        },
        x_desc: "message size (bytes, log scale)",
        y_desc: "server bytes / payload bytes",
        x_scale: Scale::Log,
        y_max: None,
        legend: SeriesLabelPosition::UpperRight,
        lines: vec![
            Line {
                name: format!("{MULTICAST}, N = {n}"),
                color: BLUE_,
                dashed: false,
                points: m.map(|s| s.1).unwrap_or_default(),
            },
            Line {
                name: format!("{FANOUT}, N = {n}"),
                color: RED_,
                dashed: false,
                points: f.map(|s| s.1).unwrap_or_default(),
            },
        ],
        notes: vec![
            "all UDP payload the server sent (multicast + unicast) / message payload bytes; loss 0"
                .into(),
        ],
    });
    v
}
