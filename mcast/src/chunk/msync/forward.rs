//! Forward parameter of MSYNC (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"Forward (0x0002)"): abandonment with I-FORWARD-TSN semantics (RFC 8260
//! §2.3.1) in the MTSN space.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Type = 0x0002          |      Length = 8 + 8 * E       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      New Cumulative MTSN                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Stream Identifier #1     |          Reserved           |U|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Message Identifier #1                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                              ...                              /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The entries (skip points) stay in the received bytes; their reserved
//! bits are ignored and written as zero, so equality compares entries.
//! "There is at most one entry per stream and U value" is the sender's
//! duty; a receiver that meets two applies the later MID, as it would
//! apply two Forward parameters in turn.

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::serial::{Mid, StreamId};

use super::{MsyncParamError, MsyncParamType, WireMsyncParam};
use crate::Mtsn;
use crate::chunk::{be16, be32};

/// One skip point: the messages of `stream` (ordered, or with `unordered`
/// the unordered sequence) up to and including `mid` are delivered or
/// abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardEntry {
    /// Group stream.
    pub stream: StreamId,
    /// U: the entry refers to the unordered MID sequence.
    pub unordered: bool,
    /// Largest MID skipped.
    pub mid: Mid,
}

/// Abandonment for one member (draft §"Abandoning Group Messages").
#[derive(Clone)]
pub struct Forward {
    /// Every MTSN up to and including it that the member lacks is
    /// abandoned.
    pub new_cumulative_mtsn: Mtsn,
    entries: Bytes,
}

impl Forward {
    /// Builds a Forward parameter.
    pub fn new(new_cumulative_mtsn: Mtsn, entries: &[ForwardEntry]) -> Self {
        let mut v = Vec::with_capacity(entries.len() * 8);
        for e in entries {
            put_entry(&mut v, e);
        }
        Self {
            new_cumulative_mtsn,
            entries: v.into(),
        }
    }

    /// The skip points, in wire order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = ForwardEntry> + '_ {
        self.entries.chunks_exact(8).map(|c| ForwardEntry {
            stream: StreamId(be16(c, 0)),
            unordered: be16(c, 2) & 1 != 0,
            mid: Mid(be32(c, 4)),
        })
    }
}

fn put_entry<B: BufMut>(out: &mut B, e: &ForwardEntry) {
    out.put_u16(e.stream.0);
    out.put_u16(u16::from(e.unordered));
    out.put_u32(e.mid.0);
}

impl PartialEq for Forward {
    fn eq(&self, other: &Self) -> bool {
        self.new_cumulative_mtsn == other.new_cumulative_mtsn && self.entries().eq(other.entries())
    }
}

impl Eq for Forward {}

impl WireMsyncParam for Forward {
    const TYPE: MsyncParamType = MsyncParamType::FORWARD;

    fn parse_value(value: Bytes) -> Result<Self, MsyncParamError> {
        if value.len() < 4 {
            return Err(MsyncParamError::TooShort {
                typ: Self::TYPE,
                need: 4,
                got: value.len(),
            });
        }
        if !(value.len() - 4).is_multiple_of(8) {
            return Err(MsyncParamError::BadLength {
                typ: Self::TYPE,
                expected: 4 + (value.len() - 4) / 8 * 8,
                got: value.len(),
            });
        }
        Ok(Self {
            new_cumulative_mtsn: Mtsn(be32(&value, 0)),
            entries: value.slice(4..),
        })
    }

    fn value_len(&self) -> usize {
        4 + self.entries.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.new_cumulative_mtsn.0);
        // Reserved bits go out as zero whatever the parsed bytes held.
        for e in self.entries() {
            put_entry(out, &e);
        }
    }
}

impl fmt::Debug for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forward")
            .field("new_cumulative_mtsn", &self.new_cumulative_mtsn)
            .field("entries", &self.entries().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Forward new_cum={}", self.new_cumulative_mtsn)?;
        for e in self.entries() {
            write!(
                f,
                " {}{}:{}",
                e.stream,
                if e.unordered { "u" } else { "" },
                e.mid
            )?;
        }
        Ok(())
    }
}
