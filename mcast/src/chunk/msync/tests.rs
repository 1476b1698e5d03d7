//! MSYNC vectors from the draft's examples, round trips, and the
//! parameter rules of draft §"MSYNC Parameters".

use bytes::Bytes;
use mcsctp_core::chunk::{ChunkError, WireChunk};
use mcsctp_core::param::ParamError;
use mcsctp_core::serial::{Mid, StreamId};

use super::*;
use crate::chunk::MSYNC;
use crate::chunk::test_util::{parse_whole, round_trip};

/// The MSYNC of the draft's example "COOKIE ACK with the Control State":
/// Start 1000, Feedback, Group Key epoch 1.
const CONTROL: [u8; 92] = [
    0x83, 0x00, 0x00, 0x5c, 0x00, 0x00, 0x00, 0x28, //
    0x00, 0x00, 0x03, 0xe7, 0x00, 0x00, 0x03, 0xe4, //
    0x05, 0xf5, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x01, //
    0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x03, 0xe8, //
    0x00, 0x04, 0x00, 0x14, 0x00, 0xdb, 0x00, 0x00, //
    0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x03, 0xe8, //
    0x00, 0x00, 0x01, 0xf4, 0x00, 0x03, 0x00, 0x28, //
    0x00, 0x01, 0x00, 0x03, 0x00, 0x01, 0x02, 0x03, //
    0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, //
    0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, //
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, //
    0x1c, 0x1d, 0x1e, 0x1f,
];

/// The MSYNC of the draft's example "Group Packet with MSYNC".
const GROUP: [u8; 24] = [
    0x83, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x29, //
    0x00, 0x00, 0x03, 0xec, 0x00, 0x00, 0x03, 0xe4, //
    0x05, 0xf5, 0xe4, 0xe8, 0x00, 0x00, 0x00, 0x00,
];

/// The MSYNC of the draft's example "MSYNC with a Forward Parameter".
const FORWARD: [u8; 40] = [
    0x83, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x2c, //
    0x00, 0x00, 0x03, 0xf2, 0x00, 0x00, 0x03, 0xeb, //
    0x05, 0xf6, 0xe2, 0xd0, 0x00, 0x00, 0x00, 0x02, //
    0x00, 0x02, 0x00, 0x10, 0x00, 0x00, 0x03, 0xef, //
    0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
];

fn key() -> GroupKey {
    GroupKey {
        key_epoch: 1,
        hmac_id: 3,
        key: (0u8..32).collect::<Vec<_>>().into(),
    }
}

fn feedback() -> Feedback {
    Feedback {
        ack_spacing: 219,
        ack_delay_us: 1000,
        ack_period_us: 1000,
        loss_report_delay_us: 500,
    }
}

fn control() -> Msync {
    Msync::new(40, Mtsn(999), Mtsn(996), 100_000_000, 1)
        .with_param(&MsyncParam::Start(Start {
            start_mtsn: Mtsn(1000),
        }))
        .with_param(&MsyncParam::Feedback(feedback()))
        .with_param(&MsyncParam::GroupKey(key()))
}

#[test]
fn parses_and_round_trips_the_control_state_vector() {
    let m = parse_whole::<Msync>(&CONTROL).expect("parses");
    assert_eq!(m, control());
    assert_eq!(m.start(), Some(Mtsn(1000)));
    assert_eq!(m.feedback(), Some(feedback()));
    assert_eq!(m.group_keys().collect::<Vec<_>>(), vec![key()]);
    assert!(m.group_keys().all(|k| k.is_hmac_sha256()));
    assert_eq!(m.forward(), None);
    assert_eq!(m.end_of_membership(), None);
    assert!(!m.is_group_form());
    assert_eq!(round_trip(&control()), CONTROL);
}

#[test]
fn parses_and_round_trips_the_group_path_vector() {
    let m = parse_whole::<Msync>(&GROUP).expect("parses");
    assert_eq!(m, Msync::new(41, Mtsn(1004), Mtsn(996), 100_001_000, 0));
    assert!(m.is_group_form());
    assert_eq!(round_trip(&m), GROUP);
}

#[test]
fn parses_and_round_trips_the_forward_vector() {
    let f = Forward::new(
        Mtsn(1007),
        &[ForwardEntry {
            stream: StreamId(8),
            unordered: false,
            mid: Mid(5),
        }],
    );
    let m = Msync::new(44, Mtsn(1010), Mtsn(1003), 100_066_000, 2)
        .with_param(&MsyncParam::Forward(f.clone()));
    assert_eq!(parse_whole::<Msync>(&FORWARD), Ok(m.clone()));
    assert_eq!(m.forward(), Some(f));
    assert_eq!(round_trip(&m), FORWARD);
}

fn with_params(params: &[u8]) -> Result<Msync, ChunkError> {
    let mut v = GROUP[4..].to_vec();
    v.extend_from_slice(params);
    Msync::parse_value(0, Bytes::from(v))
}

#[test]
fn a_parameter_with_a_wrong_length_rejects_the_msync() {
    // Start with a 5-octet value.
    assert_eq!(
        with_params(&[0, 1, 0, 9, 0, 0, 3, 0xe8, 7, 0, 0, 0]),
        Err(ChunkError::InvalidField {
            typ: MSYNC,
            what: "MSYNC parameter with a wrong length for its type"
        })
    );
    // Feedback of 12 octets.
    assert!(with_params(&[0, 4, 0, 16, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]).is_err());
    // End of Membership without its reserved half.
    assert!(with_params(&[0, 5, 0, 6, 0, 1, 0, 0]).is_err());
    // A Group Key without a key.
    assert!(with_params(&[0, 3, 0, 8, 0, 1, 0, 3]).is_err());
    // A Forward with a ragged entry.
    assert!(with_params(&[0, 2, 0, 12, 0, 0, 0, 1, 0, 8, 0, 0]).is_err());
}

#[test]
fn repeated_parameters_reject_the_msync() {
    let start = [0, 1, 0, 8, 0, 0, 3, 0xe8];
    let twice = [start, start].concat();
    assert_eq!(
        with_params(&twice),
        Err(ChunkError::InvalidField {
            typ: MSYNC,
            what: "MSYNC parameter repeated more often than allowed"
        })
    );
    // Two Group Keys are allowed, three are not.
    let mut k = vec![0, 3, 0, 9, 0, 1, 0, 3, 0xaa, 0, 0, 0];
    let two = [k.clone(), k.clone()].concat();
    assert_eq!(with_params(&two).expect("two keys").group_keys().count(), 2);
    k.extend_from_slice(&two);
    assert!(with_params(&k).is_err());
}

#[test]
fn a_broken_tlv_structure_is_a_typed_error() {
    assert!(matches!(
        with_params(&[0, 1, 0, 40, 0, 0, 0, 0]),
        Err(ChunkError::Param(ParamError::Structure(_)))
    ));
    assert!(matches!(
        Msync::parse_value(0, Bytes::from_static(&[0; 19])),
        Err(ChunkError::TooShort { need: 20, .. })
    ));
}

#[test]
fn unknown_parameters_follow_their_high_bits() {
    let start = [0u8, 1, 0, 8, 0, 0, 3, 0xe8];
    // 0x8009: skip and continue; Start after it is processed.
    let skip = [&[0x80u8, 0x09, 0, 6, 0xde, 0xad, 0, 0][..], &start[..]].concat();
    let m = with_params(&skip).expect("parses");
    assert_eq!(m.start(), Some(Mtsn(1000)));
    assert_eq!(m.params().count(), 2);
    // 0x0009: stop; the Start after it is never reached, and a malformed
    // parameter after it does not reject the MSYNC.
    let stop = [
        &[0x00u8, 0x09, 0, 4][..],
        &start[..],
        &[0, 1, 0, 5, 9, 0, 0, 0][..],
    ]
    .concat();
    let m = with_params(&stop).expect("parses");
    assert_eq!(m.start(), None);
    assert_eq!(m.params().count(), 1);
    assert_eq!(m.raw_params().count(), 3);
    // Written back unchanged, parameters after the stop included.
    let mut out = Vec::new();
    m.write(&mut out);
    assert_eq!(&out[24..], &stop[..]);
}

#[test]
fn reserved_fields_are_ignored_and_written_as_zero() {
    let mut v = CONTROL;
    v[1] = 0xff; // flags
    v[38] = 0x55; // Feedback reserved
    let m = parse_whole::<Msync>(&v).expect("parses");
    assert_eq!(m, control());
    assert_eq!(round_trip(&m), CONTROL);
}

#[test]
fn odd_key_lengths_are_padded_inside_but_not_at_the_end() {
    let k = GroupKey {
        key_epoch: 2,
        hmac_id: 1,
        key: Bytes::from_static(&[1, 2, 3, 4, 5]),
    };
    let m = Msync::new(1, Mtsn(0), Mtsn(0), 0, 3)
        .with_param(&MsyncParam::GroupKey(k.clone()))
        .with_param(&MsyncParam::End(EndOfMembership {
            reason: EndReason::BacklogLimit,
        }))
        .with_param(&MsyncParam::GroupKey(k));
    // 20 + (13 + 3 padding) + 8 + 13; the final padding is chunk padding.
    assert_eq!(m.value_len(), 20 + 16 + 8 + 13);
    let bytes = round_trip(&m);
    assert_eq!(bytes.len(), 4 + 20 + 16 + 8 + 16);
    assert_eq!(
        m.end_of_membership().map(|e| e.reason),
        Some(EndReason::BacklogLimit)
    );
    for v in 0..=u16::MAX {
        assert_eq!(EndReason::from_u16(v).to_u16(), v);
    }
}
