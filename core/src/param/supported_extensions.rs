//! Supported Extensions parameter (RFC 5061 §4.2.7,
//! <https://www.rfc-editor.org/rfc/rfc5061#section-4.2.7>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Parameter Type = 0x8008   |      Parameter Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | CHUNK TYPE 1  |  CHUNK TYPE 2 |  CHUNK TYPE 3 |  CHUNK TYPE 4 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! I-DATA (RFC 8260 §2.2) and the multicast extension's chunks are
//! negotiated by listing their types here.

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam};
use crate::chunk::ChunkType;

/// The chunk types of extensions the sender supports.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SupportedExtensions(Bytes);

impl SupportedExtensions {
    /// Lists `types`.
    pub fn new(types: &[ChunkType]) -> Self {
        Self(types.iter().map(|t| t.0).collect::<Vec<_>>().into())
    }

    /// The listed chunk types.
    pub fn types(&self) -> impl Iterator<Item = ChunkType> + '_ {
        self.0.iter().map(|&t| ChunkType(t))
    }

    /// Whether `t` is listed.
    pub fn supports(&self, t: ChunkType) -> bool {
        self.0.contains(&t.0)
    }
}

impl WireParam for SupportedExtensions {
    const TYPE: ParamType = ParamType::SUPPORTED_EXTENSIONS;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        Ok(Self(value))
    }

    fn value_len(&self) -> usize {
        self.0.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.0);
    }
}

impl fmt::Debug for SupportedExtensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SupportedExtensions")
            .field(&self.types().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for SupportedExtensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Supported Extensions {:?}",
            self.types().collect::<Vec<_>>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = SupportedExtensions::new(&[
            ChunkType::FORWARD_TSN,
            ChunkType::IDATA,
            ChunkType::IFORWARD_TSN,
        ]);
        // Length 7: three types, one byte of padding.
        assert_eq!(round_trip(&p), [0x80, 0x08, 0, 7, 192, 64, 194, 0]);
        assert!(p.supports(ChunkType::IDATA));
        assert!(!p.supports(ChunkType::AUTH));
    }
}
