//! Feedback parameter of MSYNC (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"Feedback (0x0004)"): how the member acknowledges.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Type = 0x0004          |          Length = 20          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Ack Spacing (packets)     |           Reserved            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Ack Delay (us)                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Ack Period (us)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Loss Report Delay (us)                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{MsyncParamError, MsyncParamType, WireMsyncParam, exact};
use crate::chunk::{be16, be32};

/// The member's acknowledgement settings (draft §"Acknowledgement: MSACK
/// Timing and Feedback Scaling").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Feedback {
    /// An MSACK after this many packets with new MDATA ("0 is treated as
    /// 1": kept as received, see [`Feedback::spacing`]).
    pub ack_spacing: u16,
    /// ... or this long after the first of them, in microseconds.
    pub ack_delay_us: u32,
    /// At least one MSACK per period while something changed, in
    /// microseconds.
    pub ack_period_us: u32,
    /// Longest random wait before a loss report; 0: at once (the acker).
    pub loss_report_delay_us: u32,
}

impl Feedback {
    /// The Ack Spacing a member applies: "0 is treated as 1".
    pub const fn spacing(&self) -> u16 {
        if self.ack_spacing == 0 {
            1
        } else {
            self.ack_spacing
        }
    }
}

impl WireMsyncParam for Feedback {
    const TYPE: MsyncParamType = MsyncParamType::FEEDBACK;

    fn parse_value(value: Bytes) -> Result<Self, MsyncParamError> {
        exact(Self::TYPE, &value, 16)?;
        Ok(Self {
            ack_spacing: be16(&value, 0),
            ack_delay_us: be32(&value, 4),
            ack_period_us: be32(&value, 8),
            loss_report_delay_us: be32(&value, 12),
        })
    }

    fn value_len(&self) -> usize {
        16
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u16(self.ack_spacing);
        out.put_u16(0);
        out.put_u32(self.ack_delay_us);
        out.put_u32(self.ack_period_us);
        out.put_u32(self.loss_report_delay_us);
    }
}

impl fmt::Display for Feedback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Feedback spacing={} delay={}us period={}us loss_delay={}us",
            self.ack_spacing, self.ack_delay_us, self.ack_period_us, self.loss_report_delay_us
        )
    }
}
