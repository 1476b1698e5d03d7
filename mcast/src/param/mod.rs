//! The extension's INIT / INIT ACK parameters (draft §"New Parameters and
//! Chunks"), one file each.

mod capable;
mod group;

pub use capable::MulticastCapable;
pub use group::{GroupAddresses, MulticastGroup, StreamRange};

#[cfg(test)]
pub(crate) mod test_util {
    //! The round trip every parameter file's tests run.

    use core::fmt;

    use bytes::Bytes;
    use mcsctp_core::param::{Param, Params, RawParam, WireParam};

    /// Serialises a parameter, checks header and padding, parses it back
    /// directly, through `from_raw` and from a parameter list in which core
    /// leaves it raw, and returns the bytes.
    pub(crate) fn round_trip<P>(p: &P) -> Vec<u8>
    where
        P: WireParam + fmt::Debug + PartialEq + fmt::Display,
    {
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out.len() % 4, 0);
        assert_eq!(u16::from_be_bytes([out[0], out[1]]), P::TYPE.0);
        assert_eq!(
            usize::from(u16::from_be_bytes([out[2], out[3]])),
            p.encoded_len()
        );
        let value = Bytes::copy_from_slice(&out[4..p.encoded_len()]);
        assert_eq!(&P::parse_value(value.clone()).expect("parses back"), p);
        let raw = RawParam {
            typ: P::TYPE,
            value,
        };
        assert_eq!(&P::from_raw(&raw).expect("from_raw"), p);
        assert_eq!(p.to_raw(), raw);
        let list = Params::builder().with(p).build();
        let reparsed = Params::parse(list.as_bytes().clone()).expect("list parses");
        assert_eq!(reparsed.find::<P>().expect("present").expect("valid"), *p);
        assert!(matches!(Param::parse(raw).expect("raw"), Param::Unknown(_)));
        let _ = p.to_string();
        out
    }
}
