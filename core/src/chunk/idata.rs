//! I-DATA chunk (RFC 8260 §2.1,
//! <https://www.rfc-editor.org/rfc/rfc8260#section-2.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 64   |  Res  |I|U|B|E|       Length = Variable       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                              TSN                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Stream Identifier      |           Reserved            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Message Identifier                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Payload Protocol Identifier / Fragment Sequence Number     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                           User Data                           /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! "Payload Protocol Identifier / Fragment Sequence Number: 32 bits [...] If
//! the B bit is set, this field contains the PPID [...] Otherwise [...] the
//! Fragment Sequence Number (FSN)". The first fragment's FSN is 0.

use core::fmt;

use bytes::{Buf, BufMut, Bytes};

use super::{ChunkError, ChunkType, DataFlags, WireChunk, be16, be32, need};
use crate::serial::{Fsn, Mid, Ppid, StreamId, Tsn};

/// An I-DATA chunk: one fragment (or all) of a user message, addressed by
/// message identifier and fragment number so messages of different streams
/// can interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IData {
    /// Flags (I, U, B, E).
    pub flags: DataFlags,
    /// Transmission Sequence Number.
    pub tsn: Tsn,
    /// Stream Identifier.
    pub stream: StreamId,
    /// Message Identifier (per stream; unordered messages have their own
    /// MID sequence, RFC 8260 §2.1).
    pub mid: Mid,
    /// Payload Protocol Identifier; meaningful only on the first fragment
    /// (B set) and 0 on the others.
    pub ppid: Ppid,
    /// Fragment Sequence Number; 0 on the first fragment, whose field holds
    /// the PPID instead.
    pub fsn: Fsn,
    /// User data, a zero-copy slice of the packet.
    pub user_data: Bytes,
}

impl IData {
    /// Length of the fixed fields after the chunk header.
    pub const HEADER_LEN: usize = 16;
}

impl WireChunk for IData {
    const TYPE: ChunkType = ChunkType::IDATA;
    const IS_DATA: bool = true;

    fn parse_value(flags: u8, mut value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, Self::HEADER_LEN)?;
        let flags = DataFlags(flags & 0x0f);
        let word = be32(&value, 12);
        let (ppid, fsn) = if flags.is_begin() {
            (Ppid(word), Fsn(0))
        } else {
            (Ppid(0), Fsn(word))
        };
        let (tsn, stream, mid) = (
            Tsn(be32(&value, 0)),
            StreamId(be16(&value, 4)),
            Mid(be32(&value, 8)),
        );
        // The user data is the value past its header: advanced in place,
        // not sliced (a slice would take and later drop a reference).
        value.advance(Self::HEADER_LEN);
        Ok(Self {
            flags,
            tsn,
            stream,
            mid,
            ppid,
            fsn,
            user_data: value,
        })
    }

    fn flags(&self) -> u8 {
        self.flags.0 & 0x0f
    }

    fn value_len(&self) -> usize {
        Self::HEADER_LEN + self.user_data.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.tsn.0);
        out.put_u16(self.stream.0);
        out.put_u16(0);
        out.put_u32(self.mid.0);
        out.put_u32(if self.flags.is_begin() {
            self.ppid.0
        } else {
            self.fsn.0
        });
        out.put_slice(&self.user_data);
    }
}

impl fmt::Display for IData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "I-DATA [{}] tsn={} sid={} mid={} ",
            self.flags, self.tsn, self.stream, self.mid
        )?;
        if self.flags.is_begin() {
            write!(f, "ppid={}", self.ppid)?;
        } else {
            write!(f, "fsn={}", self.fsn)?;
        }
        write!(f, " len={}", self.user_data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// RFC 8260 §2.1: a middle fragment (no B, no E), TSN 9, stream 3, MID
    /// 0x01000000, FSN 2, two data bytes and two bytes of padding.
    const MIDDLE: [u8; 24] = [
        0x40, 0x00, 0x00, 0x16, // type 64, flags, length 22
        0x00, 0x00, 0x00, 0x09, // TSN
        0x00, 0x03, 0x00, 0x00, // stream, reserved
        0x01, 0x00, 0x00, 0x00, // MID
        0x00, 0x00, 0x00, 0x02, // FSN
        0xaa, 0xbb, 0x00, 0x00, // data + padding
    ];

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let c = IData {
            flags: DataFlags(0),
            tsn: Tsn(9),
            stream: StreamId(3),
            mid: Mid(0x0100_0000),
            ppid: Ppid(0),
            fsn: Fsn(2),
            user_data: Bytes::from_static(&[0xaa, 0xbb]),
        };
        assert_eq!(parse_whole::<IData>(&MIDDLE), Ok(c.clone()));
        assert_eq!(round_trip(&c), MIDDLE);
    }

    #[test]
    fn first_fragment_carries_the_ppid() {
        let mut v = MIDDLE;
        v[1] = DataFlags::BEGIN;
        v[19] = 51;
        let c = parse_whole::<IData>(&v).expect("parses");
        assert_eq!((c.ppid, c.fsn), (Ppid(51), Fsn(0)));
        assert_eq!(round_trip(&c), v);
    }

    #[test]
    fn short_value_is_an_error() {
        assert!(IData::parse_value(0, Bytes::from_static(&[0; 15])).is_err());
    }
}
