//! "The draft's defaults are the code's defaults, read from one place":
//! parses the table "Protocol parameters and defaults" out of the draft
//! (§"Protocol Parameters") and checks that every row equals the value of
//! `mcsctp_mcast::defaults`, and that every constant there appears in the
//! table, in the same order.

mod common;

use std::time::Duration;

use mcsctp_mcast::defaults::{Base, CountRule, DurationRule, PARAMETERS, Parameter, Unit, Value};

fn unit(s: &str) -> Option<Unit> {
    Some(match s {
        "octets" => Unit::Octets,
        "MTSNs" => Unit::Mtsns,
        "packets" => Unit::Packets,
        "items" => Unit::Items,
        "events" => Unit::Events,
        "members" => Unit::Members,
        "retransmissions" => Unit::Retransmissions,
        "MSACKs/s" => Unit::MsacksPerSecond,
        "bit/s" => Unit::BitsPerSecond,
        _ => return None,
    })
}

fn time(n: u64, u: &str) -> Option<Duration> {
    Some(match u {
        "ms" => Duration::from_millis(n),
        "us" => Duration::from_micros(n),
        "s" => Duration::from_secs(n),
        _ => return None,
    })
}

fn base(s: &str) -> Base {
    match s {
        "SRTT_k" => Base::SrttK,
        "SRTT_g" => Base::SrttG,
        "BDP_g" => Base::BdpG,
        "Wp" => Base::Wp,
        other => panic!("unknown base {other:?}"),
    }
}

/// Parses a Default cell: `on`/`off`, `N`, `N unit`, `0.NN`, or
/// `max(K * BASE, N unit)`.
fn parse_cell(cell: &str) -> Value {
    let cell = cell.trim();
    match cell {
        "on" => return Value::Flag(true),
        "off" => return Value::Flag(false),
        _ => {}
    }
    if let Some(inner) = cell.strip_prefix("max(").and_then(|c| c.strip_suffix(')')) {
        let (term, floor) = inner.split_once(',').expect("max(term, floor)");
        let (k, b) = term.split_once('*').expect("K * BASE");
        let factor: f64 = k.trim().parse().expect("a factor");
        let base = base(b.trim());
        let (n, u) = floor.trim().split_once(' ').expect("a floor with a unit");
        let n: u64 = n.parse().expect("an integer floor");
        return match time(n, u) {
            Some(floor) => Value::DurationRule(DurationRule {
                factor,
                base,
                floor,
            }),
            None => Value::CountRule(CountRule {
                factor,
                base,
                floor: n,
                unit: unit(u).unwrap_or_else(|| panic!("unknown unit {u:?}")),
            }),
        };
    }
    match cell.split_once(' ') {
        Some((n, u)) => {
            let n: u64 = n
                .parse()
                .unwrap_or_else(|_| panic!("not a count: {cell:?}"));
            match time(n, u) {
                Some(d) => Value::Duration(d),
                None => Value::Count(n, unit(u).unwrap_or_else(|| panic!("unknown unit {u:?}"))),
            }
        }
        None if cell.contains('.') => Value::Ratio(cell.parse().expect("a ratio")),
        None => Value::Count(cell.parse().expect("a bare count"), Unit::None),
    }
}

fn table() -> Vec<(String, Value)> {
    common::parameter_table(&common::draft_text())
        .into_iter()
        .map(|(name, cell)| {
            let v = parse_cell(&cell);
            (name, v)
        })
        .collect()
}

#[test]
fn every_row_of_the_draft_equals_the_code() {
    for (name, value) in table() {
        let code: Option<&Parameter> = PARAMETERS.iter().find(|p| p.name == name);
        let code = code.unwrap_or_else(|| panic!("{name} is in the draft but not in defaults.rs"));
        assert_eq!(
            code.value, value,
            "{name}: the draft says {value}, the code {}",
            code.value
        );
    }
}

#[test]
fn every_constant_appears_in_the_draft_in_order() {
    let draft: Vec<String> = table().into_iter().map(|(n, _)| n).collect();
    let code: Vec<&str> = PARAMETERS.iter().map(|p| p.name).collect();
    assert_eq!(
        draft, code,
        "the draft's table and defaults.rs list different parameters"
    );
}

#[test]
fn every_name_is_defined_in_the_text_too() {
    // Each row's name is explained after the table (a definition whose
    // term lists it) and used in the section the row cites.
    let draft = common::draft_text();
    let after = &draft[draft
        .find(r#"{: title="Protocol parameters and defaults"}"#)
        .expect("the table")..];
    for p in PARAMETERS {
        assert!(
            after.contains(p.name),
            "{} has no explanation below the table",
            p.name
        );
    }
}

#[test]
fn the_cell_parser_reads_what_the_code_prints() {
    for p in PARAMETERS {
        assert_eq!(parse_cell(&p.value.to_string()), p.value, "{}", p.name);
    }
}
