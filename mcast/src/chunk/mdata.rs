//! MDATA chunk (draft-mcsctp-tsvwg-sctp-multicast §"Multicast Payload
//! Data (MDATA, 65)"): the I-DATA layout of RFC 8260 §2.1 with the TSN
//! replaced by the MTSN.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type = 0x41  |  Res  |I|U|B|E|            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             MTSN                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       Stream Identifier       |           Reserved            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Message Identifier                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Payload Protocol Identifier / Fragment Sequence Number     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                           User Data                           \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Built on core's I-DATA codec: the wire layouts are identical but for
//! the type, so MDATA parses and writes through
//! [`IData`](mcsctp_core::chunk::IData) and only renames its TSN.
//!
//! Draft §"Multicast Payload Data (MDATA, 65)", I flag: "It MUST be 0 on
//! the group path, where it would make every member answer at once, and
//! members ignore it there." The codec keeps the flag as received; the
//! member ignores it on the group path. An MDATA with no user data parses
//! (as I-DATA does in core): "An MDATA chunk with no user data is
//! invalid" is a protocol decision, answered on the association with a
//! "No User Data" cause.

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::chunk::{ChunkError, ChunkType, DataFlags, IData, WireChunk};
use mcsctp_core::serial::{Fsn, Mid, Ppid, StreamId, Tsn};
use mcsctp_core::user_data::UserDataChunk;

use crate::Mtsn;

/// One fragment of a group message (draft §"Multicast Payload Data
/// (MDATA, 65)").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdata {
    /// I, U, B, E (the reserved high four bits are dropped).
    pub flags: DataFlags,
    /// The fragment's multicast TSN.
    pub mtsn: Mtsn,
    /// Group stream.
    pub stream: StreamId,
    /// Message identifier within the group stream and ordering.
    pub mid: Mid,
    /// PPID, meaningful on the first fragment (B set) only.
    pub ppid: Ppid,
    /// Fragment sequence number; 0 on the first fragment.
    pub fsn: Fsn,
    /// User data, a zero-copy slice of the packet.
    pub user_data: Bytes,
}

impl Mdata {
    fn as_idata(&self) -> IData {
        IData {
            flags: self.flags,
            tsn: Tsn(self.mtsn.0),
            stream: self.stream,
            mid: self.mid,
            ppid: self.ppid,
            fsn: self.fsn,
            user_data: self.user_data.clone(),
        }
    }
}

impl Mdata {
    /// The MDATA chunk of a group message's fragment with its MTSN (draft
    /// §"MDATA": the I-DATA layout; the I flag is never set here, as on the
    /// group path).
    pub fn from_fragment(mtsn: Mtsn, c: &UserDataChunk) -> Self {
        Self {
            flags: DataFlags::new(c.flags.is_begin(), c.flags.is_end(), c.flags.is_unordered()),
            mtsn,
            stream: c.stream,
            mid: c.mid,
            ppid: c.ppid,
            fsn: c.fsn,
            user_data: c.payload.clone(),
        }
    }

    /// The fragment this chunk carries, for the receive path (MDATA has no
    /// SSN: ordering is by MID, as with I-DATA).
    pub fn into_fragment(self) -> UserDataChunk {
        UserDataChunk {
            stream: self.stream,
            ssn: mcsctp_core::serial::Ssn(0),
            mid: self.mid,
            fsn: self.fsn,
            ppid: self.ppid,
            flags: self.flags,
            payload: self.user_data,
        }
    }
}

impl WireChunk for Mdata {
    const TYPE: ChunkType = super::MDATA;
    const IS_DATA: bool = true;

    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        let d = IData::parse_value(flags, value).map_err(|e| match e {
            ChunkError::TooShort { need, got, .. } => ChunkError::TooShort {
                typ: Self::TYPE,
                need,
                got,
            },
            other => other,
        })?;
        Ok(Self {
            flags: d.flags,
            mtsn: Mtsn(d.tsn.0),
            stream: d.stream,
            mid: d.mid,
            ppid: d.ppid,
            fsn: d.fsn,
            user_data: d.user_data,
        })
    }

    fn flags(&self) -> u8 {
        self.flags.0 & 0x0f
    }

    fn value_len(&self) -> usize {
        IData::HEADER_LEN + self.user_data.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        self.as_idata().write_value(out);
    }
}

impl fmt::Display for Mdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MDATA [{}] mtsn={} sid={} mid={} len={}",
            self.flags,
            self.mtsn,
            self.stream,
            self.mid,
            self.user_data.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// The MDATA chunk of the draft's example "Group Packet with MDATA":
    /// one-fragment ordered message, MTSN 1000, group stream 1, MID 17,
    /// PPID 0, "INVALIDATE k".
    const VECTOR: [u8; 32] = [
        0x41, 0x03, 0x00, 0x20, // type, B|E, length 32
        0x00, 0x00, 0x03, 0xe8, // MTSN 1000
        0x00, 0x01, 0x00, 0x00, // stream 1, reserved
        0x00, 0x00, 0x00, 0x11, // MID 17
        0x00, 0x00, 0x00, 0x00, // PPID 0
        b'I', b'N', b'V', b'A', b'L', b'I', b'D', b'A', b'T', b'E', b' ', b'k',
    ];

    fn sample() -> Mdata {
        Mdata {
            flags: DataFlags::COMPLETE,
            mtsn: Mtsn(1000),
            stream: StreamId(1),
            mid: Mid(17),
            ppid: Ppid(0),
            fsn: Fsn(0),
            user_data: Bytes::from_static(b"INVALIDATE k"),
        }
    }

    #[test]
    fn parses_and_round_trips_the_draft_vector() {
        assert_eq!(parse_whole::<Mdata>(&VECTOR), Ok(sample()));
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn a_middle_fragment_carries_its_fsn() {
        let m = Mdata {
            flags: DataFlags(0),
            fsn: Fsn(7),
            ppid: Ppid(0),
            user_data: Bytes::from_static(b"xyz"),
            ..sample()
        };
        let bytes = round_trip(&m);
        assert_eq!(&bytes[16..20], &[0, 0, 0, 7]);
        assert_eq!(bytes.len(), 24, "3 data octets padded to 4");
    }

    #[test]
    fn short_value_is_a_typed_error() {
        assert_eq!(
            Mdata::parse_value(0x03, Bytes::from_static(&[0; 15])),
            Err(ChunkError::TooShort {
                typ: super::super::MDATA,
                need: 16,
                got: 15
            })
        );
    }
}
