//! I-FORWARD-TSN chunk (RFC 8260 §2.3.1,
//! <https://www.rfc-editor.org/rfc/rfc8260#section-2.3.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 194  |  Flags = 0x00 |      Length = Variable        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       New Cumulative TSN                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       Stream Identifier       |          Reserved           |U|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Message Identifier                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                                                               /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be16, be32, need};
use crate::serial::{Mid, StreamId, Tsn};

/// One entry: messages of `stream` (ordered or, with U, unordered) up to and
/// including `mid` are abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IForwardTsnStream {
    /// Stream.
    pub stream: StreamId,
    /// U bit: the entry refers to the unordered MID sequence.
    pub unordered: bool,
    /// Largest message identifier skipped.
    pub mid: Mid,
}

/// An I-FORWARD-TSN: FORWARD-TSN for associations that use I-DATA.
///
/// The entries stay in the received bytes (parsing copies nothing); their
/// reserved bits are ignored when read and written as zero (RFC 8260
/// §2.3.1: "MUST be set to 0 by the sender and MUST be ignored by the
/// receiver"), so equality compares entries, not raw bytes.
#[derive(Clone)]
pub struct IForwardTsn {
    /// New Cumulative TSN.
    pub new_cumulative_tsn: Tsn,
    entries: Bytes,
}

impl PartialEq for IForwardTsn {
    fn eq(&self, other: &Self) -> bool {
        self.new_cumulative_tsn == other.new_cumulative_tsn && self.entries().eq(other.entries())
    }
}

impl Eq for IForwardTsn {}

impl IForwardTsn {
    /// Builds an I-FORWARD-TSN.
    pub fn new(new_cumulative_tsn: Tsn, entries: &[IForwardTsnStream]) -> Self {
        let mut v = Vec::with_capacity(entries.len() * 8);
        for e in entries {
            v.put_u16(e.stream.0);
            v.put_u16(u16::from(e.unordered));
            v.put_u32(e.mid.0);
        }
        Self {
            new_cumulative_tsn,
            entries: v.into(),
        }
    }

    /// The entries.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = IForwardTsnStream> + '_ {
        self.entries.chunks_exact(8).map(|c| IForwardTsnStream {
            stream: StreamId(be16(c, 0)),
            unordered: be16(c, 2) & 1 != 0,
            mid: Mid(be32(c, 4)),
        })
    }
}

impl WireChunk for IForwardTsn {
    const TYPE: ChunkType = ChunkType::IFORWARD_TSN;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, 4)?;
        if !(value.len() - 4).is_multiple_of(8) {
            return Err(ChunkError::BadLength {
                typ: Self::TYPE,
                expected: 4 + (value.len() - 4) / 8 * 8,
                got: value.len(),
            });
        }
        Ok(Self {
            new_cumulative_tsn: Tsn(be32(&value, 0)),
            entries: value.slice(4..),
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        4 + self.entries.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.new_cumulative_tsn.0);
        // Reserved bits go out as zero whatever the parsed bytes held.
        for e in self.entries() {
            out.put_u16(e.stream.0);
            out.put_u16(u16::from(e.unordered));
            out.put_u32(e.mid.0);
        }
    }
}

impl fmt::Debug for IForwardTsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IForwardTsn")
            .field("new_cumulative_tsn", &self.new_cumulative_tsn)
            .field("entries", &self.entries().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for IForwardTsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "I-FORWARD-TSN new_cum={}", self.new_cumulative_tsn)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// RFC 8260 §2.3.1: new cumulative TSN 5, (stream 2, ordered, MID 7),
    /// (stream 4, unordered, MID 1).
    const VECTOR: [u8; 24] = [
        0xc2, 0x00, 0x00, 0x18, // type 194, flags, length 24
        0x00, 0x00, 0x00, 0x05, // new cumulative TSN
        0x00, 0x02, 0x00, 0x00, // stream 2, U=0
        0x00, 0x00, 0x00, 0x07, // MID 7
        0x00, 0x04, 0x00, 0x01, // stream 4, U=1
        0x00, 0x00, 0x00, 0x01, // MID 1
    ];

    fn sample() -> IForwardTsn {
        IForwardTsn::new(
            Tsn(5),
            &[
                IForwardTsnStream {
                    stream: StreamId(2),
                    unordered: false,
                    mid: Mid(7),
                },
                IForwardTsnStream {
                    stream: StreamId(4),
                    unordered: true,
                    mid: Mid(1),
                },
            ],
        )
    }

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        assert_eq!(parse_whole::<IForwardTsn>(&VECTOR), Ok(sample()));
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let mut v = VECTOR;
        v[10] = 0xff;
        v[11] = 0xfe;
        let c = parse_whole::<IForwardTsn>(&v).expect("parses");
        assert_eq!(c, sample());
        // Written back with the reserved bits cleared.
        assert_eq!(round_trip(&c), VECTOR);
    }

    #[test]
    fn ragged_length_is_an_error() {
        assert!(IForwardTsn::parse_value(0, Bytes::from_static(&[0; 8])).is_err());
    }
}
