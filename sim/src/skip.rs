//! Tests that need something outside the process (root, tshark, usrsctp)
//! and find it missing: one visible, counted `SKIPPED` line instead of a
//! silent pass, and a failure under CI.
//!
//! libtest captures what a passing test prints with `println!` /
//! `eprintln!`, so a test that returns early looks exactly like one that
//! did its work. [`skip`] therefore writes its line straight to the
//! process's stderr (which libtest does not capture) and appends it to the
//! file named by [`SKIP_LOG_ENV`], from which `scripts/test` prints a
//! summary of every skipped test at the end of a run. With `CI=true`
//! nothing is skipped: a missing prerequisite fails the test.

use std::fmt::Display;
use std::io::Write;

/// The environment variable naming the file that every skip appends its
/// line to (set by `scripts/test`; without it the line goes to stderr only).
pub const SKIP_LOG_ENV: &str = "MCSCTP_SKIP_LOG";

/// Whether missing prerequisites fail tests (`CI=true`) instead of
/// skipping them.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The name of the running test, as libtest names the thread that runs it
/// (`module::test_name`), after the test binary's name (cargo's hash
/// suffix removed): `interop_usrsctp::usrsctp_client_echo`.
fn test_name() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| match s.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => s,
        })
        .unwrap_or_else(|| "?".into());
    match std::thread::current().name() {
        Some(t) if t != "main" => format!("{binary}::{t}"),
        _ => binary,
    }
}

/// The running test cannot do its work because `why` (a missing tool or
/// privilege, with how to get it). Under CI this panics; otherwise it
/// prints `SKIPPED: <test>: <why>` on stderr, appends the line to the file
/// named by [`SKIP_LOG_ENV`], and returns so that the test can return.
///
/// # Panics
///
/// With `CI=true`, always (a prerequisite is missing).
pub fn skip(why: impl Display) {
    let test = test_name();
    if under_ci() {
        panic!("{test}: prerequisite missing (CI=true makes this a failure): {why}");
    }
    let line = format!("SKIPPED: {test}: {why}\n");
    // Straight to the stream: libtest captures eprintln! of passing tests.
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os(SKIP_LOG_ENV) {
        // One write of one short line to a file opened for appending, so
        // lines from concurrent test processes do not interleave.
        let logged = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = logged {
            panic!("cannot append to {SKIP_LOG_ENV}={}: {e}", path.display());
        }
    }
}

/// `found`'s value, or `None` after [`skip`]ping with its error as the
/// reason: `let Some(tool) = require(find_tool()) else { return };`.
///
/// # Panics
///
/// With `CI=true`, when `found` is an error.
pub fn require<T, E: Display>(found: Result<T, E>) -> Option<T> {
    match found {
        Ok(t) => Some(t),
        Err(why) => {
            skip(why);
            None
        }
    }
}
