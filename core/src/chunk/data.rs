//! DATA chunk (RFC 9260 §3.3.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 0    |  Res  |I|U|B|E|            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                              TSN                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Stream Identifier S      |   Stream Sequence Number n    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Payload Protocol Identifier                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                 User Data (seq n of Stream S)                 /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{Buf, BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be16, be32, need};
use crate::serial::{Ppid, Ssn, StreamId, Tsn};

/// The flag bits shared by DATA, I-DATA (RFC 8260 §2.1) and the extension's
/// MDATA: (I)mmediate (RFC 7053), (U)nordered, (B)eginning and (E)nding
/// fragment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataFlags(pub u8);

impl DataFlags {
    /// E: the last fragment of a user message.
    pub const END: u8 = 0x01;
    /// B: the first fragment of a user message.
    pub const BEGIN: u8 = 0x02;
    /// U: an unordered user message.
    pub const UNORDERED: u8 = 0x04;
    /// I: the receiver should SACK without delay (RFC 7053 §3).
    pub const IMMEDIATE: u8 = 0x08;
    /// A whole, unfragmented message: B and E set.
    pub const COMPLETE: Self = Self(Self::BEGIN | Self::END);

    /// Flags for a fragment.
    pub const fn new(begin: bool, end: bool, unordered: bool) -> Self {
        let mut f = 0;
        if begin {
            f |= Self::BEGIN;
        }
        if end {
            f |= Self::END;
        }
        if unordered {
            f |= Self::UNORDERED;
        }
        Self(f)
    }

    /// B bit.
    pub const fn is_begin(self) -> bool {
        self.0 & Self::BEGIN != 0
    }
    /// E bit.
    pub const fn is_end(self) -> bool {
        self.0 & Self::END != 0
    }
    /// U bit.
    pub const fn is_unordered(self) -> bool {
        self.0 & Self::UNORDERED != 0
    }
    /// I bit.
    pub const fn is_immediate(self) -> bool {
        self.0 & Self::IMMEDIATE != 0
    }
    /// With the I bit set or cleared.
    #[must_use]
    pub const fn with_immediate(self, on: bool) -> Self {
        if on {
            Self(self.0 | Self::IMMEDIATE)
        } else {
            Self(self.0 & !Self::IMMEDIATE)
        }
    }
}

impl fmt::Debug for DataFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DataFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bit = |on: bool, c: char| if on { c } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            bit(self.is_immediate(), 'I'),
            bit(self.is_unordered(), 'U'),
            bit(self.is_begin(), 'B'),
            bit(self.is_end(), 'E')
        )
    }
}

/// A DATA chunk: one fragment (or all) of a user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// Flags (I, U, B, E). The reserved high bits are ignored on receipt
    /// and sent as zero.
    pub flags: DataFlags,
    /// Transmission Sequence Number.
    pub tsn: Tsn,
    /// Stream Identifier.
    pub stream: StreamId,
    /// Stream Sequence Number (meaningless when unordered).
    pub ssn: Ssn,
    /// Payload Protocol Identifier.
    pub ppid: Ppid,
    /// User data: a zero-copy slice of the received packet. RFC 9260
    /// §6.2 requires an ABORT with "No User Data" when it is empty; that is
    /// the association's call, so an empty chunk still parses.
    pub user_data: Bytes,
}

impl Data {
    /// Length of the fixed fields after the chunk header.
    pub const HEADER_LEN: usize = 12;
}

impl WireChunk for Data {
    const TYPE: ChunkType = ChunkType::DATA;
    const IS_DATA: bool = true;

    fn parse_value(flags: u8, mut value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, Self::HEADER_LEN)?;
        let (tsn, stream, ssn, ppid) = (
            Tsn(be32(&value, 0)),
            StreamId(be16(&value, 4)),
            Ssn(be16(&value, 6)),
            Ppid(be32(&value, 8)),
        );
        // The user data is the value past its header: advanced in place,
        // not sliced (a slice would take and later drop a reference).
        value.advance(Self::HEADER_LEN);
        Ok(Self {
            flags: DataFlags(flags & 0x0f),
            tsn,
            stream,
            ssn,
            ppid,
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
        out.put_u16(self.ssn.0);
        out.put_u32(self.ppid.0);
        out.put_slice(&self.user_data);
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DATA [{}] tsn={} sid={} ssn={} ppid={} len={}",
            self.flags,
            self.tsn,
            self.stream,
            self.ssn,
            self.ppid,
            self.user_data.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// Written from the RFC 9260 §3.3.1 layout: type 0, flags U|B|E, length
    /// 19 (16 + 3 bytes), TSN 0x01020304, stream 5, SSN 6, PPID 51, "abc",
    /// one padding byte.
    const VECTOR: [u8; 20] = [
        0x00, 0x07, 0x00, 0x13, // type, flags, length
        0x01, 0x02, 0x03, 0x04, // TSN
        0x00, 0x05, 0x00, 0x06, // stream, SSN
        0x00, 0x00, 0x00, 0x33, // PPID
        b'a', b'b', b'c', 0x00, // data + padding
    ];

    fn sample() -> Data {
        Data {
            flags: DataFlags::new(true, true, true),
            tsn: Tsn(0x0102_0304),
            stream: StreamId(5),
            ssn: Ssn(6),
            ppid: Ppid(51),
            user_data: Bytes::from_static(b"abc"),
        }
    }

    #[test]
    fn parses_rfc_layout_vector() {
        assert_eq!(parse_whole::<Data>(&VECTOR), Ok(sample()));
    }

    #[test]
    fn round_trips_to_the_same_bytes() {
        assert_eq!(round_trip(&sample()), VECTOR);
        let mut empty = sample();
        empty.user_data = Bytes::new();
        empty.flags = DataFlags(DataFlags::IMMEDIATE | DataFlags::BEGIN);
        round_trip(&empty);
    }

    #[test]
    fn reserved_flag_bits_are_ignored() {
        let d = Data::parse_value(0xf3, Bytes::copy_from_slice(&VECTOR[4..19])).expect("parses");
        assert_eq!(d.flags, DataFlags::COMPLETE);
    }

    #[test]
    fn short_value_is_an_error() {
        assert_eq!(
            Data::parse_value(0, Bytes::from_static(&[0; 11])),
            Err(ChunkError::TooShort {
                typ: ChunkType::DATA,
                need: 12,
                got: 11
            })
        );
    }
}
