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

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::chunk::{ChunkError, ChunkType, DataFlags, IData, WireChunk};
use mcsctp_core::serial::{Fsn, Mid, Ppid, StreamId, Tsn};

use crate::Mtsn;

/// One fragment of a group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mdata {
    /// I, U, B, E.
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
