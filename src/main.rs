//! `mcsctp`: the command-line tool. Its verbs mirror usrsctp's example
//! programs (`echo_server`, `discard_server`, `client`, `tsctp`) so that
//! either side of a test can be swapped for the other. `group-server` and
//! `member` run the multicast extension: a group server sends generated
//! messages or stdin lines to its group, members check what they get, and
//! both print a summary (one JSON object with `--json`) that a script can
//! compare.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clap::{Args, Parser, Subcommand};
use mcsctp::core::endpoint::AssociationStats;
use mcsctp::{
    Association, Config, DeliveryKind, Endpoint, Error, Interface, MemberInfo, MemberKind,
    MulticastConfig, SendParams,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncBufReadExt;

#[derive(Parser, Debug)]
#[command(name = "mcsctp", version, about = "SCTP over UDP with reliable multicast", long_about = None)]
struct Cli {
    /// Tracing output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The demo, on loopback: a home node serves a key-value store to a
    /// handful of caching clients (multicast members, one that loses its
    /// multicast path for a while, one plain SCTP peer); writes invalidate
    /// the caches by multicast and are acknowledged behind a BARRIER; a
    /// checker verifies that no read is stale. Ends with a table of the
    /// members and the octets multicast saved over fan-out. Exit status 3
    /// if the checker finds the caches incoherent.
    Demo(DemoArgs),
    /// Echo every message back on its stream (usrsctp's echo_server).
    EchoServer(ServerArgs),
    /// Receive and discard every message (usrsctp's discard_server).
    DiscardServer(ServerArgs),
    /// Send each line of stdin as a message and print what comes back
    /// (usrsctp's client).
    Client(ClientArgs),
    /// Throughput test, a drop-in for usrsctp's tsctp: with an address it
    /// sends, without one it receives and prints one CSV line per
    /// association.
    Perf(PerfArgs),
    /// Serve a multicast group: accept members, send generated messages
    /// (--count, --size) or each line of stdin to the group, wait until
    /// every member has acknowledged them all, print a summary.
    GroupServer(GroupServerArgs),
    /// Join a group server as a member (or as a plain SCTP peer with
    /// --plain), receive its messages and print a summary.
    Member(MemberArgs),
}

#[derive(Args, Debug)]
struct Common {
    /// Local UDP encapsulation port (RFC 6951).
    #[arg(long = "local-udp-port", default_value_t = mcsctp::DEFAULT_UDP_PORT)]
    local_udp_port: u16,
    /// Remote UDP encapsulation port (clients; servers answer each peer at
    /// the port its packets came from).
    #[arg(long = "remote-udp-port", default_value_t = mcsctp::DEFAULT_UDP_PORT)]
    remote_udp_port: u16,
    /// Local IP address to bind.
    #[arg(long = "bind", default_value = "0.0.0.0")]
    bind: IpAddr,
}

#[derive(Args, Debug)]
struct ServerArgs {
    /// SCTP port (7 for echo, 9 for discard by default).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
    /// Largest message received whole (bytes; larger ones arrive, and are
    /// echoed, in pieces). Raises the receive buffer to hold two of them.
    #[arg(long = "max-message-size", value_parser = parse_message_size)]
    max_message_size: Option<usize>,
    #[command(flatten)]
    rto: RtoArgs,
    #[command(flatten)]
    common: Common,
}

/// Retransmission timeout bounds (RFC 9260 §6.3.1, §16).
#[derive(Args, Debug)]
struct RtoArgs {
    /// RTO.Min in milliseconds (default 1000, RFC 9260 §16; a data-centre
    /// path may want e.g. 10).
    #[arg(long = "rto-min", value_name = "MS", value_parser = parse_rto_ms)]
    rto_min: Option<Duration>,
    /// RTO.Initial in milliseconds (default 1000).
    #[arg(long = "rto-initial", value_name = "MS", value_parser = parse_rto_ms)]
    rto_initial: Option<Duration>,
}

impl RtoArgs {
    fn apply(&self, cfg: &mut Config) {
        let a = &mut cfg.core.association;
        if let Some(v) = self.rto_min {
            a.rto_min = v;
        }
        if let Some(v) = self.rto_initial {
            a.rto_initial = v;
        }
    }
}

/// Milliseconds of an RTO bound: 1 to 60000 (RTO.Max, which the bounds
/// must not exceed).
fn parse_rto_ms(s: &str) -> Result<Duration, String> {
    let v: u64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number of milliseconds"))?;
    if !(1..=60_000).contains(&v) {
        return Err(format!("{v} ms is out of range 1..=60000"));
    }
    Ok(Duration::from_millis(v))
}

#[derive(Args, Debug)]
struct ClientArgs {
    /// Remote IP address.
    addr: IpAddr,
    /// Remote SCTP port.
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    sctp_port: u16,
    /// Local SCTP port.
    #[arg(long = "local-port", default_value_t = 0)]
    local_port: u16,
    /// Seconds to wait for the association to come up.
    #[arg(long = "connect-timeout", default_value = "60", value_parser = parse_seconds)]
    connect_timeout: Duration,
    /// Largest message received whole (bytes).
    #[arg(long = "max-message-size", value_parser = parse_message_size)]
    max_message_size: Option<usize>,
    /// Seconds to wait once stdin ends: for the echoes of every line sent,
    /// then for the graceful close to complete (SHUTDOWN COMPLETE). Past
    /// either, the client aborts the association and fails.
    #[arg(long = "close-timeout", default_value = "10", value_parser = parse_seconds)]
    close_timeout: Duration,
    /// Do not wait for echoes (e.g. against a discard server): close as
    /// soon as stdin ends.
    #[arg(long = "no-echo")]
    no_echo: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true, after_help = perf_group::HELP)]
struct PerfArgs {
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Remote address: client mode. Without it: server mode.
    address: Option<IpAddr>,
    /// Message length in bytes.
    #[arg(short = 'l', default_value_t = 1024)]
    length: usize,
    /// Number of messages to send (0: unbounded, stop with -T).
    #[arg(short = 'n', default_value_t = 1024)]
    messages: u64,
    /// Seconds to send (sets -n 0).
    #[arg(short = 'T')]
    time: Option<u64>,
    /// SCTP port.
    #[arg(short = 'p', default_value_t = 5001, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Unordered messages.
    #[arg(short = 'u')]
    unordered: bool,
    /// Nagle off (mcsctp never delays messages; accepted for tsctp
    /// compatibility).
    #[arg(short = 'D')]
    nodelay: bool,
    /// PR-SCTP policy: 0 none, 1 ttl (ms), 2 rtx (count).
    #[arg(short = 'P', default_value_t = 0)]
    policy: u8,
    /// PR-SCTP value for -P.
    #[arg(short = 't', default_value_t = 0)]
    pr_value: u32,
    /// Local UDP encapsulation port.
    #[arg(short = 'E', long = "local-udp-port", default_value_t = mcsctp::DEFAULT_UDP_PORT)]
    local_udp_port: u16,
    /// Remote UDP encapsulation port.
    #[arg(short = 'U', long = "remote-udp-port", default_value_t = mcsctp::DEFAULT_UDP_PORT)]
    remote_udp_port: u16,
    /// Local IP address.
    #[arg(short = 'L', long = "bind", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Receive buffer (bytes).
    #[arg(short = 'R')]
    rcvbuf: Option<usize>,
    /// Send buffer (bytes).
    #[arg(short = 'S')]
    sndbuf: Option<usize>,
    /// Path MTU: largest SCTP packet is this minus IP and UDP headers.
    #[arg(long = "mtu", default_value_t = 1500)]
    mtu: usize,
    /// Seconds between throughput reports.
    #[arg(short = 'd')]
    report: Option<u64>,
    /// Print the summary as JSON instead of tsctp's CSV.
    #[arg(long)]
    json: bool,
    /// Send over I-DATA when the peer offers it.
    #[arg(long = "idata", default_value_t = true, action = clap::ArgAction::Set)]
    idata: bool,
    /// Client: seconds to wait for the association to come up.
    #[arg(long = "connect-timeout", default_value = "60", value_parser = parse_seconds)]
    connect_timeout: Duration,
    /// Stamp each message with its sequence number (client) or check the
    /// stamps, lengths and contents (server); needs ordered messages of at
    /// least 8 bytes. The JSON summary counts the messages that failed.
    #[arg(long)]
    verify: bool,
    /// Congestion control of the data sender: RFC 9260 §7.2's own
    /// (`rfc9260`, the default) or CUBIC (`cubic`, RFC 9438).
    #[arg(long = "cc", value_enum, default_value_t = CongestionArg::Rfc9260)]
    cc: CongestionArg,
    /// Group mode: a group server and N members in this process on
    /// loopback (see below).
    #[arg(long = "group", value_name = "N", conflicts_with = "address",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    group: Option<u32>,
    /// Group mode: the last K members join as plain SCTP peers.
    #[arg(long, value_name = "K", requires = "group")]
    plain: Option<u32>,
    /// Group mode: each multicast member drops this percentage (0 to 100)
    /// of the group datagrams it receives, at random.
    #[arg(long, value_name = "PERCENT", requires = "group", value_parser = parse_percent)]
    loss: Option<f64>,
    /// Group mode: send the same workload as N unicast associations
    /// (fan-out) instead of to a group.
    #[arg(long, requires = "group")]
    fanout: bool,
    /// Group mode: the group (default: 239.255.x.99 and a free port).
    #[arg(long = "group-address", value_name = "ADDR:PORT", requires = "group",
          value_parser = parse_group)]
    group_address: Option<SocketAddr>,
    /// Group mode: the interface of the group, by name or address
    /// (default lo).
    #[arg(long, value_name = "NAME|ADDR", requires = "group")]
    interface: Option<Interface>,
    #[command(flatten)]
    rto: RtoArgs,
}

/// A percentage, 0 to 100.
fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{v} is out of range 0..=100")),
        Err(_) => Err(format!("'{s}' is not a percentage")),
    }
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Clients, at least 3: one plain SCTP peer, one member cut off from
    /// multicast from 20 % to 50 % of the run, the others multicast
    /// members.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(3..=64))]
    members: u64,
    /// Seconds the clients issue reads and writes.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    duration: Duration,
    /// Percentage of group datagrams each multicast member drops (0 to
    /// 100), besides the outage of the cut-off member.
    #[arg(long, default_value = "0", value_parser = parse_percent_share)]
    loss: f64,
    /// Size of values and invalidation messages, bytes (24 to 65536).
    #[arg(long, default_value_t = 256, value_parser = parse_demo_size)]
    size: usize,
    /// Keys in the store.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    keys: u32,
    /// Percentage of operations that are writes.
    #[arg(long, default_value = "20", value_parser = parse_percent_share)]
    writes: f64,
    /// Operations per second per client at most.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    rate: u32,
    /// Acknowledge writes as ordinary unicast messages, not behind a
    /// BARRIER: under loss the checker then finds stale reads.
    #[arg(long = "no-barrier")]
    no_barrier: bool,
}

/// A percentage, 0 to 100, as a share (0 to 1).
fn parse_percent_share(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("{s} % is out of range [0, 100]"));
    }
    Ok(v / 100.0)
}

/// The demo's value size.
fn parse_demo_size(s: &str) -> Result<usize, String> {
    let v: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a size in bytes"))?;
    let (lo, hi) = (mcsctp::coherency::MIN_SIZE, mcsctp::coherency::MAX_SIZE);
    if !(lo..=hi).contains(&v) {
        return Err(format!("{s} bytes is out of range [{lo}, {hi}]"));
    }
    Ok(v)
}

#[derive(Args, Debug)]
struct GroupServerArgs {
    /// The group: an IPv4 or IPv6 multicast address and a UDP port of its
    /// own, e.g. 239.255.0.1:9907.
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_group)]
    group: SocketAddr,
    /// The interface group packets leave on, by name or address (default:
    /// the interface of --bind).
    #[arg(long, value_name = "NAME|ADDR")]
    interface: Option<Interface>,
    /// SCTP port.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Local UDP encapsulation port (RFC 6951); group packets leave from it.
    #[arg(long = "local-udp-port", default_value_t = mcsctp::DEFAULT_UDP_PORT)]
    local_udp_port: u16,
    /// Local IP address to bind (the source address of group packets).
    #[arg(long = "bind", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Wait for this many members (plain peers included) before sending.
    #[arg(long, default_value_t = 0)]
    members: usize,
    /// Send this many generated messages instead of the lines of stdin.
    /// Message i is i as 8 bytes big-endian, then pseudo-random bytes
    /// derived from i (a member recognises them and checks their order).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Size of each generated message in bytes, 8 to 65536 (default 1000).
    #[arg(long, requires = "count", value_parser = parse_generated_size)]
    size: Option<usize>,
    /// IPv4 TTL / IPv6 hop limit of group packets.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=255))]
    ttl: u32,
    /// Group messages at most queued for one plain peer (beyond, it is
    /// removed from the group): a fan-out to plain peers of more messages
    /// than this, sent at once, needs it raised.
    #[arg(long = "plain-backlog", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..))]
    plain_backlog: u64,
    /// Seconds each wait may take: for the members, for room in the
    /// group's send buffer, for the acknowledgement of every message.
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    timeout: Duration,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Print each membership event on stderr as it happens, one line
    /// `mcsctp: event <what> <member address>` (what: joined,
    /// plain-joined, fallback, returned, left, removed, or the member's new
    /// state).
    #[arg(long)]
    events: bool,
    #[command(flatten)]
    rto: RtoArgs,
}

#[derive(Args, Debug)]
struct MemberArgs {
    /// The group server's IP address.
    addr: IpAddr,
    /// The group server's SCTP port.
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    sctp_port: u16,
    /// The interface to join the group on, by name or address (default:
    /// the interface of --bind, or the kernel's choice).
    #[arg(long, value_name = "NAME|ADDR", conflicts_with = "plain")]
    interface: Option<Interface>,
    /// Local UDP encapsulation port (0, the default: an ephemeral one, so
    /// that several members can run on one host).
    #[arg(long = "local-udp-port", default_value_t = 0)]
    local_udp_port: u16,
    /// The server's UDP encapsulation port.
    #[arg(long = "remote-udp-port", default_value_t = mcsctp::DEFAULT_UDP_PORT)]
    remote_udp_port: u16,
    /// Local IP address to bind.
    #[arg(long = "bind", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Exit after this many messages (without it: when the association
    /// ends, or on Ctrl-C).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Connect as a plain SCTP peer, without the multicast extension: the
    /// server sends it the group's messages as ordinary DATA.
    #[arg(long)]
    plain: bool,
    /// Seconds to wait for the association, and then for the --count
    /// messages.
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    timeout: Duration,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rto: RtoArgs,
}

/// A group address: a multicast address and a non-zero port.
fn parse_group(s: &str) -> Result<SocketAddr, String> {
    let a: SocketAddr = s
        .parse()
        .map_err(|_| format!("'{s}' is not ADDR:PORT (e.g. 239.255.0.1:9907)"))?;
    if !a.ip().is_multicast() {
        return Err(format!("{} is not a multicast address", a.ip()));
    }
    if a.port() == 0 {
        return Err("the group needs a UDP port (not 0)".into());
    }
    Ok(a)
}

/// A generated message's size: its 8-byte number and up to 64 KiB in all.
fn parse_generated_size(s: &str) -> Result<usize, String> {
    let v: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a size in bytes"))?;
    if !(8..=65_536).contains(&v) {
        return Err(format!("{v} is out of range 8..=65536"));
    }
    Ok(v)
}

/// `perf --cc`: the congestion controller.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum CongestionArg {
    /// RFC 9260 §7.2 (mcsctp's default).
    Rfc9260,
    /// CUBIC, RFC 9438.
    Cubic,
}

/// A duration in (possibly fractional) seconds, positive and at most a day.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(v > 0.0 && v <= 86_400.0) {
        return Err(format!("{s} s is out of range (0, 86400]"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A message size: 1 byte to 1 GiB.
fn parse_message_size(s: &str) -> Result<usize, String> {
    let v: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a size in bytes"))?;
    if !(1..=1 << 30).contains(&v) {
        return Err(format!("{v} is out of range 1..=1073741824"));
    }
    Ok(v)
}

/// Sets the largest message delivered whole, with buffers that can hold it
/// (two in reassembly, one queued for sending).
fn set_max_message_size(cfg: &mut Config, size: usize) {
    let a = &mut cfg.core.association;
    a.max_message_size = size;
    a.receive_buffer = a.receive_buffer.max(2 * size + 64 * 1024);
    a.send_buffer = a.send_buffer.max(size);
    cfg.core.receive_memory_budget = cfg.core.receive_memory_budget.max(4 * a.receive_buffer);
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help, --version: to stdout, exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Bad arguments: one line on stderr, exit 2.
            let msg = match e.kind() {
                // clap would print the whole help here.
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    "a subcommand is required: demo, echo-server, discard-server, client, \
                     perf, group-server or member"
                        .to_string()
                }
                _ => one_line(&e.render().to_string()),
            };
            eprintln!("mcsctp: {msg} (see --help)");
            return ExitCode::from(2);
        }
    };
    init_tracing(cli.verbose);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcsctp: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r: Result<(), Failure> = rt.block_on(async move {
        match cli.command {
            Command::EchoServer(a) => server(a, 7, true).await.map_err(Into::into),
            Command::DiscardServer(a) => server(a, 9, false).await.map_err(Into::into),
            Command::Client(a) => client(a).await.map_err(Into::into),
            Command::Perf(a) => match a.group {
                Some(n) => perf_group::run(a, n),
                None => perf(a).await.map_err(Into::into),
            },
            Command::Demo(a) => demo(a).await,
            Command::GroupServer(a) => group_server(a).await,
            Command::Member(a) => member(a).await,
        }
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcsctp: {}", e.msg);
            ExitCode::from(e.code)
        }
    }
}

/// The first line of clap's message, without its "error: " prefix; a
/// line that ends with a colon ("the following required arguments were
/// not provided:") takes the next one with it.
fn one_line(msg: &str) -> String {
    let mut lines = msg.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or(msg.trim());
    let first = first.trim_start_matches("error: ");
    match (first.strip_suffix(':'), lines.next()) {
        (Some(head), Some(next)) if !next.starts_with("Usage:") => format!("{head}: {next}"),
        _ => first.to_string(),
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `println!` that never panics: a closed stdout (a reader that went away)
/// loses the line instead.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*).and_then(|()| out.flush());
    }};
}

mod perf_group;

/// A CLI failure, printed as one line.
#[derive(Debug)]
struct CliError(String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        Self(e.to_string())
    }
}

/// How a verb failed: the line to print and the exit code (2 for bad
/// arguments, including a group or interface that cannot serve, 1 for
/// anything else).
#[derive(Debug)]
struct Failure {
    msg: String,
    code: u8,
}

impl Failure {
    fn usage(msg: impl Into<String>) -> Self {
        Self {
            msg: msg.into(),
            code: 2,
        }
    }

    fn run(msg: impl Into<String>) -> Self {
        Self {
            msg: msg.into(),
            code: 1,
        }
    }
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Self::run(e.0)
    }
}

impl From<Error> for Failure {
    /// A group address or interface the arguments named that cannot serve
    /// is a usage error; anything else a run-time one.
    fn from(e: Error) -> Self {
        match e {
            Error::NotMulticast(_)
            | Error::InterfaceNotFound(_)
            | Error::InterfaceWithoutMulticast(_)
            | Error::InvalidGroup(_) => Self::usage(e.to_string()),
            e => Self::run(e.to_string()),
        }
    }
}

fn bind(
    ip: IpAddr,
    udp_port: u16,
    sctp_port: u16,
    tweak: impl FnOnce(&mut Config),
) -> Result<Endpoint, CliError> {
    let mut cfg = Config::new(SocketAddr::new(ip, udp_port), sctp_port);
    tweak(&mut cfg);
    Endpoint::bind(cfg).map_err(|e| CliError(format!("cannot bind UDP {ip}:{udp_port}: {e}")))
}

/// Connects, giving up after `limit`.
async fn connect(
    ep: &Endpoint,
    remote: SocketAddr,
    sctp_port: u16,
    limit: Duration,
) -> Result<Association, CliError> {
    match tokio::time::timeout(limit, ep.connect(remote, sctp_port)).await {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(e)) => Err(CliError(format!(
            "cannot connect to {remote} (SCTP port {sctp_port}): {e}"
        ))),
        Err(_) => Err(CliError(format!(
            "cannot connect to {remote} (SCTP port {sctp_port}): no answer within {:.1} s",
            limit.as_secs_f64()
        ))),
    }
}

async fn server(a: ServerArgs, default_port: u16, echo: bool) -> Result<(), CliError> {
    let port = a.port.unwrap_or(default_port);
    let ep = bind(a.common.bind, a.common.local_udp_port, port, |cfg| {
        if let Some(m) = a.max_message_size {
            set_max_message_size(cfg, m);
        }
        a.rto.apply(cfg);
    })?;
    loop {
        let m = ep.recv().await?;
        if echo
            && !matches!(
                m.kind,
                DeliveryKind::Refused { .. } | DeliveryKind::Aborted { .. }
            )
        {
            let assoc = ep.association(m.association);
            let p = SendParams {
                ppid: m.ppid,
                unordered: m.unordered,
                ..SendParams::default()
            };
            // Each message (or piece) echoes back as one message; a peer
            // that went away just ends its echo.
            if let Err(e) = assoc.send_with(m.stream, m.data, p).await {
                tracing::debug!(error = %e, "echo failed");
            }
        }
    }
}

async fn client(a: ClientArgs) -> Result<(), CliError> {
    let ep = bind(
        a.common.bind,
        a.common.local_udp_port,
        a.local_port,
        |cfg| {
            if let Some(m) = a.max_message_size {
                set_max_message_size(cfg, m);
            }
        },
    )?;
    let remote = SocketAddr::new(a.addr, a.common.remote_udp_port);
    let assoc = connect(&ep, remote, a.sctp_port, a.connect_timeout).await?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    // The printer counts whole messages received; it ends (dropping the
    // sender) when the association does.
    let (echoes_tx, mut echoes) = tokio::sync::watch::channel(0u64);
    let printer = {
        let assoc = assoc.clone();
        tokio::spawn(async move {
            loop {
                match assoc.recv().await {
                    Ok(m) => {
                        say!("{}", String::from_utf8_lossy(&m.data));
                        if m.is_end_of_record() {
                            echoes_tx.send_modify(|n| *n += 1);
                        }
                    }
                    Err(e) => return e,
                }
            }
        })
    };
    let mut sent = 0u64;
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| CliError(e.to_string()))?
    {
        assoc.send(0, Bytes::from(line.into_bytes())).await?;
        sent += 1;
    }
    let limit = a.close_timeout;
    let secs = limit.as_secs_f64();
    let give_up = |msg: String| async {
        assoc.abort(b"mcsctp client gave up");
        // Let the driver send the ABORT (bounded).
        let _ = tokio::time::timeout(Duration::from_secs(1), ep.shutdown()).await;
        Err(CliError(msg))
    };
    if !a.no_echo {
        let waited = tokio::time::timeout(limit, echoes.wait_for(|&n| n >= sent))
            .await
            .map(|r| r.is_ok());
        match waited {
            Ok(true) => {}
            // The printer stopped: the association ended.
            Ok(false) => {
                let got = *echoes.borrow();
                let why = match printer.await {
                    Ok(e) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(CliError(format!(
                    "{got} of {sent} echoes received before the association ended: {why}"
                )));
            }
            Err(_) => {
                let got = *echoes.borrow();
                return give_up(format!(
                    "{got} of {sent} echoes received within {secs:.1} s (--close-timeout; \
                     --no-echo does not wait for them)"
                ))
                .await;
            }
        }
    }
    // Graceful shutdown: close() returns once SHUTDOWN COMPLETE went out
    // (the association closed with reason Shutdown).
    let r = tokio::time::timeout(limit, assoc.close()).await;
    printer.abort();
    match r {
        Ok(r) => r.map_err(Into::into),
        Err(_) => {
            give_up(format!(
                "the association did not close within {secs:.1} s (no SHUTDOWN ACK; \
                 --close-timeout)"
            ))
            .await
        }
    }
}

async fn perf(a: PerfArgs) -> Result<(), CliError> {
    let _ = a.nodelay;
    if a.length == 0 {
        return Err(CliError("message length (-l) must be positive".into()));
    }
    if a.policy > 2 {
        return Err(CliError(format!(
            "PR-SCTP policy {} (-P) is not supported (0 none, 1 ttl, 2 rtx)",
            a.policy
        )));
    }
    // The largest SCTP packet: the path MTU minus the IP and UDP headers
    // of the family in use (IPv4 28 bytes, IPv6 48), as usrsctp does.
    let family_is_v6 = a.address.unwrap_or(a.bind).is_ipv6();
    let overhead = if family_is_v6 { 48 } else { 28 };
    if a.mtu < 256 + overhead || a.mtu > 65_535 {
        return Err(CliError(format!(
            "path MTU (--mtu) {} is out of range {}..=65535",
            a.mtu,
            256 + overhead
        )));
    }
    if a.verify && (a.length < 8 || (a.address.is_some() && a.unordered)) {
        return Err(CliError(
            "--verify needs ordered messages (no -u) of at least 8 bytes (-l)".into(),
        ));
    }
    let tweak = |cfg: &mut Config| perf_config(&a, overhead, cfg);
    match a.address {
        None => perf_server(&a, tweak).await,
        Some(addr) => perf_client(&a, addr, tweak).await,
    }
}

/// The endpoint settings of `perf`'s options; `overhead`: the IP and UDP
/// headers (28 bytes IPv4, 48 IPv6), at most `a.mtu - 256`.
fn perf_config(a: &PerfArgs, overhead: usize, cfg: &mut Config) {
    a.rto.apply(cfg);
    cfg.core.max_packet_size = a.mtu.saturating_sub(overhead).min(65_507);
    cfg.core.association.interleaving = a.idata;
    if a.cc == CongestionArg::Cubic {
        cfg.core.association.congestion =
            std::sync::Arc::new(mcsctp::core::congestion::CubicConfig::default());
    }
    if let Some(r) = a.rcvbuf {
        cfg.core.association.receive_buffer = r.max(64 * 1024);
    }
    if let Some(s) = a.sndbuf {
        cfg.core.association.send_buffer = s.max(a.length);
    } else {
        cfg.core.association.send_buffer = cfg.core.association.send_buffer.max(2 * a.length);
    }
    cfg.core.association.max_message_size = cfg.core.association.max_message_size.max(a.length);
    cfg.core.association.receive_buffer = cfg.core.association.receive_buffer.max(2 * a.length);
}

/// Per-association receive statistics, as tsctp's server keeps them.
#[derive(Default)]
struct RecvStats {
    first_length: u64,
    messages: u64,
    recv_calls: u64,
    sum: u64,
    start: Option<Instant>,
    /// With --verify: messages with a wrong stamp, length or content.
    verify_errors: Option<u64>,
    /// The association's counters, last read while it lived.
    assoc: Option<AssociationStats>,
}

async fn perf_server(a: &PerfArgs, tweak: impl FnOnce(&mut Config)) -> Result<(), CliError> {
    let ep = bind(a.bind, a.local_udp_port, a.port, tweak)?;
    let (json, verify) = (a.json, a.verify);
    loop {
        let assoc = ep.accept().await?;
        tokio::spawn(async move {
            let s = drain(&assoc, verify).await;
            print_summary(&s, json);
        });
    }
}

async fn drain(assoc: &Association, verify: bool) -> RecvStats {
    let mut s = RecvStats {
        verify_errors: verify.then_some(0),
        ..RecvStats::default()
    };
    let mut current = 0u64;
    // --verify: whether the message being received is intact so far
    let mut intact = true;
    while let Ok(m) = assoc.recv().await {
        s.start.get_or_insert_with(Instant::now);
        s.recv_calls += 1;
        s.sum += m.data.len() as u64;
        if verify {
            // The client's stamp: the message's sequence number (8 bytes,
            // little endian), then b'b' to the end.
            let body = if current == 0 {
                let stamp = m.data.first_chunk::<8>().map(|b| u64::from_le_bytes(*b));
                intact = stamp == Some(s.messages);
                m.data.get(8..).unwrap_or_default()
            } else {
                &m.data[..]
            };
            intact &= body.iter().all(|&b| b == b'b');
        }
        current += m.data.len() as u64;
        if m.is_end_of_record() {
            s.messages += 1;
            if s.first_length == 0 {
                s.first_length = current;
            }
            if let Some(e) = &mut s.verify_errors
                && !(intact && current == s.first_length)
            {
                *e += 1;
            }
            current = 0;
        }
        if s.recv_calls.is_multiple_of(64) {
            s.assoc = assoc.stats().or(s.assoc);
        }
    }
    s
}

/// An association's counters as JSON members (after a comma).
fn stats_json(s: Option<&AssociationStats>) -> String {
    s.map_or_else(String::new, |s| {
        format!(
            ",\"packets_sent\":{},\"packets_received\":{},\"data_chunks_sent\":{},\"data_chunks_retransmitted\":{},\"fast_retransmits\":{},\"t3_expirations\":{},\"data_chunks_received\":{},\"duplicate_chunks_received\":{},\"data_chunks_dropped\":{}",
            s.packets_sent,
            s.packets_received,
            s.data_chunks_sent,
            s.data_chunks_retransmitted,
            s.fast_retransmits,
            s.t3_expirations,
            s.data_chunks_received,
            s.duplicate_chunks_received,
            s.data_chunks_dropped
        )
    })
}

fn print_summary(s: &RecvStats, json: bool) {
    let secs = s.start.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let tput = if secs > 0.0 {
        s.first_length as f64 * s.messages as f64 / secs
    } else {
        0.0
    };
    if json {
        let verify = s
            .verify_errors
            .map_or_else(String::new, |e| format!(",\"verify_errors\":{e}"));
        say!(
            "{{\"length\":{},\"messages\":{},\"recv_calls\":{},\"bytes\":{},\"seconds\":{:.6},\"throughput\":{:.6},\"notifications\":0{verify}{}}}",
            s.first_length,
            s.messages,
            s.recv_calls,
            s.sum,
            secs,
            tput,
            stats_json(s.assoc.as_ref())
        );
    } else {
        // tsctp's server line: length, messages, recv calls, bytes,
        // seconds, throughput (B/s), notifications.
        say!(
            "{}, {}, {}, {}, {:.6}, {:.6}, 0",
            s.first_length,
            s.messages,
            s.recv_calls,
            s.sum,
            secs,
            tput
        );
    }
}

async fn perf_client(
    a: &PerfArgs,
    addr: IpAddr,
    tweak: impl FnOnce(&mut Config),
) -> Result<(), CliError> {
    let ep = bind(a.bind, a.local_udp_port, 0, tweak)?;
    let remote = SocketAddr::new(addr, a.remote_udp_port);
    let assoc = connect(&ep, remote, a.port, a.connect_timeout).await?;
    let empty_buffer = assoc.send_buffer_available();
    let payload = Bytes::from(vec![b'b'; a.length]);
    let params = SendParams {
        unordered: a.unordered,
        lifetime: (a.policy == 1).then(|| Duration::from_millis(u64::from(a.pr_value))),
        max_retransmissions: (a.policy == 2).then_some(a.pr_value),
        ..SendParams::default()
    };
    let limit = if a.time.is_some() { 0 } else { a.messages };
    let deadline = a.time.map(|t| Instant::now() + Duration::from_secs(t));
    let progress = std::io::stderr().is_terminal();
    let report = a
        .report
        .map(Duration::from_secs)
        .or(progress.then_some(Duration::from_secs(1)));
    let start = Instant::now();
    let mut last_report = start;
    let mut sent: u64 = 0;
    while limit == 0 || sent < limit {
        // (The clock is read every 16 messages: at a million small
        // messages a second, reading it each time shows in a profile.)
        if sent.is_multiple_of(16) && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let msg = if a.verify {
            let mut m = BytesMut::from(&payload[..]);
            m[..8].copy_from_slice(&sent.to_le_bytes());
            m.freeze()
        } else {
            payload.clone()
        };
        assoc.send_with(0, msg, params).await?;
        sent += 1;
        if let Some(r) = report
            && last_report.elapsed() >= r
        {
            let secs = start.elapsed().as_secs_f64();
            eprint!(
                "\r{sent} messages, {:.1} MB/s     ",
                sent as f64 * a.length as f64 / secs / 1e6
            );
            last_report = Instant::now();
        }
    }
    if report.is_some() {
        eprintln!();
    }
    // The runtime forgets an association's counters when it closes: wait
    // until everything sent is acknowledged (nothing queued, nothing in
    // flight), read them, then shut down.
    let mut stats = None;
    while let Some(s) = assoc.stats() {
        stats = Some(s);
        let idle = assoc.congestion().is_some_and(|(_, _, flight)| flight == 0);
        if idle && assoc.send_buffer_available() == empty_buffer {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assoc.close().await?;
    let secs = start.elapsed().as_secs_f64();
    let tput = sent as f64 * a.length as f64 / secs;
    if a.json {
        say!(
            "{{\"messages\":{sent},\"length\":{},\"seconds\":{secs:.6},\"throughput\":{tput:.6}{}}}",
            a.length,
            stats_json(stats.as_ref())
        );
    } else {
        say!(
            "Sending of {sent} messages of length {} took {secs:.6} seconds.",
            a.length
        );
        say!("Throughput was {tput:.6} Byte/sec.");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Multicast groups: group-server and member
// ---------------------------------------------------------------------------

/// The pseudo-random bytes that follow generated message `i`'s number
/// (xorshift64 seeded from `i`).
fn pattern(i: u64) -> impl Iterator<Item = u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 24) as u8
    })
}

/// Generated message `i` of `size` (at least 8) bytes: `i` as 8 bytes
/// big-endian, then [`pattern`]`(i)`.
fn generated(i: u64, size: usize) -> Bytes {
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(&i.to_be_bytes());
    v.extend(pattern(i).take(size.saturating_sub(8)));
    v.into()
}

/// The number of a generated message, if `m` is one (its bytes are
/// exactly [`generated`]`(i, m.len())`).
fn generated_index(m: &[u8]) -> Option<u64> {
    let (num, rest) = m.split_first_chunk::<8>()?;
    let i = u64::from_be_bytes(*num);
    rest.iter()
        .copied()
        .eq(pattern(i).take(rest.len()))
        .then_some(i)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kind_name(k: MemberKind) -> &'static str {
    match k {
        MemberKind::Joining => "joining",
        MemberKind::Returning => "returning",
        MemberKind::Multicast => "multicast",
        MemberKind::Fallback => "fallback",
        MemberKind::Plain => "plain",
        _ => "unknown",
    }
}

/// One member as JSON.
fn member_json(m: &MemberInfo) -> String {
    let addr = m
        .address
        .map_or_else(|| "null".to_string(), |a| format!("\"{a}\""));
    let loss = if m.multicast_loss.is_finite() {
        m.multicast_loss
    } else {
        0.0
    };
    format!(
        "{{\"addr\":{addr},\"kind\":\"{}\",\"acked\":{},\"repairs\":{},\"mcast_loss\":{loss:.6},\"fallbacks\":{},\"returns\":{}}}",
        kind_name(m.kind),
        m.acked,
        m.repairs,
        m.fallbacks,
        m.returns
    )
}

/// Runs `f`, giving up after `limit` with `what` (a run-time failure).
async fn bounded<T>(
    limit: Duration,
    what: impl FnOnce() -> String,
    f: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(Failure::from),
        Err(_) => Err(Failure::run(format!(
            "{} within {:.1} s (--timeout)",
            what(),
            limit.as_secs_f64()
        ))),
    }
}

async fn group_server(a: GroupServerArgs) -> Result<(), Failure> {
    let ep = bind(a.bind, a.local_udp_port, a.port, |cfg| a.rto.apply(cfg))?;
    let mut gcfg = mcsctp::GroupConfig::default();
    gcfg.interface = a.interface.clone();
    gcfg.ttl = a.ttl;
    gcfg.plain_backlog = usize::try_from(a.plain_backlog).unwrap_or(usize::MAX);
    let group = ep.create_group(a.group, gcfg)?;
    let limit = a.timeout;
    // Members first, if asked: each joined peer (member or plain) is one.
    let deadline = tokio::time::Instant::now() + limit;
    let mut printer = EventPrinter::default();
    while group.members().len() < a.members {
        match tokio::time::timeout_at(deadline, group.next_event()).await {
            Ok(r) => printer.note(&group, r?, a.events),
            Err(_) => {
                return Err(Failure::run(format!(
                    "{} of {} members joined within {:.1} s (--timeout)",
                    group.members().len(),
                    a.members,
                    limit.as_secs_f64()
                )));
            }
        }
    }
    let start = Instant::now();
    let mut hash = Sha256::new();
    let (mut messages, mut bytes) = (0u64, 0u64);
    // The messages and the wait for their acknowledgement (Group::flushed
    // waits for joining members too), with the membership events noted
    // (and printed if asked) meanwhile.
    tokio::select! {
        r = send_all(&a, &group, &mut hash, &mut messages, &mut bytes) => r?,
        () = printer.note_all(&group, a.events) => {}
    }
    // The events queued meanwhile (e.g. a removal that let the flush end).
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::ZERO, group.next_event()).await {
        printer.note(&group, e, a.events);
    }
    let secs = start.elapsed().as_secs_f64();
    let digest = hex(&hash.finalize());
    let members = group.members();
    let sent = ep.sent();
    if a.json {
        let list: Vec<String> = members.iter().map(member_json).collect();
        let gone: Vec<String> = printer
            .gone
            .iter()
            .map(|(addr, how)| format!("{{\"addr\":\"{addr}\",\"how\":\"{how}\"}}"))
            .collect();
        say!(
            "{{\"messages\":{messages},\"bytes\":{bytes},\"seconds\":{secs:.6},\"sha256\":\"{digest}\",\"bytes_multicast\":{},\"bytes_unicast\":{},\"datagrams_multicast\":{},\"datagrams_unicast\":{},\"members\":[{}],\"gone\":[{}]}}",
            sent.multicast_octets,
            sent.unicast_octets,
            sent.multicast_datagrams,
            sent.unicast_datagrams,
            list.join(","),
            gone.join(",")
        );
    } else {
        say!(
            "sent {messages} messages ({bytes} bytes) to {} in {secs:.3} s, sha256 {digest}",
            a.group
        );
        say!(
            "on the wire: multicast {} datagrams, {} bytes; unicast {} datagrams, {} bytes",
            sent.multicast_datagrams,
            sent.multicast_octets,
            sent.unicast_datagrams,
            sent.unicast_octets
        );
        for m in &members {
            say!(
                "member {} {}: acked {} repairs {} mcast_loss {:.3} fallbacks {} returns {}",
                m.address.map_or_else(|| "?".to_string(), |a| a.to_string()),
                kind_name(m.kind),
                m.acked,
                m.repairs,
                m.multicast_loss,
                m.fallbacks,
                m.returns
            );
        }
        for (addr, how) in &printer.gone {
            say!("member {addr} {how} before the end");
        }
    }
    // The end: close every association gracefully (a member with --count
    // waits for this), bounded.
    let mut closes = tokio::task::JoinSet::new();
    for m in group.members() {
        let assoc = ep.association(m.id);
        closes.spawn(async move { tokio::time::timeout(limit, assoc.close()).await });
    }
    while closes.join_next().await.is_some() {}
    drop(group);
    let _ = tokio::time::timeout(Duration::from_secs(2), ep.shutdown()).await;
    Ok(())
}

/// Sends the group-server's messages (`--count` generated ones, or the
/// lines of stdin), hashing them, then waits until the members have
/// acknowledged them all; each wait bounded by `--timeout`.
async fn send_all(
    a: &GroupServerArgs,
    group: &mcsctp::Group,
    hash: &mut Sha256,
    messages: &mut u64,
    bytes: &mut u64,
) -> Result<(), Failure> {
    let limit = a.timeout;
    let mut send = async |m: Bytes| -> Result<(), Failure> {
        hash.update(&m);
        *messages += 1;
        *bytes += m.len() as u64;
        let n = *messages;
        bounded(
            limit,
            || format!("no room in the group's send buffer for message {n}"),
            group.send(0, m),
        )
        .await
    };
    match a.count {
        Some(n) => {
            let size = a.size.unwrap_or(1000);
            for i in 0..n {
                send(generated(i, size)).await?;
            }
        }
        None => {
            // Each line is a message (empty lines are skipped: SCTP has no
            // empty messages).
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Some(line) = lines
                .next_line()
                .await
                .map_err(|e| Failure::run(format!("cannot read stdin: {e}")))?
            {
                if !line.is_empty() {
                    send(Bytes::from(line.into_bytes())).await?;
                }
            }
        }
    }
    bounded(
        limit,
        || "the members did not acknowledge every message".to_string(),
        group.flushed(),
    )
    .await
}

/// Prints membership events for `group-server --events`, on stderr.
#[derive(Default)]
struct EventPrinter {
    /// Addresses by association, kept for members that are gone.
    addrs: std::collections::HashMap<mcsctp::AssociationId, SocketAddr>,
    /// Members and plain peers that left or were removed, in order: (address,
    /// "left" or "removed"). The summary lists them: a script tells a run in
    /// which some receiver did not get everything from its output.
    gone: Vec<(String, &'static str)>,
}

impl EventPrinter {
    /// Notes `e` (a member that is gone) and, with `print`, prints it:
    /// `mcsctp: event <what> <address>`.
    fn note(&mut self, group: &mcsctp::Group, e: mcsctp::MembershipEvent, print: bool) {
        use mcsctp::MembershipEvent as E;
        for m in group.members() {
            if let Some(addr) = m.address {
                self.addrs.insert(m.id, addr);
            }
        }
        let (what, id) = match e {
            E::Joined { member, plain } => (if plain { "plain-joined" } else { "joined" }, member),
            E::State { member, kind } => (kind_name(kind), member),
            E::Fallback(member) => ("fallback", member),
            E::Returned(member) => ("returned", member),
            E::Left(member) => ("left", member),
            E::Removed(member) => ("removed", member),
            _ => return,
        };
        let addr = self
            .addrs
            .get(&id)
            .map_or_else(|| "?".to_string(), SocketAddr::to_string);
        if matches!(what, "left" | "removed") {
            self.gone.push((addr.clone(), what));
        }
        if print {
            eprintln!("mcsctp: event {what} {addr}");
        }
    }

    /// Notes every event as it happens (printing it with `print`); never
    /// returns.
    async fn note_all(&mut self, group: &mcsctp::Group, print: bool) {
        while let Ok(e) = group.next_event().await {
            self.note(group, e, print);
        }
        std::future::pending().await
    }
}

/// What a member received.
#[derive(Default)]
struct MemberTally {
    received: u64,
    bytes: u64,
    duplicates: u64,
    out_of_order: u64,
    unindexed: u64,
    highest: Option<u64>,
    seen: std::collections::HashSet<u64>,
    hash: Sha256,
}

impl MemberTally {
    fn take(&mut self, m: &[u8]) {
        self.received += 1;
        self.bytes += m.len() as u64;
        self.hash.update(m);
        match generated_index(m) {
            Some(i) if !self.seen.insert(i) => self.duplicates += 1,
            Some(i) => {
                if self.highest.is_some_and(|h| i < h) {
                    self.out_of_order += 1;
                }
                self.highest = Some(self.highest.map_or(i, |h| h.max(i)));
            }
            None => self.unindexed += 1,
        }
    }
}

/// How long a member with --count, once it has its messages, waits for
/// the server to close the association before it closes it itself.
const MEMBER_LINGER: Duration = Duration::from_secs(5);

async fn member(a: MemberArgs) -> Result<(), Failure> {
    let local = SocketAddr::new(a.bind, a.local_udp_port);
    let mut cfg = Config::new(local, 0);
    a.rto.apply(&mut cfg);
    if !a.plain {
        let mut m = MulticastConfig::default();
        m.interface = a.interface.clone();
        cfg.multicast = Some(m);
    }
    let ep = Endpoint::bind(cfg).map_err(|e| match e {
        Error::InterfaceNotFound(_) | Error::InterfaceWithoutMulticast(_) => Failure::from(e),
        e => Failure::run(format!("cannot bind UDP {local}: {e}")),
    })?;
    let remote = SocketAddr::new(a.addr, a.remote_udp_port);
    let assoc = connect(&ep, remote, a.sctp_port, a.timeout).await?;
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + a.timeout;
    let mut t = MemberTally::default();
    let mut figures = None;
    let mut current = BytesMut::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut failure = None;
    while a.count.is_none_or(|n| t.received < n) {
        let r = tokio::select! {
            r = assoc.recv() => r,
            _ = tokio::time::sleep_until(deadline), if a.count.is_some() => {
                failure = Some(Failure::run(format!(
                    "{} of {} messages received within {:.1} s (--timeout)",
                    t.received,
                    a.count.unwrap_or_default(),
                    a.timeout.as_secs_f64()
                )));
                break;
            }
            _ = &mut ctrl_c => break,
        };
        let m = match r {
            Ok(m) => m,
            Err(e) => {
                if let Some(n) = a.count {
                    failure = Some(Failure::run(format!(
                        "{} of {n} messages received before the association ended: {e}",
                        t.received
                    )));
                }
                break;
            }
        };
        figures = assoc.member_figures().or(figures);
        match m.kind {
            DeliveryKind::Refused { .. } | DeliveryKind::Aborted { .. } => {
                current.clear();
                continue;
            }
            _ => {}
        }
        if m.is_end_of_record() {
            if current.is_empty() {
                t.take(&m.data);
            } else {
                current.extend_from_slice(&m.data);
                t.take(&current);
                current.clear();
            }
        } else {
            current.extend_from_slice(&m.data);
        }
    }
    figures = assoc.member_figures().or(figures);
    let secs = start.elapsed().as_secs_f64();
    // What the member can tell: whether group chunks reached it by
    // multicast. (Its state at the server is not signalled to it.)
    let kind = match (a.plain, figures) {
        (true, _) => "plain",
        (false, None) => "no-group",
        (false, Some(f)) if f.multicast_chunks > 0 => "multicast",
        (false, Some(_)) => "fallback",
    };
    let multicast_chunks = figures.map_or(0, |f| f.multicast_chunks);
    let digest = hex(&t.hash.clone().finalize());
    if a.json {
        say!(
            "{{\"received\":{},\"bytes\":{},\"duplicates\":{},\"out_of_order\":{},\"unindexed\":{},\"sha256\":\"{digest}\",\"kind\":\"{kind}\",\"multicast_chunks\":{multicast_chunks},\"seconds\":{secs:.6}}}",
            t.received,
            t.bytes,
            t.duplicates,
            t.out_of_order,
            t.unindexed
        );
    } else {
        say!(
            "received {} messages ({} bytes) in {secs:.3} s, sha256 {digest}",
            t.received,
            t.bytes
        );
        say!(
            "duplicates {} out_of_order {} unindexed {} kind {kind} (multicast chunks {multicast_chunks})",
            t.duplicates,
            t.out_of_order,
            t.unindexed
        );
    }
    // The server closes the association once every member has
    // acknowledged everything (so that its summary has every member's
    // figures): wait for that a little, then leave by ourselves (bounded).
    if failure.is_none() && a.count.is_some() {
        let _ = tokio::time::timeout(MEMBER_LINGER, assoc.closed()).await;
    }
    let _ = tokio::time::timeout(MEMBER_LINGER, assoc.close()).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), ep.shutdown()).await;
    failure.map_or(Ok(()), Err)
}

/// `mcsctp demo`: the cache-coherency workload ([`mcsctp::coherency`]) on
/// loopback with a live progress line (plain lines when stdout is not a
/// terminal) and the final table.
async fn demo(a: DemoArgs) -> Result<(), Failure> {
    use mcsctp::coherency::{self, Progress, Settings};
    let mut settings = Settings::demo(a.members as usize, a.loss, a.duration, a.size);
    settings.keys = a.keys;
    settings.write_ratio = a.writes;
    settings.rate = Some(a.rate);
    settings.barrier = !a.no_barrier;
    let live = std::io::stdout().is_terminal();
    say!(
        "mcsctp demo: a home node and {} caching clients on loopback for {:.0} s \
         (BARRIER {}, {} keys, {:.0} % writes, {} B values, {:.1} % multicast loss)",
        settings.clients.len(),
        a.duration.as_secs_f64(),
        if settings.barrier { "on" } else { "off" },
        settings.keys,
        settings.write_ratio * 100.0,
        settings.size,
        a.loss * 100.0,
    );
    let mut last_line = None;
    let show = |p: &Progress| {
        let kinds: Vec<String> = p
            .members
            .iter()
            .map(|(n, k)| format!("{n}:{}", short_kind(*k)))
            .collect();
        let hit = if p.reads == 0 {
            0.0
        } else {
            p.hits as f64 / p.reads as f64 * 100.0
        };
        let status = format!(
            "{:>5.1}/{:.0} s {:>8} ops  hit {:>5.1} %  stale {}  {}",
            p.elapsed.as_secs_f64(),
            p.duration.as_secs_f64(),
            p.ops,
            hit,
            p.stale_reads,
            kinds.join(" ")
        );
        if live {
            let share = (p.elapsed.as_secs_f64() / p.duration.as_secs_f64().max(1e-9)).min(1.0);
            let filled = (share * 20.0).round() as usize;
            let bar = format!("{}{}", "#".repeat(filled), ".".repeat(20 - filled));
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K[{bar}] {status}").and_then(|()| out.flush());
        } else {
            let sec = p.elapsed.as_secs();
            if last_line != Some(sec) {
                last_line = Some(sec);
                say!("{status}");
            }
        }
    };
    let r = coherency::run(&settings, show).await;
    if live {
        say!("");
    }
    let report = r.map_err(|e| match e {
        coherency::RunError::Settings(m) => Failure::usage(m),
        e => Failure::run(e.to_string()),
    })?;
    say!("");
    say!("{report}");
    if report.coherent() {
        Ok(())
    } else {
        Err(Failure {
            msg: "the coherency checker found violations".into(),
            code: 3,
        })
    }
}

/// A member state in a few letters, for the progress line.
fn short_kind(k: Option<MemberKind>) -> &'static str {
    match k {
        Some(MemberKind::Joining) => "joining",
        Some(MemberKind::Returning) => "RETURNING",
        Some(MemberKind::Multicast) => "mcast",
        Some(MemberKind::Fallback) => "FALLBACK",
        Some(MemberKind::Plain) => "plain",
        Some(_) => "?",
        None => "gone",
    }
}
