//! Cache coherency over a multicast group, on loopback: a home node owns a
//! key-value store, N clients cache reads; a write is applied at the home,
//! its invalidation goes to the group by multicast, and the writer's
//! acknowledgement comes back by unicast behind a BARRIER. A checker
//! verifies that no client reads a value older than one it was told of
//! and that every cache converges to the home's state. The workload is
//! [`mcsctp::coherency`] (the one `mcsctp demo` runs); this example exposes
//! all its knobs.
//!
//! ```text
//! cargo run --release --example cache_coherency -- --clients 6 --fallback 1 --plain 1 --loss 2
//! cargo run --release --example cache_coherency -- --no-barrier --loss 5   # the checker finds stale reads
//! ```
//!
//! Exit status: 0 coherent, 3 incoherent, 2 bad arguments, 1 failure.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mcsctp::coherency::{self, ClientSpec, RunError, Settings};

/// Cache coherency over a multicast group, on loopback.
#[derive(Parser, Debug)]
struct Args {
    /// Multicast members (each drops --loss of its group datagrams).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Additional members that drop every group datagram (100 % loss):
    /// kept in unicast fallback.
    #[arg(long, default_value_t = 1)]
    fallback: usize,
    /// Additional members cut off from multicast from 20 % to 50 % of the
    /// run (they fall back, then return).
    #[arg(long, default_value_t = 1)]
    flapping: usize,
    /// Additional plain SCTP peers (no multicast extension).
    #[arg(long, default_value_t = 1)]
    plain: usize,
    /// Percentage of group datagrams each multicast member drops.
    #[arg(long, default_value_t = 1.0)]
    loss: f64,
    /// Keys in the store.
    #[arg(long, default_value_t = 64)]
    keys: u32,
    /// Percentage of operations that are writes.
    #[arg(long, default_value_t = 20.0)]
    writes: f64,
    /// Seconds of operations.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Operations per client at most (default: until --duration ends).
    #[arg(long)]
    ops: Option<u64>,
    /// Operations per second per client at most (0: unlimited).
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// Size of values and invalidations, bytes.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Acknowledge writes without a BARRIER.
    #[arg(long = "no-barrier")]
    no_barrier: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let a = Args::parse();
    let duration_ok = a.duration > 0.0 && a.duration <= 86_400.0;
    if !duration_ok || !(0.0..=100.0).contains(&a.loss) {
        eprintln!("cache_coherency: --duration must be in (0, 86400] and --loss in [0, 100]");
        return ExitCode::from(2);
    }
    let mut clients = vec![
        ClientSpec::Multicast {
            loss: a.loss / 100.0
        };
        a.clients
    ];
    clients.extend(std::iter::repeat_n(
        ClientSpec::Multicast { loss: 1.0 },
        a.fallback,
    ));
    clients.extend(std::iter::repeat_n(
        ClientSpec::Flapping {
            from: 0.2,
            until: 0.5,
        },
        a.flapping,
    ));
    clients.extend(std::iter::repeat_n(ClientSpec::Plain, a.plain));
    let settings = Settings {
        clients,
        keys: a.keys,
        write_ratio: a.writes / 100.0,
        duration: Duration::from_secs_f64(a.duration),
        ops_per_client: a.ops,
        rate: (a.rate > 0).then_some(a.rate),
        size: a.size,
        barrier: !a.no_barrier,
        group: None,
    };
    let mut last = None;
    let r = coherency::run(&settings, |p| {
        if last != Some(p.elapsed.as_secs()) {
            last = Some(p.elapsed.as_secs());
            println!(
                "{:>4.1} s {:>8} ops, {} stale reads so far",
                p.elapsed.as_secs_f64(),
                p.ops,
                p.stale_reads
            );
        }
    })
    .await;
    match r {
        Ok(report) => {
            println!("\n{report}");
            if report.coherent() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            }
        }
        Err(RunError::Settings(e)) => {
            eprintln!("cache_coherency: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("cache_coherency: {e}");
            ExitCode::FAILURE
        }
    }
}
