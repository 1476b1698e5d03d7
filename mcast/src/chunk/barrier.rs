//! BARRIER chunk (draft-mcsctp-tsvwg-sctp-multicast-01 §"BARRIER (66)"):
//! orders a unicast message U of a member's association against the group
//! path, in either direction.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type = 0x42  |  Reserved   |D|          Length = 16          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Group Verification Tag                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                              TSN                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             MTSN                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! U is named by "the TSN of the DATA or I-DATA chunk that carries the
//! first fragment of the unicast message U, which is also the chunk that
//! immediately follows the BARRIER". For bundling, "a BARRIER belongs to
//! the data chunk it names" (draft §"Choice of Type Codes"), so this chunk
//! is declared [`WireChunk::IS_DATA`]: core's builder then lets it follow
//! MDATA or DATA in a packet, and never lets a control chunk follow it.

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::chunk::{ChunkError, ChunkType, WireChunk};
use mcsctp_core::serial::{Tsn, VerificationTag};

use super::{be32, exact};
use crate::Mtsn;

/// A barrier between a unicast message and the group path (draft §"BARRIER
/// (66)", semantics in §"Semantics").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Barrier {
    /// D: unicast first (D=1) or group first (D=0).
    pub unicast_first: bool,
    /// The group tag.
    pub group_tag: VerificationTag,
    /// TSN of the chunk carrying U's first fragment.
    pub tsn: Tsn,
    /// D=0: the last MTSN of the group prefix delivered before U; D=1: the
    /// first MTSN of the group suffix that waits for U.
    pub mtsn: Mtsn,
}

impl Barrier {
    /// The D flag.
    pub const FLAG_D: u8 = 0x01;
    /// Length of the value: tag, TSN, MTSN.
    pub const VALUE_LEN: usize = 12;
}

impl WireChunk for Barrier {
    const TYPE: ChunkType = super::BARRIER;
    const IS_DATA: bool = true;

    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        // "Length: Always 16. A BARRIER of another length is a protocol
        // violation."
        exact(Self::TYPE, &value, Self::VALUE_LEN)?;
        Ok(Self {
            unicast_first: flags & Self::FLAG_D != 0,
            group_tag: VerificationTag(be32(&value, 0)),
            tsn: Tsn(be32(&value, 4)),
            mtsn: Mtsn(be32(&value, 8)),
        })
    }

    fn flags(&self) -> u8 {
        if self.unicast_first { Self::FLAG_D } else { 0 }
    }

    fn value_len(&self) -> usize {
        Self::VALUE_LEN
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.group_tag.0);
        out.put_u32(self.tsn.0);
        out.put_u32(self.mtsn.0);
    }
}

impl fmt::Display for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BARRIER {} tsn={} mtsn={}",
            if self.unicast_first {
                "unicast-first"
            } else {
                "group-first"
            },
            self.tsn,
            self.mtsn
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// The BARRIER of the draft's example "BARRIER with I-DATA": group
    /// first, TSN 5501, MTSN 1000.
    const VECTOR: [u8; 16] = [
        0x42, 0x00, 0x00, 0x10, // type, D=0, length 16
        0x6a, 0x1f, 0x0c, 0x33, // group tag
        0x00, 0x00, 0x15, 0x7d, // TSN 5501
        0x00, 0x00, 0x03, 0xe8, // MTSN 1000
    ];

    fn sample() -> Barrier {
        Barrier {
            unicast_first: false,
            group_tag: VerificationTag(0x6a1f_0c33),
            tsn: Tsn(5501),
            mtsn: Mtsn(1000),
        }
    }

    #[test]
    fn parses_and_round_trips_the_draft_vector() {
        assert_eq!(parse_whole::<Barrier>(&VECTOR), Ok(sample()));
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn d_flag_and_reserved_flags() {
        let mut v = VECTOR;
        v[1] = 0xff; // D plus reserved bits
        let b = parse_whole::<Barrier>(&v).expect("parses");
        assert!(b.unicast_first);
        let out = round_trip(&b);
        assert_eq!(out[1], 0x01, "reserved flags written as zero");
    }

    #[test]
    fn another_length_is_an_error() {
        assert!(matches!(
            Barrier::parse_value(0, Bytes::from_static(&[0; 20])),
            Err(ChunkError::BadLength { expected: 12, .. })
        ));
        assert!(matches!(
            Barrier::parse_value(0, Bytes::from_static(&[0; 11])),
            Err(ChunkError::TooShort { .. })
        ));
    }
}
