//! Number spaces of SCTP, each its own type, with serial-number arithmetic.
//!
//! RFC 9260 §1.6 (<https://www.rfc-editor.org/rfc/rfc9260#section-1.6>):
//! "It is essential to remember that the actual Transmission Sequence Number
//! space is finite, though very large. This space ranges from 0 to 2^32 - 1.
//! [...] Comparisons and arithmetic on TSNs in this document SHOULD use
//! Serial Number Arithmetic as defined in \[RFC1982\] where SERIAL_BITS = 32."
//!
//! Sequence numbers deliberately do not implement `PartialOrd`: serial
//! comparison is not transitive, so it must never feed a sort or a `BTreeMap`.
//! Code that needs a total order unwraps numbers into a monotonic `u64` with an
//! [`Unwrapper`].

/// Defines a sequence-number newtype with RFC 1982 serial arithmetic.
///
/// `serial_number!(/// docs
/// pub Tsn(u32));` gives `Tsn` with `is_before`, `is_after`,
/// `wrapping_add`, `distance_to` and conversions. The extension crate uses it
/// for its own number spaces (the multicast TSN), so every space shares one
/// implementation.
#[macro_export]
macro_rules! serial_number {
    ($(#[$meta:meta])* $vis:vis $name:ident($int:ty)) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis struct $name(pub $int);

        impl $name {
            /// Half the number space: RFC 1982's `2^(SERIAL_BITS - 1)`.
            pub const HALF: $int = 1 << (<$int>::BITS - 1);

            /// RFC 1982 §3.2: `self < other` in serial arithmetic. Numbers
            /// exactly half the space apart are neither before nor after.
            #[inline]
            pub const fn is_before(self, other: Self) -> bool {
                let d = other.0.wrapping_sub(self.0);
                d != 0 && d < Self::HALF
            }

            /// RFC 1982 §3.2: `self > other` in serial arithmetic.
            #[inline]
            pub const fn is_after(self, other: Self) -> bool {
                other.is_before(self)
            }

            /// `self <= other` in serial arithmetic.
            #[inline]
            pub const fn is_at_or_before(self, other: Self) -> bool {
                self.0 == other.0 || self.is_before(other)
            }

            /// `self >= other` in serial arithmetic.
            #[inline]
            pub const fn is_at_or_after(self, other: Self) -> bool {
                self.0 == other.0 || self.is_after(other)
            }

            /// RFC 1982 §3.1 addition (wraps around the space).
            #[inline]
            #[must_use]
            pub const fn wrapping_add(self, n: $int) -> Self {
                Self(self.0.wrapping_add(n))
            }

            /// Wrapping subtraction of a plain count.
            #[inline]
            #[must_use]
            pub const fn wrapping_sub(self, n: $int) -> Self {
                Self(self.0.wrapping_sub(n))
            }

            /// The next number (`self + 1`).
            #[inline]
            #[must_use]
            pub const fn next(self) -> Self {
                self.wrapping_add(1)
            }

            /// How far `other` lies ahead of `self`, modulo the space size.
            #[inline]
            pub const fn distance_to(self, other: Self) -> $int {
                other.0.wrapping_sub(self.0)
            }

            /// The later of two numbers in serial order (`self` on a tie).
            #[inline]
            #[must_use]
            pub const fn serial_max(self, other: Self) -> Self {
                if other.is_after(self) { other } else { self }
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$int> for $name {
            #[inline]
            fn from(v: $int) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $int {
            #[inline]
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

/// Defines a plain (non-sequence) numeric newtype: an identifier or a tag,
/// compared only for equality.
macro_rules! plain_number {
    ($(#[$meta:meta])* $vis:vis $name:ident($int:ty)) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        $vis struct $name(pub $int);

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<$int> for $name {
            #[inline]
            fn from(v: $int) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $int {
            #[inline]
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

serial_number!(
    /// Transmission Sequence Number (RFC 9260 §3.3.1), 32 bits.
    pub Tsn(u32)
);
serial_number!(
    /// Stream Sequence Number (RFC 9260 §3.3.1), 16 bits.
    pub Ssn(u16)
);
serial_number!(
    /// Message Identifier of I-DATA (RFC 8260 §2.1), 32 bits.
    pub Mid(u32)
);
serial_number!(
    /// Fragment Sequence Number of I-DATA (RFC 8260 §2.1), 32 bits.
    pub Fsn(u32)
);

plain_number!(
    /// Stream Identifier (RFC 9260 §3.3.1).
    pub StreamId(u16)
);
plain_number!(
    /// Payload Protocol Identifier (RFC 9260 §3.3.1); opaque to SCTP.
    pub Ppid(u32)
);
plain_number!(
    /// Verification Tag (RFC 9260 §3.1, §8.5).
    pub VerificationTag(u32)
);

/// Maps 32-bit serial numbers onto a monotonic `u64` so they can be ordered
/// totally (used as keys of ordered maps), as dcSCTP's
/// `UnwrappedSequenceNumber` does.
///
/// Valid as long as consecutive numbers given to [`Unwrapper::unwrap`] are
/// within half the space of the last one seen, which the window rules of
/// RFC 9260 guarantee for TSNs that passed acceptance checks.
#[derive(Debug, Clone, Copy)]
pub struct Unwrapper {
    last: Option<u64>,
}

impl Unwrapper {
    /// An unwrapper that has not seen a number yet.
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// Unwraps `v` relative to the last number seen and remembers it.
    pub fn unwrap(&mut self, v: u32) -> u64 {
        let r = self.peek(v);
        self.last = Some(r);
        r
    }

    /// Unwraps `v` without remembering it.
    pub fn peek(&self, v: u32) -> u64 {
        // Start in the middle of the u64 range so numbers slightly before the
        // first one seen still unwrap to valid values.
        const BASE: u64 = 1 << 40;
        match self.last {
            None => BASE + u64::from(v),
            Some(last) => {
                let diff = v.wrapping_sub(last as u32) as i32;
                last.wrapping_add_signed(i64::from(diff))
            }
        }
    }
}

impl Default for Unwrapper {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_comparison_follows_rfc1982_examples() {
        // RFC 1982 §5.2 examples for SERIAL_BITS = 8, transposed to 32 bits.
        assert!(Tsn(0).is_before(Tsn(1)));
        assert!(Tsn(u32::MAX).is_before(Tsn(0)));
        assert!(Tsn(u32::MAX - 5).is_before(Tsn(10)));
        assert!(Tsn(10).is_after(Tsn(u32::MAX - 5)));
        assert!(!Tsn(7).is_before(Tsn(7)));
        assert!(Tsn(7).is_at_or_before(Tsn(7)));
        // Exactly half apart: undefined, so neither.
        assert!(!Tsn(0).is_before(Tsn(1 << 31)));
        assert!(!Tsn(1 << 31).is_before(Tsn(0)));
        assert!(Ssn(65535).is_before(Ssn(3)));
        assert_eq!(Tsn(u32::MAX).next(), Tsn(0));
        assert_eq!(Tsn(u32::MAX - 1).distance_to(Tsn(2)), 4);
        assert_eq!(Tsn(u32::MAX).serial_max(Tsn(1)), Tsn(1));
    }

    #[test]
    fn unwrapper_is_monotonic_across_the_wrap() {
        let mut u = Unwrapper::new();
        let a = u.unwrap(u32::MAX - 1);
        let b = u.unwrap(u32::MAX);
        let c = u.unwrap(0);
        let d = u.unwrap(5);
        assert!(a < b && b < c && c < d);
        assert_eq!(d - a, 7);
        // A number slightly behind the last one unwraps below it.
        assert_eq!(u.peek(3), d - 2);
    }
}
