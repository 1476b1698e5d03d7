//! A user-data fragment independent of its encoding: the send and receive
//! queues work on [`UserDataChunk`], and the association encodes it as DATA
//! (RFC 9260 §3.3.1) or I-DATA (RFC 8260 §2.1) depending on what was
//! negotiated. The multicast extension encodes the same fragments as MDATA.

use bytes::Bytes;

use crate::chunk::{Data, DataFlags, IData};
use crate::serial::{Fsn, Mid, Ppid, Ssn, StreamId, Tsn};

/// One fragment (or all) of a user message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDataChunk {
    /// Stream.
    pub stream: StreamId,
    /// Stream Sequence Number; used with DATA, 0 with I-DATA.
    pub ssn: Ssn,
    /// Message Identifier; used with I-DATA, 0 with DATA.
    pub mid: Mid,
    /// Fragment Sequence Number; used with I-DATA (0 for the first
    /// fragment), 0 with DATA where fragments are ordered by TSN.
    pub fsn: Fsn,
    /// Payload Protocol Identifier (carried by every DATA fragment, by the
    /// first I-DATA fragment only).
    pub ppid: Ppid,
    /// B, E, U and I flags.
    pub flags: DataFlags,
    /// The fragment's bytes.
    pub payload: Bytes,
}

impl UserDataChunk {
    /// From a received DATA chunk.
    pub fn from_data(d: Data) -> (Tsn, Self) {
        (
            d.tsn,
            Self {
                stream: d.stream,
                ssn: d.ssn,
                mid: Mid(0),
                fsn: Fsn(0),
                ppid: d.ppid,
                flags: d.flags,
                payload: d.user_data,
            },
        )
    }

    /// From a received I-DATA chunk.
    pub fn from_idata(d: IData) -> (Tsn, Self) {
        (
            d.tsn,
            Self {
                stream: d.stream,
                ssn: Ssn(0),
                mid: d.mid,
                fsn: d.fsn,
                ppid: d.ppid,
                flags: d.flags,
                payload: d.user_data,
            },
        )
    }

    /// Encodes as DATA with `tsn`.
    pub fn to_data(&self, tsn: Tsn) -> Data {
        Data {
            flags: self.flags,
            tsn,
            stream: self.stream,
            ssn: self.ssn,
            ppid: self.ppid,
            user_data: self.payload.clone(),
        }
    }

    /// Encodes as I-DATA with `tsn`.
    pub fn to_idata(&self, tsn: Tsn) -> IData {
        IData {
            flags: self.flags,
            tsn,
            stream: self.stream,
            mid: self.mid,
            ppid: if self.flags.is_begin() {
                self.ppid
            } else {
                Ppid(0)
            },
            fsn: if self.flags.is_begin() {
                Fsn(0)
            } else {
                self.fsn
            },
            user_data: self.payload.clone(),
        }
    }

    /// Whether this is a whole message (B and E set).
    pub fn is_complete_message(&self) -> bool {
        self.flags.is_begin() && self.flags.is_end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        let c = UserDataChunk {
            stream: StreamId(3),
            ssn: Ssn(0),
            mid: Mid(9),
            fsn: Fsn(2),
            ppid: Ppid(0),
            flags: DataFlags::new(false, true, false),
            payload: Bytes::from_static(b"xy"),
        };
        assert_eq!(
            UserDataChunk::from_idata(c.to_idata(Tsn(5))),
            (Tsn(5), c.clone())
        );
        let d = UserDataChunk {
            mid: Mid(0),
            fsn: Fsn(0),
            ssn: Ssn(4),
            ppid: Ppid(7),
            ..c
        };
        assert_eq!(UserDataChunk::from_data(d.to_data(Tsn(6))), (Tsn(6), d));
    }
}
