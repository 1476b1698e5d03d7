//! FORWARD-TSN chunk (RFC 3758 §3.2,
//! <https://www.rfc-editor.org/rfc/rfc3758#section-3.2>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 192  |  Flags = 0x00 |        Length = Variable      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      New Cumulative TSN                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Stream-1              |       Stream Sequence-1       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               /
//! /                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Stream-N              |       Stream Sequence-N       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be16, be32, need};
use crate::serial::{Ssn, StreamId, Tsn};

/// One (stream, SSN) pair: the receiver may skip ordered messages of the
/// stream up to and including this SSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardTsnStream {
    /// Stream.
    pub stream: StreamId,
    /// Largest SSN skipped on it.
    pub ssn: Ssn,
}

/// A FORWARD-TSN: moves the receiver's cumulative TSN past abandoned data.
#[derive(Clone, PartialEq, Eq)]
pub struct ForwardTsn {
    /// New Cumulative TSN.
    pub new_cumulative_tsn: Tsn,
    streams: Bytes,
}

impl ForwardTsn {
    /// Builds a FORWARD-TSN.
    pub fn new(new_cumulative_tsn: Tsn, streams: &[ForwardTsnStream]) -> Self {
        let mut v = Vec::with_capacity(streams.len() * 4);
        for s in streams {
            v.put_u16(s.stream.0);
            v.put_u16(s.ssn.0);
        }
        Self {
            new_cumulative_tsn,
            streams: v.into(),
        }
    }

    /// The (stream, SSN) pairs.
    pub fn streams(&self) -> impl ExactSizeIterator<Item = ForwardTsnStream> + '_ {
        self.streams.chunks_exact(4).map(|c| ForwardTsnStream {
            stream: StreamId(be16(c, 0)),
            ssn: Ssn(be16(c, 2)),
        })
    }
}

impl WireChunk for ForwardTsn {
    const TYPE: ChunkType = ChunkType::FORWARD_TSN;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, 4)?;
        if !value.len().is_multiple_of(4) {
            return Err(ChunkError::BadLength {
                typ: Self::TYPE,
                expected: value.len() & !3,
                got: value.len(),
            });
        }
        Ok(Self {
            new_cumulative_tsn: Tsn(be32(&value, 0)),
            streams: value.slice(4..),
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        4 + self.streams.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.new_cumulative_tsn.0);
        out.put_slice(&self.streams);
    }
}

impl fmt::Debug for ForwardTsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForwardTsn")
            .field("new_cumulative_tsn", &self.new_cumulative_tsn)
            .field("streams", &self.streams().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for ForwardTsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FORWARD-TSN new_cum={}", self.new_cumulative_tsn)?;
        for s in self.streams() {
            write!(f, " {}:{}", s.stream, s.ssn)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// RFC 3758 §3.2: new cumulative TSN 100, streams (1, 5) and (7, 0).
    const VECTOR: [u8; 16] = [
        0xc0, 0x00, 0x00, 0x10, // type 192, flags, length 16
        0x00, 0x00, 0x00, 0x64, // new cumulative TSN
        0x00, 0x01, 0x00, 0x05, // stream 1, SSN 5
        0x00, 0x07, 0x00, 0x00, // stream 7, SSN 0
    ];

    fn sample() -> ForwardTsn {
        ForwardTsn::new(
            Tsn(100),
            &[
                ForwardTsnStream {
                    stream: StreamId(1),
                    ssn: Ssn(5),
                },
                ForwardTsnStream {
                    stream: StreamId(7),
                    ssn: Ssn(0),
                },
            ],
        )
    }

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        assert_eq!(parse_whole::<ForwardTsn>(&VECTOR), Ok(sample()));
        assert_eq!(round_trip(&sample()), VECTOR);
        round_trip(&ForwardTsn::new(Tsn(1), &[]));
    }

    #[test]
    fn ragged_length_is_an_error() {
        assert!(ForwardTsn::parse_value(0, Bytes::from_static(&[0; 6])).is_err());
        assert!(ForwardTsn::parse_value(0, Bytes::from_static(&[0; 3])).is_err());
    }
}
