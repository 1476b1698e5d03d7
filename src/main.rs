//! `mcsctp`: the command-line tool. Its verbs mirror usrsctp's example
//! programs (`echo_server`, `discard_server`, `client`, `tsctp`) so that
//! either side of a test can be swapped for the other.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use clap::{Args, Parser, Subcommand};
use mcsctp::core::endpoint::AssociationStats;
use mcsctp::{Association, Config, DeliveryKind, Endpoint, Error, SendParams};
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
#[command(disable_help_flag = true)]
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
    #[command(flatten)]
    rto: RtoArgs,
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
                    "a subcommand is required: echo-server, discard-server, client or perf"
                        .to_string()
                }
                _ => one_line(&e.render().to_string()).to_string(),
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
    let r = rt.block_on(async move {
        match cli.command {
            Command::EchoServer(a) => server(a, 7, true).await,
            Command::DiscardServer(a) => server(a, 9, false).await,
            Command::Client(a) => client(a).await,
            Command::Perf(a) => perf(a).await,
        }
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcsctp: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The first line of clap's message, without its "error: " prefix.
fn one_line(msg: &str) -> &str {
    let first = msg.lines().find(|l| !l.trim().is_empty()).unwrap_or(msg);
    first.trim().trim_start_matches("error: ")
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
    let tweak = |cfg: &mut Config| {
        a.rto.apply(cfg);
        cfg.core.max_packet_size = (a.mtu - overhead).min(65_507);
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
    };
    match a.address {
        None => perf_server(&a, tweak).await,
        Some(addr) => perf_client(&a, addr, tweak).await,
    }
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
