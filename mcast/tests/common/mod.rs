//! Reading the Internet-Draft from the tests, so that the draft and the
//! code cannot diverge: the example packets of its appendix "Example
//! Packets" and the table of its section "Protocol Parameters" are taken
//! from `draft/draft-mcsctp-tsvwg-sctp-multicast.md` itself.

#![allow(dead_code)]

use std::path::PathBuf;

/// The draft's kramdown source.
pub(crate) fn draft_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../draft/draft-mcsctp-tsvwg-sctp-multicast.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the draft at {}: {e}", path.display()))
}

/// Every `{#ex-...}` anchor of the draft, in order.
pub(crate) fn example_anchors(draft: &str) -> Vec<String> {
    draft
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let at = l.find("{#ex-")?;
            let end = l[at..].find('}')?;
            Some(l[at + 2..at + end].to_string())
        })
        .collect()
}

/// The hex dump of the example whose heading carries `{#anchor}`: the first
/// `~~~` block after the heading, lines `OOOO  hh hh ...` with the offset
/// checked. Panics (failing the test) if the example is missing or
/// malformed.
pub(crate) fn example(draft: &str, anchor: &str) -> Vec<u8> {
    let tag = format!("{{#{anchor}}}");
    let mut lines = draft
        .lines()
        .skip_while(|l| !(l.starts_with('#') && l.contains(&tag)));
    assert!(
        lines.next().is_some(),
        "the draft has no example {{#{anchor}}}"
    );
    let mut lines = lines.skip_while(|l| l.trim() != "~~~");
    assert!(lines.next().is_some(), "example {anchor} has no ~~~ block");
    let mut bytes = Vec::new();
    for line in lines.take_while(|l| l.trim() != "~~~") {
        let (offset, hex) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("example {anchor}: not a dump line: {line:?}"));
        let offset = usize::from_str_radix(offset, 16)
            .unwrap_or_else(|_| panic!("example {anchor}: bad offset in {line:?}"));
        assert_eq!(offset, bytes.len(), "example {anchor}: offset of {line:?}");
        for h in hex.split_whitespace() {
            assert_eq!(h.len(), 2, "example {anchor}: {h:?} is not one octet");
            bytes.push(
                u8::from_str_radix(h, 16)
                    .unwrap_or_else(|_| panic!("example {anchor}: bad octet {h:?}")),
            );
        }
    }
    assert!(!bytes.is_empty(), "example {anchor} is empty");
    bytes
}

/// The rows of the draft's table titled "Protocol parameters and
/// defaults": (name, default cell), in order.
pub(crate) fn parameter_table(draft: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = draft.lines().collect();
    let title = lines
        .iter()
        .position(|l| l.contains(r#"{: title="Protocol parameters and defaults"}"#))
        .expect("the draft has the table \"Protocol parameters and defaults\"");
    let start = lines[..title]
        .iter()
        .rposition(|l| !l.starts_with('|'))
        .map_or(0, |i| i + 1);
    let rows = &lines[start..title];
    assert!(rows.len() > 2, "the parameter table is empty");
    assert!(
        rows[0].starts_with("| Name | Default |"),
        "header: {}",
        rows[0]
    );
    rows[2..]
        .iter()
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            assert!(cells.len() >= 2, "row {row:?}");
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect()
}
