//! The type-length-value layout shared by parameters (RFC 9260 §3.2.1) and
//! error causes (RFC 9260 §3.3.10): a 16-bit type, a 16-bit length that
//! counts the 4-byte header and the value but not the padding, and padding to
//! a multiple of 4 bytes.
//!
//! RFC 9260 §3.2: "The Chunk Length field does not count any chunk padding.
//! However, it does include any padding of variable-length parameters other
//! than the last parameter in the chunk. [...] A robust implementation is
//! expected to accept the chunk whether or not the final padding has been
//! included in the Chunk Length." So the last element may end without its
//! padding; every other element must be followed by exactly its padding.

use core::fmt;

use bytes::Bytes;

use crate::chunk::{be16, padded};

/// Length of a TLV header.
pub(crate) const TLV_HEADER_LEN: usize = 4;

/// A structural fault in a TLV sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlvError {
    /// Fewer than 4 bytes remain where a header must start.
    TruncatedHeader {
        /// Offset of the header within the sequence.
        offset: usize,
    },
    /// The length field is smaller than the header itself.
    LengthTooSmall {
        /// Offset of the element.
        offset: usize,
        /// The length field.
        len: u16,
    },
    /// The length field runs past the end of the enclosing chunk or cause.
    BeyondEnd {
        /// Offset of the element.
        offset: usize,
        /// The length field.
        len: u16,
        /// Bytes available from `offset` to the end.
        available: usize,
    },
}

impl fmt::Display for TlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TruncatedHeader { offset } => write!(f, "truncated header at offset {offset}"),
            Self::LengthTooSmall { offset, len } => {
                write!(f, "length {len} smaller than its header at offset {offset}")
            }
            Self::BeyondEnd {
                offset,
                len,
                available,
            } => write!(
                f,
                "length {len} at offset {offset} runs past the end ({available} bytes left)"
            ),
        }
    }
}

impl std::error::Error for TlvError {}

/// Walks a TLV sequence, checking every length; returns the element count.
pub(crate) fn validate(buf: &[u8]) -> Result<usize, TlvError> {
    let mut it = TlvIter::new(buf);
    let mut n = 0;
    while let Some(r) = it.next_range() {
        r?;
        n += 1;
    }
    Ok(n)
}

/// One element: its type and the byte range of its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TlvRange {
    pub(crate) typ: u16,
    /// Start of the value.
    pub(crate) value_start: usize,
    /// End of the value (exclusive; padding not included).
    pub(crate) value_end: usize,
}

/// Iterator over the elements of a TLV sequence.
#[derive(Debug, Clone)]
pub(crate) struct TlvIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> TlvIter<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// The next element, or the structural error that ends the walk.
    pub(crate) fn next_range(&mut self) -> Option<Result<TlvRange, TlvError>> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        let rest = &self.buf[offset..];
        if rest.len() < TLV_HEADER_LEN {
            self.failed = true;
            return Some(Err(TlvError::TruncatedHeader { offset }));
        }
        let typ = be16(rest, 0);
        let len = be16(rest, 2);
        if usize::from(len) < TLV_HEADER_LEN {
            self.failed = true;
            return Some(Err(TlvError::LengthTooSmall { offset, len }));
        }
        if usize::from(len) > rest.len() {
            self.failed = true;
            return Some(Err(TlvError::BeyondEnd {
                offset,
                len,
                available: rest.len(),
            }));
        }
        // The next element starts after this one's padding; a last element
        // may have its padding cut off by the end of the chunk.
        self.pos = offset + padded(usize::from(len));
        Some(Ok(TlvRange {
            typ,
            value_start: offset + TLV_HEADER_LEN,
            value_end: offset + usize::from(len),
        }))
    }
}

/// `bytes` without the padding after its last element.
///
/// RFC 9260 §3.2: the Chunk Length "does include any padding of
/// variable-length parameters other than the last parameter in the chunk".
/// Lists keep this canonical form, so a chunk's length never counts the
/// final padding (the chunk's own padding supplies those bytes) and a list
/// compares equal whether or not a peer counted it. `bytes` must be a
/// validated sequence.
pub(crate) fn without_final_padding(bytes: Bytes) -> Bytes {
    let mut it = TlvIter::new(&bytes);
    let mut end = 0;
    while let Some(Ok(r)) = it.next_range() {
        end = r.value_end;
    }
    if end < bytes.len() {
        bytes.slice(..end)
    } else {
        bytes
    }
}

/// Iterates over a sequence that was validated when it was parsed, yielding
/// `(type, value)` with the value a zero-copy slice.
#[derive(Debug, Clone)]
pub(crate) struct ValidatedTlvs<'a> {
    bytes: &'a Bytes,
    inner: TlvIter<'a>,
}

impl<'a> ValidatedTlvs<'a> {
    pub(crate) fn new(bytes: &'a Bytes) -> Self {
        Self {
            bytes,
            inner: TlvIter::new(bytes),
        }
    }
}

impl Iterator for ValidatedTlvs<'_> {
    type Item = (u16, Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        // A validated sequence has no structural errors; should one appear
        // anyway (a caller built the view unchecked), the walk just ends.
        match self.inner.next_range()? {
            Ok(r) => Some((r.typ, self.bytes.slice(r.value_start..r.value_end))),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_element_may_omit_its_padding() {
        // type 1 len 5 (1 value byte) + 3 padding, then type 2 len 5 unpadded.
        let b = [0, 1, 0, 5, 0xaa, 0, 0, 0, 0, 2, 0, 5, 0xbb];
        assert_eq!(validate(&b), Ok(2));
        let bytes = Bytes::copy_from_slice(&b);
        let v: Vec<_> = ValidatedTlvs::new(&bytes).collect();
        assert_eq!(v[0], (1, Bytes::from_static(&[0xaa])));
        assert_eq!(v[1], (2, Bytes::from_static(&[0xbb])));
    }

    #[test]
    fn structural_faults_are_reported_with_offsets() {
        assert_eq!(
            validate(&[0, 1, 0, 4, 0, 1]),
            Err(TlvError::TruncatedHeader { offset: 4 })
        );
        assert_eq!(
            validate(&[0, 1, 0, 3]),
            Err(TlvError::LengthTooSmall { offset: 0, len: 3 })
        );
        assert_eq!(
            validate(&[0, 1, 0, 9, 0, 0]),
            Err(TlvError::BeyondEnd {
                offset: 0,
                len: 9,
                available: 6
            })
        );
        assert_eq!(validate(&[]), Ok(0));
    }
}
