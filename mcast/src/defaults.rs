//! The Protocol Parameters of draft-mcsctp-tsvwg-sctp-multicast-01
//! (§"Protocol Parameters"), as named constants: the draft's defaults are
//! the code's defaults, read from this one place.
//!
//! Every row of the draft's table "Protocol parameters and defaults" is a
//! constant here, and [`PARAMETERS`] lists them all under their draft
//! names; the test `mcast/tests/defaults_table.rs` parses the table out of
//! the draft and fails unless every row equals the code's value and every
//! constant appears in the table.
//!
//! A default the draft writes `max(k * base, floor)` is a [`DurationRule`]
//! or a [`CountRule`]: "k times the base, but never less than the floor".
//! The bases ([`Base`]) are measured by the server (§"Round-Trip Time and
//! Timers").

use core::fmt;
use std::time::Duration;

/// What a derived default is a multiple of (draft §"Protocol Parameters").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Base {
    /// SRTT_k: the smoothed round-trip time of member k, from MSACKs.
    SrttK,
    /// SRTT_g: the largest SRTT_k of the active members.
    SrttG,
    /// BDP_g: Mcast.Group.LinkRate times SRTT_g, in octets.
    BdpG,
    /// Wp: the group window in packets (Mcast.Group.WindowBytes divided by
    /// Mcast.Group.MaxPacket).
    Wp,
}

impl Base {
    /// The name the draft uses.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SrttK => "SRTT_k",
            Self::SrttG => "SRTT_g",
            Self::BdpG => "BDP_g",
            Self::Wp => "Wp",
        }
    }
}

/// A timer derived from a round-trip time: `max(factor * base, floor)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationRule {
    /// k.
    pub factor: f64,
    /// The measured time it multiplies.
    pub base: Base,
    /// The least value.
    pub floor: Duration,
}

impl DurationRule {
    /// The value for a measured `base`.
    pub fn apply(&self, base: Duration) -> Duration {
        base.mul_f64(self.factor).max(self.floor)
    }
}

/// A count derived from a measured quantity: `max(factor * base, floor)`,
/// rounded up ("Derived counts are rounded up to whole packets or
/// octets").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountRule {
    /// k.
    pub factor: f64,
    /// The measured quantity it multiplies.
    pub base: Base,
    /// The least value.
    pub floor: u64,
    /// The unit of the result.
    pub unit: Unit,
}

impl CountRule {
    /// The value for a measured `base`.
    pub fn apply(&self, base: u64) -> u64 {
        // Bases are at most 2^53, far beyond any window.
        let v = (base as f64 * self.factor).ceil() as u64;
        v.max(self.floor)
    }
}

/// The unit of a count, as the draft writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A bare number (a port).
    None,
    /// "octets".
    Octets,
    /// "MTSNs".
    Mtsns,
    /// "packets".
    Packets,
    /// "items" (group-path MDATA chunks and MSYNCs, §"Measuring the Group
    /// Path").
    Items,
    /// "events" (loss events).
    Events,
    /// "members".
    Members,
    /// "retransmissions".
    Retransmissions,
    /// "MSACKs/s".
    MsacksPerSecond,
    /// "bit/s".
    BitsPerSecond,
}

impl Unit {
    /// The unit as the draft's table writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Octets => "octets",
            Self::Mtsns => "MTSNs",
            Self::Packets => "packets",
            Self::Items => "items",
            Self::Events => "events",
            Self::Members => "members",
            Self::Retransmissions => "retransmissions",
            Self::MsacksPerSecond => "MSACKs/s",
            Self::BitsPerSecond => "bit/s",
        }
    }
}

/// A default as the draft's table states it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A count with its unit.
    Count(u64, Unit),
    /// A ratio (a loss rate, a gain, a factor).
    Ratio(f64),
    /// A fixed time.
    Duration(Duration),
    /// On or off.
    Flag(bool),
    /// A time derived from a round-trip time.
    DurationRule(DurationRule),
    /// A count derived from a measurement.
    CountRule(CountRule),
}

fn fmt_duration(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        write!(f, "{} ms", d.as_millis())
    } else {
        write!(f, "{} us", d.as_micros())
    }
}

impl fmt::Display for Value {
    /// The way the draft's table writes the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Count(n, Unit::None) => write!(f, "{n}"),
            Self::Count(n, u) => write!(f, "{n} {}", u.name()),
            Self::Ratio(r) => write!(f, "{r}"),
            Self::Duration(d) => fmt_duration(f, d),
            Self::Flag(on) => f.write_str(if on { "on" } else { "off" }),
            Self::DurationRule(r) => {
                write!(f, "max({} * {}, ", r.factor, r.base.name())?;
                fmt_duration(f, r.floor)?;
                f.write_str(")")
            }
            Self::CountRule(r) => write!(
                f,
                "max({} * {}, {} {})",
                r.factor,
                r.base.name(),
                r.floor,
                r.unit.name()
            ),
        }
    }
}

/// One row of the draft's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parameter {
    /// The draft's name, `Mcast.Xxx.Yyy`.
    pub name: &'static str,
    /// The default.
    pub value: Value,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

const fn rtt(factor: f64, base: Base, floor: Duration) -> DurationRule {
    DurationRule {
        factor,
        base,
        floor,
    }
}

/// Defines each constant and, from the same line, its row of
/// [`PARAMETERS`], so that no constant can be missing from the registry.
macro_rules! parameters {
    ($(
        $(#[$doc:meta])*
        $konst:ident: $ty:ty = $val:expr => $draft:literal, $kind:ident $(($unit:ident))?;
    )*) => {
        $(
            $(#[$doc])*
            #[doc = concat!("\n\nDraft name: `", $draft, "`.")]
            pub const $konst: $ty = $val;
        )*

        /// Every protocol parameter under its draft name, in the order of
        /// the draft's table.
        pub const PARAMETERS: &[Parameter] = &[
            $(Parameter {
                name: $draft,
                value: parameters!(@value $kind $konst $($unit)?),
            },)*
        ];
    };
    (@value count $konst:ident $unit:ident) => { Value::Count($konst as u64, Unit::$unit) };
    (@value ratio $konst:ident) => { Value::Ratio($konst) };
    (@value time $konst:ident) => { Value::Duration($konst) };
    (@value flag $konst:ident) => { Value::Flag($konst) };
    (@value rtt $konst:ident) => { Value::DurationRule($konst) };
    (@value derived $konst:ident) => { Value::CountRule($konst) };
}

parameters! {
    /// The default Group UDP Port, distinct from the SCTP over UDP port
    /// 9899 (draft §"Sockets, Ports and Loopback").
    GROUP_PORT: u16 = 9907 => "Mcast.Group.Port", count(None);
    /// Largest group packet, SCTP common header and chunks.
    GROUP_MAX_PACKET: usize = 1200 => "Mcast.Group.MaxPacket", count(Octets);
    /// Group packets are authenticated (A flag, §"Group Authentication").
    GROUP_AUTHENTICATE: bool = true => "Mcast.Group.Authenticate", flag;
    /// The sending link's rate, for BDP_g.
    GROUP_LINK_RATE: u64 = 10_000_000_000 => "Mcast.Group.LinkRate", count(BitsPerSecond);
    /// The group window in octets: twice BDP_g, at least 1 MiB.
    GROUP_WINDOW_BYTES: CountRule = CountRule {
        factor: 2.0,
        base: Base::BdpG,
        floor: 1_048_576,
        unit: Unit::Octets,
    } => "Mcast.Group.WindowBytes", derived;
    /// Cap of the group window in octets.
    GROUP_MAX_WINDOW_BYTES: u64 = 67_108_864 => "Mcast.Group.MaxWindowBytes", count(Octets);
    /// The group window in MTSNs: half of [`MTSN_REACH`].
    GROUP_WINDOW_CHUNKS: u32 = 32_768 => "Mcast.Group.WindowChunks", count(Mtsns);
    /// Total backlog of all lagging receivers of one group.
    GROUP_MAX_BACKLOG: u64 = 268_435_456 => "Mcast.Group.MaxBacklog", count(Octets);
    /// The reach of every MTSN comparison (a 16-bit gap offset).
    MTSN_REACH: u32 = 65_535 => "Mcast.Mtsn.Reach", count(Mtsns);
    /// Lower bound of RTO_k; recommended RTO.Min of group associations.
    RTO_MIN: Duration = ms(1) => "Mcast.RTO.Min", time;
    /// Upper bound of RTO_k; recommended RTO.Max of group associations.
    RTO_MAX: Duration = ms(200) => "Mcast.RTO.Max", time;
    /// Tail-loss probe after the last group-path MDATA.
    SYNC_TAIL_DELAY: DurationRule = rtt(2.0, Base::SrttG, ms(1)) => "Mcast.Sync.TailDelay", rtt;
    /// Group-path MSYNC interval while anything is unresolved.
    SYNC_INTERVAL: DurationRule = rtt(4.0, Base::SrttG, ms(5)) => "Mcast.Sync.Interval", rtt;
    /// Group-path MSYNC interval when idle (the Sync Interval announced).
    SYNC_IDLE_INTERVAL: Duration = ms(100) => "Mcast.Sync.IdleInterval", time;
    /// The acker's Ack Spacing.
    MSACK_ACKER_PACKETS: u16 = 4 => "Mcast.Msack.AckerPackets", count(Packets);
    /// The acker's Ack Delay.
    MSACK_DELAY: DurationRule = rtt(0.5, Base::SrttK, us(200)) => "Mcast.Msack.Delay", rtt;
    /// Other members' Ack Spacing: a quarter window.
    MSACK_SPACING: CountRule = CountRule {
        factor: 0.25,
        base: Base::Wp,
        floor: 2,
        unit: Unit::Packets,
    } => "Mcast.Msack.Spacing", derived;
    /// Ack Period (raised to joined members / [`MSACK_MAX_RATE`]).
    MSACK_PERIOD: DurationRule = rtt(4.0, Base::SrttG, ms(1)) => "Mcast.Msack.Period", rtt;
    /// Bound of the group's periodic MSACK rate at the server.
    MSACK_MAX_RATE: u32 = 100_000 => "Mcast.Msack.MaxRate", count(MsacksPerSecond);
    /// Non-ackers' Loss Report Delay.
    MSACK_LOSS_DELAY: DurationRule = rtt(2.0, Base::SrttG, us(300)) => "Mcast.Msack.LossDelay", rtt;
    /// JOINING to FALLBACK without confirmation.
    JOIN_CONFIRM_TIMEOUT: DurationRule = rtt(8.0, Base::SrttK, ms(100)) => "Mcast.Join.ConfirmTimeout", rtt;
    /// Items of a measurement window (JOINING, MULTICAST).
    FALLBACK_WINDOW: u32 = 128 => "Mcast.Fallback.Window", count(Items);
    /// Least duration of a measurement window.
    FALLBACK_MIN_TIME: DurationRule = rtt(8.0, Base::SrttK, ms(20)) => "Mcast.Fallback.MinTime", rtt;
    /// Loss events a window needs before it can send a member to fallback.
    FALLBACK_MIN_EVENTS: u32 = 3 => "Mcast.Fallback.MinEvents", count(Events);
    /// Loss rate above which a member goes to fallback.
    FALLBACK_LOSS_THRESHOLD: f64 = 0.10 => "Mcast.Fallback.LossThreshold", ratio;
    /// Silence rule.
    FALLBACK_SILENCE_TIMEOUT: DurationRule = rtt(16.0, Base::SrttK, ms(300)) => "Mcast.Fallback.SilenceTimeout", rtt;
    /// Slow-member rule: throughput below this share of the median.
    FALLBACK_SLOW_FACTOR: f64 = 0.25 => "Mcast.Fallback.SlowFactor", ratio;
    /// Items of a measurement window (FALLBACK, RETURNING).
    RETURN_WINDOW: u32 = 128 => "Mcast.Return.Window", count(Items);
    /// Loss rate at or below which a member may return.
    RETURN_LOSS_THRESHOLD: f64 = 0.02 => "Mcast.Return.LossThreshold", ratio;
    /// Initial hold-down time in fallback.
    RETURN_MIN_TIME: Duration = ms(200) => "Mcast.Return.MinTime", time;
    /// Largest hold-down time.
    RETURN_MAX_TIME: Duration = ms(60_000) => "Mcast.Return.MaxTime", time;
    /// Time in MULTICAST after which a fallback resets the hold-down.
    RETURN_STABLE_TIME: Duration = ms(10_000) => "Mcast.Return.StableTime", time;
    /// Least reports for a multicast repair.
    REPAIR_MULTICAST_COUNT: u32 = 3 => "Mcast.Repair.MulticastCount", count(Members);
    /// Share of the active members for a multicast repair.
    REPAIR_MULTICAST_FRACTION: f64 = 0.05 => "Mcast.Repair.MulticastFraction", ratio;
    /// Cap of the fraction term.
    REPAIR_MULTICAST_CAP: u32 = 8 => "Mcast.Repair.MulticastCap", count(Members);
    /// Longest an active member may block the group.
    MEMBER_STALL_TIMEOUT: DurationRule = rtt(10.0, Base::SrttK, ms(200)) => "Mcast.Member.StallTimeout", rtt;
    /// Backlog of one lagging receiver.
    MEMBER_MAX_BACKLOG: u64 = 16_777_216 => "Mcast.Member.MaxBacklog", count(Octets);
    /// Eviction of a receiver that makes no progress.
    MEMBER_PROGRESS_TIMEOUT: DurationRule = rtt(64.0, Base::SrttK, ms(500)) => "Mcast.Member.ProgressTimeout", rtt;
    /// The member's group receive buffer (initial a_grwnd).
    MEMBER_RECEIVE_BUFFER: u32 = 4_194_304 => "Mcast.Member.ReceiveBuffer", count(Octets);
    /// Retransmissions of a unicast-first barrier's message before abort.
    BARRIER_MAX_RETRANS: u32 = 5 => "Mcast.Barrier.MaxRetrans", count(Retransmissions);
    /// A key change waits this long for a member's acknowledgement.
    KEY_REKEY_TIMEOUT: DurationRule = rtt(8.0, Base::SrttG, ms(50)) => "Mcast.Key.RekeyTimeout", rtt;
    /// Acker switch hysteresis.
    CC_ACKER_SWITCH: f64 = 0.75 => "Mcast.CC.AckerSwitch", ratio;
    /// Gain of the loss estimate p_k.
    CC_LOSS_GAIN: f64 = 0.125 => "Mcast.CC.LossGain", ratio;
    /// Floor of the loss rate in T_k.
    CC_MIN_LOSS: f64 = 0.001 => "Mcast.CC.MinLoss", ratio;
    /// Group packets sent in response to one MSACK.
    CC_MAX_BURST: u32 = 8 => "Mcast.CC.MaxBurst", count(Packets);
}

// Relations the draft states between the defaults, checked at compile
// time.
const _: () = {
    // "Mcast.Group.WindowChunks [...] is half the reach of a gap offset."
    assert!(GROUP_WINDOW_CHUNKS as u64 * 2 <= MTSN_REACH as u64 + 1);
    // "Mcast.CC.MaxBurst is at least twice Mcast.Msack.AckerPackets."
    assert!(CC_MAX_BURST >= 2 * MSACK_ACKER_PACKETS as u32);
    // The hysteresis: fallback well above return.
    assert!(FALLBACK_LOSS_THRESHOLD > RETURN_LOSS_THRESHOLD);
    // Room for AUTH, a common header and an MDATA header in a group packet.
    assert!(GROUP_MAX_PACKET > crate::auth::GROUP_AUTH_LEN + 12 + 20);
};

/// The number of reports of one MTSN that makes the server repair it by
/// multicast, with `active` active members (draft §"Unicast or
/// Multicast"): `T(A) = max(MulticastCount, min(ceil(MulticastFraction *
/// A), MulticastCap))`.
pub fn multicast_repair_threshold(active: u32) -> u32 {
    let fraction = (f64::from(active) * REPAIR_MULTICAST_FRACTION).ceil() as u32;
    REPAIR_MULTICAST_COUNT.max(fraction.min(REPAIR_MULTICAST_CAP))
}

/// BDP_g in octets for a link rate in bit/s and a round-trip time.
pub fn bdp_octets(link_rate_bps: u64, srtt: Duration) -> u64 {
    (u128::from(link_rate_bps) * srtt.as_nanos() / 8_000_000_000).min(u128::from(u64::MAX)) as u64
}

/// The group window in octets for BDP_g (draft §"Multicast Cumulative
/// TSN, Buffer Release and the Group Window"): [`GROUP_WINDOW_BYTES`],
/// capped by [`GROUP_MAX_WINDOW_BYTES`].
pub fn group_window_bytes(bdp_g: u64) -> u64 {
    GROUP_WINDOW_BYTES.apply(bdp_g).min(GROUP_MAX_WINDOW_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repair_threshold_is_capped() {
        assert_eq!(multicast_repair_threshold(1), 3);
        assert_eq!(multicast_repair_threshold(20), 3);
        assert_eq!(multicast_repair_threshold(100), 5);
        assert_eq!(multicast_repair_threshold(1000), 8);
    }

    #[test]
    fn rules_take_the_larger_of_multiple_and_floor() {
        assert_eq!(SYNC_TAIL_DELAY.apply(us(50)), ms(1));
        assert_eq!(SYNC_TAIL_DELAY.apply(ms(3)), ms(6));
        assert_eq!(MSACK_DELAY.apply(us(100)), us(200));
        // The draft's example: a window at its 1 MiB floor is 874 packets,
        // and a quarter of it 219.
        let w = group_window_bytes(bdp_octets(GROUP_LINK_RATE, us(100)));
        assert_eq!(w, 1_048_576);
        let wp = w.div_ceil(GROUP_MAX_PACKET as u64);
        assert_eq!(wp, 874);
        assert_eq!(MSACK_SPACING.apply(wp), 219);
        // 10 Gbit/s over 10 ms: 12.5 MB, doubled.
        assert_eq!(
            group_window_bytes(bdp_octets(GROUP_LINK_RATE, ms(10))),
            25_000_000
        );
        assert_eq!(group_window_bytes(u64::MAX / 4), GROUP_MAX_WINDOW_BYTES);
    }

    #[test]
    fn the_draft_invariants_hold() {
        assert!(RTO_MIN < RTO_MAX && RETURN_MIN_TIME < RETURN_MAX_TIME);
        // "No default is a second or more except the hold-down times."
        for p in PARAMETERS {
            let long = match p.value {
                Value::Duration(d) => d >= Duration::from_secs(1),
                Value::DurationRule(r) => r.floor >= Duration::from_secs(1),
                _ => false,
            };
            assert!(
                !long || p.name.starts_with("Mcast.Return."),
                "{} is a second or more",
                p.name
            );
        }
    }

    #[test]
    fn values_print_as_the_draft_writes_them() {
        let text = |name: &str| {
            PARAMETERS
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.value.to_string())
        };
        assert_eq!(text("Mcast.Group.Port").as_deref(), Some("9907"));
        assert_eq!(
            text("Mcast.Msack.Delay").as_deref(),
            Some("max(0.5 * SRTT_k, 200 us)")
        );
        assert_eq!(
            text("Mcast.Group.WindowBytes").as_deref(),
            Some("max(2 * BDP_g, 1048576 octets)")
        );
        assert_eq!(text("Mcast.Fallback.LossThreshold").as_deref(), Some("0.1"));
        assert_eq!(text("Mcast.Group.Authenticate").as_deref(), Some("on"));
    }
}
