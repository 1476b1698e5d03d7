//! SCTP packets: the common header, the CRC32c checksum, chunk walking with
//! every length and padding rule checked, the bundling rules, and a builder
//! that serialises into the caller's buffer (RFC 9260 §3, §6.10, §6.8).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Source Port Number        |     Destination Port Number   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Verification Tag                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           Checksum                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{Buf, Bytes};

use crate::chunk::{
    CHUNK_HEADER_LEN, Chunk, ChunkType, ChunkTypeSet, RawChunk, WireChunk, be16, be32,
};
use crate::serial::VerificationTag;

/// Length of the SCTP common header.
pub const COMMON_HEADER_LEN: usize = 12;

/// The SCTP common header (RFC 9260 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommonHeader {
    /// Source Port Number.
    pub src_port: u16,
    /// Destination Port Number.
    pub dst_port: u16,
    /// Verification Tag.
    pub verification_tag: VerificationTag,
}

impl fmt::Display for CommonHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {} vtag={:#010x}",
            self.src_port, self.dst_port, self.verification_tag.0
        )
    }
}

/// CRC32c of a whole packet as RFC 9260 Appendix A defines it: computed with
/// the checksum field taken as zero, without copying the packet.
///
/// The returned value is the one the checksum field holds when read as a
/// little-endian `u32`: SCTP transmits the CRC32c "reflected", least
/// significant byte first (RFC 9260 Appendix A; RFC 3309 errata), which is
/// what Linux, FreeBSD and usrsctp put on the wire.
pub fn checksum(packet: &[u8]) -> u32 {
    debug_assert!(packet.len() >= COMMON_HEADER_LEN);
    let crc = crc32c::crc32c(&packet[..8]);
    let crc = crc32c::crc32c_append(crc, &[0; 4]);
    crc32c::crc32c_append(crc, &packet[COMMON_HEADER_LEN..])
}

/// Reads the checksum field as the value [`checksum`] computes.
fn stored_checksum(packet: &[u8]) -> u32 {
    u32::from_le_bytes([packet[8], packet[9], packet[10], packet[11]])
}

/// How [`Packet::parse_with`] treats a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Verify the CRC32c (RFC 9260 §6.8). Off only for tests and fuzzing
    /// of what lies behind the checksum.
    pub verify_checksum: bool,
    /// Chunk types, beyond DATA and I-DATA, that carry user data and so may
    /// not precede a control chunk (an extension registers its own).
    pub extra_data_types: ChunkTypeSet,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            verify_checksum: true,
            extra_data_types: ChunkTypeSet::EMPTY,
        }
    }
}

/// A structurally valid SCTP packet, held zero-copy: the header is decoded,
/// every chunk length and padding has been checked, and the bundling rules
/// hold. Chunks are walked lazily with [`Packet::chunks`]; parsing allocates
/// nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Packet {
    header: CommonHeader,
    bytes: Bytes,
    chunk_count: usize,
}

impl Packet {
    /// Parses and checks a packet with the default [`ParseOptions`].
    pub fn parse(bytes: Bytes) -> Result<Self, PacketError> {
        Self::parse_with(bytes, &ParseOptions::default())
    }

    /// Parses and checks a packet.
    pub fn parse_with(bytes: Bytes, opts: &ParseOptions) -> Result<Self, PacketError> {
        if bytes.len() < COMMON_HEADER_LEN {
            return Err(PacketError::TooShort { len: bytes.len() });
        }
        let header = CommonHeader {
            src_port: be16(&bytes, 0),
            dst_port: be16(&bytes, 2),
            verification_tag: VerificationTag(be32(&bytes, 4)),
        };
        if opts.verify_checksum {
            let stored = stored_checksum(&bytes);
            let computed = checksum(&bytes);
            if stored != computed {
                return Err(PacketError::BadChecksum { stored, computed });
            }
        }
        let mut walker = ChunkWalker::new(&bytes);
        let mut bundle = BundleCheck::default();
        let mut chunk_count = 0;
        while let Some(next) = walker.next_header() {
            let (offset, typ, _len) = next?;
            let is_data = typ.is_core_data() || opts.extra_data_types.contains(typ);
            bundle
                .admit(typ, is_data)
                .map_err(|rule| PacketError::Bundling { offset, rule })?;
            chunk_count += 1;
        }
        if chunk_count == 0 {
            return Err(PacketError::NoChunks);
        }
        Ok(Self {
            header,
            bytes,
            chunk_count,
        })
    }

    /// The common header.
    pub fn header(&self) -> &CommonHeader {
        &self.header
    }

    /// The checksum field as it was received.
    pub fn checksum_field(&self) -> u32 {
        stored_checksum(&self.bytes)
    }

    /// Number of chunks in the packet (at least one).
    pub fn chunk_count(&self) -> usize {
        self.chunk_count
    }

    /// Type of the first chunk (every packet has one).
    pub fn first_chunk_type(&self) -> ChunkType {
        ChunkType(self.bytes[COMMON_HEADER_LEN])
    }

    /// The flags byte of the first chunk.
    pub fn first_chunk_flags(&self) -> u8 {
        self.bytes[COMMON_HEADER_LEN + 1]
    }

    /// The chunks, in wire order, as zero-copy raw views, consuming the
    /// packet: like [`chunks`](Self::chunks), but the last chunk takes the
    /// packet's own reference to its buffer instead of a new one (a
    /// single-chunk packet costs no reference count at all).
    pub fn into_chunks(self) -> IntoChunks {
        IntoChunks {
            bytes: self.bytes,
            pos: COMMON_HEADER_LEN,
            done: false,
        }
    }

    /// The chunks, in wire order, as zero-copy raw views.
    pub fn chunks(&self) -> Chunks<'_> {
        Chunks {
            bytes: &self.bytes,
            walker: ChunkWalker::new(&self.bytes),
        }
    }

    /// The whole packet as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Length of the packet in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a packet holds at least one chunk.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("header", &self.header)
            .field("chunks", &self.chunks().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [", self.header)?;
        for (i, raw) in self.chunks().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match Chunk::parse(raw) {
                Ok(c) => write!(f, "{c}")?,
                Err(e) => write!(f, "<{e}>")?,
            }
        }
        f.write_str("]")
    }
}

/// Iterator over the chunks of a parsed [`Packet`].
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    bytes: &'a Bytes,
    walker: ChunkWalker<'a>,
}

impl Iterator for Chunks<'_> {
    type Item = RawChunk;

    fn next(&mut self) -> Option<RawChunk> {
        // The packet was validated on parse, so no header fails here.
        let (offset, typ, len) = self.walker.next_header()?.ok()?;
        Some(RawChunk {
            typ,
            flags: self.bytes[offset + 1],
            value: self
                .bytes
                .slice(offset + CHUNK_HEADER_LEN..offset + usize::from(len)),
        })
    }
}

/// Iterator of [`Packet::into_chunks`].
#[derive(Debug)]
pub struct IntoChunks {
    bytes: Bytes,
    pos: usize,
    done: bool,
}

impl Iterator for IntoChunks {
    type Item = RawChunk;

    fn next(&mut self) -> Option<RawChunk> {
        if self.done {
            return None;
        }
        let mut walker = ChunkWalker {
            buf: &self.bytes,
            pos: self.pos,
            done: false,
        };
        // The packet was validated on parse, so no header fails here.
        let Some(Ok((offset, typ, len))) = walker.next_header() else {
            self.done = true;
            return None;
        };
        let next = walker.pos;
        let flags = self.bytes[offset + 1];
        let range = offset + CHUNK_HEADER_LEN..offset + usize::from(len);
        let value = if next >= self.bytes.len() {
            // The last chunk: the buffer's own reference, cut to it.
            self.done = true;
            let mut b = core::mem::take(&mut self.bytes);
            b.truncate(range.end);
            b.advance(range.start);
            b
        } else {
            self.bytes.slice(range)
        };
        self.pos = next;
        Some(RawChunk { typ, flags, value })
    }
}

/// Walks chunk headers, applying RFC 9260 §3.2's length and padding rules.
#[derive(Debug, Clone)]
struct ChunkWalker<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> ChunkWalker<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: COMMON_HEADER_LEN,
            done: false,
        }
    }

    /// Next chunk as `(offset, type, length field)`.
    fn next_header(&mut self) -> Option<Result<(usize, ChunkType, u16), PacketError>> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.pos;
        let rest = self.buf.len() - offset;
        if rest < CHUNK_HEADER_LEN {
            self.done = true;
            // 1 to 3 bytes after the last chunk's padding: more padding than
            // RFC 9260 §3.2 allows ("MUST NOT pad with more than 3 bytes"),
            // or a truncated chunk header.
            return Some(Err(PacketError::ExcessPadding {
                offset,
                count: rest,
            }));
        }
        let typ = ChunkType(self.buf[offset]);
        let len = be16(self.buf, offset + 2);
        let ulen = usize::from(len);
        let err = if ulen < CHUNK_HEADER_LEN {
            Some(PacketError::ChunkLengthTooSmall { offset, typ, len })
        } else if ulen > rest {
            Some(PacketError::ChunkBeyondPacket {
                offset,
                typ,
                len,
                available: rest,
            })
        } else if crate::chunk::padded(ulen) > rest {
            // "The sender MUST pad the chunk with all zero bytes" - even the
            // last chunk of a packet.
            Some(PacketError::PaddingMissing { offset, typ, len })
        } else {
            None
        };
        if let Some(e) = err {
            self.done = true;
            return Some(Err(e));
        }
        self.pos = offset + crate::chunk::padded(ulen);
        Some(Ok((offset, typ, len)))
    }
}

/// A bundling rule of RFC 9260 that a packet breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundlingRule {
    /// "An endpoint MUST NOT bundle INIT, INIT ACK, or SHUTDOWN COMPLETE
    /// chunks with any other chunks" (RFC 9260 §6.10).
    MustTravelAlone(ChunkType),
    /// "The COOKIE ECHO chunk [...] MUST be the first chunk in the packet"
    /// (RFC 9260 §5.1, §6.10).
    CookieEchoNotFirst,
    /// "When bundling control chunks with DATA chunks, an endpoint MUST place
    /// control chunks first in the outbound SCTP packet" (RFC 9260 §6.10).
    ControlAfterData(ChunkType),
    /// "DATA chunks MUST NOT be bundled with ABORT" (RFC 9260 §9.1); checked
    /// only when building.
    DataWithAbort,
    /// Control chunks bundled with an ABORT "MUST be placed before the ABORT"
    /// (RFC 9260 §9.1); checked only when building (a receiver ignores them).
    AfterAbort(ChunkType),
}

impl fmt::Display for BundlingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MustTravelAlone(t) => write!(f, "{t} must travel alone"),
            Self::CookieEchoNotFirst => write!(f, "COOKIE ECHO must be the first chunk"),
            Self::ControlAfterData(t) => write!(f, "control chunk {t} after a data chunk"),
            Self::DataWithAbort => write!(f, "data bundled with ABORT"),
            Self::AfterAbort(t) => write!(f, "{t} after ABORT"),
        }
    }
}

/// Tracks a packet's chunks in order and rejects bundling violations.
#[derive(Debug, Clone, Copy, Default)]
struct BundleCheck {
    count: usize,
    /// The first chunk, when it is one that must travel alone.
    lone: Option<ChunkType>,
    has_data: bool,
    has_abort: bool,
}

impl BundleCheck {
    /// Rules a receiver checks.
    fn admit(&mut self, typ: ChunkType, is_data: bool) -> Result<(), BundlingRule> {
        if typ.must_travel_alone() && self.count > 0 {
            return Err(BundlingRule::MustTravelAlone(typ));
        }
        if let Some(lone) = self.lone {
            return Err(BundlingRule::MustTravelAlone(lone));
        }
        if typ == ChunkType::COOKIE_ECHO && self.count > 0 {
            return Err(BundlingRule::CookieEchoNotFirst);
        }
        if !is_data && self.has_data && typ.is_known() {
            return Err(BundlingRule::ControlAfterData(typ));
        }
        self.count += 1;
        if typ.must_travel_alone() {
            self.lone = Some(typ);
        }
        self.has_data |= is_data;
        self.has_abort |= typ == ChunkType::ABORT;
        Ok(())
    }

    /// Rules a receiver checks plus those only a sender can be held to.
    fn admit_for_build(&mut self, typ: ChunkType, is_data: bool) -> Result<(), BundlingRule> {
        if self.has_abort {
            return Err(if is_data {
                BundlingRule::DataWithAbort
            } else {
                BundlingRule::AfterAbort(typ)
            });
        }
        if typ == ChunkType::ABORT && self.has_data {
            return Err(BundlingRule::DataWithAbort);
        }
        if !is_data && self.has_data {
            // Unknown (extension) control chunks too: the sender knows what
            // it is building.
            return Err(BundlingRule::ControlAfterData(typ));
        }
        self.admit(typ, is_data)
    }
}

/// Why a packet was rejected. The endpoint discards such packets silently
/// (RFC 9260 §6.8 for the checksum; a malformed packet has no defined
/// response that would not give an attacker a reflector).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketError {
    /// Shorter than the 12-byte common header.
    TooShort {
        /// Packet length.
        len: usize,
    },
    /// The CRC32c does not match (RFC 9260 §6.8: "the receiver MUST
    /// silently discard the packet").
    BadChecksum {
        /// The checksum field.
        stored: u32,
        /// The checksum computed over the packet.
        computed: u32,
    },
    /// A header only, no chunks.
    NoChunks,
    /// A Chunk Length below 4 (a zero-length chunk included).
    ChunkLengthTooSmall {
        /// Offset of the chunk in the packet.
        offset: usize,
        /// Chunk type.
        typ: ChunkType,
        /// The length field.
        len: u16,
    },
    /// A Chunk Length that runs past the end of the packet.
    ChunkBeyondPacket {
        /// Offset of the chunk.
        offset: usize,
        /// Chunk type.
        typ: ChunkType,
        /// The length field.
        len: u16,
        /// Bytes from `offset` to the end of the packet.
        available: usize,
    },
    /// The packet ends inside a chunk's padding.
    PaddingMissing {
        /// Offset of the chunk.
        offset: usize,
        /// Chunk type.
        typ: ChunkType,
        /// The length field.
        len: u16,
    },
    /// 1 to 3 bytes follow the last chunk's padding: padding longer than 3
    /// bytes, or a truncated chunk header.
    ExcessPadding {
        /// Offset of the extra bytes.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// The chunks break a bundling rule.
    Bundling {
        /// Offset of the offending chunk.
        offset: usize,
        /// The rule.
        rule: BundlingRule,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { len } => {
                write!(f, "packet of {len} bytes is shorter than the common header")
            }
            Self::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "bad checksum: packet says {stored:#010x}, computed {computed:#010x}"
                )
            }
            Self::NoChunks => write!(f, "packet holds no chunks"),
            Self::ChunkLengthTooSmall { offset, typ, len } => {
                write!(f, "{typ} at offset {offset}: length {len} is below 4")
            }
            Self::ChunkBeyondPacket {
                offset,
                typ,
                len,
                available,
            } => write!(
                f,
                "{typ} at offset {offset}: length {len} runs past the packet ({available} bytes left)"
            ),
            Self::PaddingMissing { offset, typ, len } => {
                write!(
                    f,
                    "{typ} at offset {offset} (length {len}) lacks its padding"
                )
            }
            Self::ExcessPadding { offset, count } => {
                write!(
                    f,
                    "{count} stray bytes at offset {offset} after the last chunk"
                )
            }
            Self::Bundling { offset, rule } => write!(f, "chunk at offset {offset}: {rule}"),
        }
    }
}

impl std::error::Error for PacketError {}

/// Why a chunk could not be added to a packet under construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The chunk does not fit the remaining room of the packet.
    TooBig {
        /// Bytes the chunk needs, padding included.
        need: usize,
        /// Bytes left under the packet's size limit.
        remaining: usize,
    },
    /// The chunk is longer than a Chunk Length field can express.
    ChunkTooLong {
        /// Its length.
        len: usize,
    },
    /// Adding the chunk would break a bundling rule.
    Bundling(BundlingRule),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooBig { need, remaining } => {
                write!(f, "chunk of {need} bytes does not fit ({remaining} left)")
            }
            Self::ChunkTooLong { len } => write!(f, "chunk of {len} bytes exceeds 65535"),
            Self::Bundling(r) => write!(f, "bundling: {r}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Serialises one packet into the caller's buffer, enforcing the size limit
/// and the bundling rules; [`finish`](Self::finish) writes the checksum.
///
/// Dropping the builder without finishing removes the partial packet from
/// the buffer.
#[derive(Debug)]
pub struct PacketBuilder<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    limit: usize,
    bundle: BundleCheck,
    finished: bool,
}

impl<'a> PacketBuilder<'a> {
    /// Starts a packet at the end of `out` whose total length may not exceed
    /// `max_len` (the path MTU minus IP and UDP headers).
    pub fn new(out: &'a mut Vec<u8>, header: CommonHeader, max_len: usize) -> Self {
        let start = out.len();
        out.reserve(max_len.min(64 * 1024));
        out.extend_from_slice(&header.src_port.to_be_bytes());
        out.extend_from_slice(&header.dst_port.to_be_bytes());
        out.extend_from_slice(&header.verification_tag.0.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        Self {
            out,
            start,
            limit: max_len.max(COMMON_HEADER_LEN),
            bundle: BundleCheck::default(),
            finished: false,
        }
    }

    /// Bytes still available for chunks (padding included).
    pub fn remaining(&self) -> usize {
        self.limit - (self.out.len() - self.start)
    }

    /// Number of chunks added so far.
    pub fn chunk_count(&self) -> usize {
        self.bundle.count
    }

    /// Whether no chunk has been added.
    pub fn is_empty(&self) -> bool {
        self.bundle.count == 0
    }

    /// Whether a data chunk has been added (a control chunk can no longer
    /// follow).
    pub fn has_data(&self) -> bool {
        self.bundle.has_data
    }

    /// Checks whether a chunk of this type and length could be added next.
    pub fn check(
        &self,
        typ: ChunkType,
        is_data: bool,
        encoded_len: usize,
    ) -> Result<(), BuildError> {
        // Bundling first: a violation is a bug in the caller, whereas lack of
        // room only means "start another packet".
        let mut b = self.bundle;
        b.admit_for_build(typ, is_data)
            .map_err(BuildError::Bundling)?;
        if encoded_len > usize::from(u16::MAX) {
            return Err(BuildError::ChunkTooLong { len: encoded_len });
        }
        let need = crate::chunk::padded(encoded_len);
        if need > self.remaining() {
            return Err(BuildError::TooBig {
                need,
                remaining: self.remaining(),
            });
        }
        Ok(())
    }

    /// Adds a typed chunk (core's or an extension's).
    pub fn add<C: WireChunk>(&mut self, c: &C) -> Result<(), BuildError> {
        self.check(C::TYPE, C::IS_DATA, c.encoded_len())?;
        self.bundle
            .admit_for_build(C::TYPE, C::IS_DATA)
            .map_err(BuildError::Bundling)?;
        c.write(self.out);
        Ok(())
    }

    /// Adds a chunk of any core type.
    pub fn add_chunk(&mut self, c: &Chunk) -> Result<(), BuildError> {
        let typ = c.typ();
        let is_data = c.is_data();
        self.check(typ, is_data, c.encoded_len())?;
        self.bundle
            .admit_for_build(typ, is_data)
            .map_err(BuildError::Bundling)?;
        c.write(self.out);
        Ok(())
    }

    /// Adds a raw chunk; `is_data` says whether its type carries user data.
    pub fn add_raw(&mut self, raw: &RawChunk, is_data: bool) -> Result<(), BuildError> {
        self.check(raw.typ, is_data, raw.len())?;
        self.bundle
            .admit_for_build(raw.typ, is_data)
            .map_err(BuildError::Bundling)?;
        raw.write(self.out);
        Ok(())
    }

    /// Writes the checksum and returns the packet's length. A packet with no
    /// chunk is not a packet: it is removed and 0 is returned.
    pub fn finish(self) -> usize {
        self.finish_with(true)
    }

    /// As [`finish`](Self::finish), but leaves the checksum field as it
    /// is, for a caller that changes the packet afterwards and computes the
    /// checksum then (a packet signed once it is built).
    pub fn finish_without_checksum(self) -> usize {
        self.finish_with(false)
    }

    fn finish_with(mut self, write_checksum: bool) -> usize {
        self.finished = true;
        if self.bundle.count == 0 {
            self.out.truncate(self.start);
            return 0;
        }
        let pkt = &mut self.out[self.start..];
        if write_checksum {
            let crc = checksum(pkt);
            pkt[8..12].copy_from_slice(&crc.to_le_bytes());
        }
        pkt.len()
    }
}

impl Drop for PacketBuilder<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.start);
        }
    }
}

/// Serialises a whole packet from a header and chunks (tests, tools).
pub fn build_packet(header: CommonHeader, chunks: &[Chunk]) -> Result<Vec<u8>, BuildError> {
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, header, usize::MAX >> 1);
    for c in chunks {
        b.add_chunk(c)?;
    }
    b.finish();
    Ok(out)
}

#[cfg(test)]
mod tests;
