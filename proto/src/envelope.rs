//! The unsigned `SignedEntry` envelope, checked as bytes: it has only `payload` (field 1) and
//! `signature` (field 2). Protobuf decoders drop unknown fields silently, and nothing outside
//! the payload is signed or kept, so a field a client added there would vanish unseen: a node
//! refuses it ([`Rejection::UnknownField`], `unknown-field`) where entries come from clients
//! (gRPC `Submit` and `SubmitBatch`). Between nodes, entries travel as the node encoded them.
//!
//! These functions read the protobuf wire format directly: a key is a varint
//! `field << 3 | wire type`; wire type 0 is a varint, 1 eight bytes, 2 a varint length then that
//! many bytes, 5 four bytes, 3 and 4 start and end a group.

use crate::validate::Rejection;

/// Groups nested deeper than this are not followed (prost's own recursion limit is 100).
const MAX_GROUP_DEPTH: u32 = 100;

/// Checks an encoded `SignedEntry`: every field is `payload` (1) or `signature` (2), each
/// length-delimited. Says nothing of their contents (see [`crate::entry::Entry::from_signed`]).
pub fn check_signed_entry(bytes: &[u8]) -> Result<(), Rejection> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let key = varint(&mut rest).ok_or_else(|| malformed("a truncated field key"))?;
        let (field, wire_type) = (key >> 3, key & 7);
        if !matches!(field, 1 | 2) {
            return Err(Rejection::UnknownField { field });
        }
        if wire_type != 2 {
            return Err(malformed("payload and signature are length-delimited"));
        }
        skip(field, wire_type, &mut rest, MAX_GROUP_DEPTH)
            .ok_or_else(|| malformed("a truncated field"))?;
    }
    Ok(())
}

/// Checks every `SignedEntry` held in field `field` of an encoded message (`SubmitRequest` and
/// `SubmitBatchRequest` hold them in field 1); the message's other fields are skipped. On the
/// first refused entry, returns its position among the entries of `field` and why. A message
/// that does not parse is left to the protobuf decoder (it has refused it already).
pub fn check_entries_in(message: &[u8], field: u64) -> Result<(), (usize, Rejection)> {
    let mut rest = message;
    let mut index = 0;
    while !rest.is_empty() {
        let Some(key) = varint(&mut rest) else {
            return Ok(());
        };
        let (number, wire_type) = (key >> 3, key & 7);
        if number == field && wire_type == 2 {
            let Some(entry) = length_delimited(&mut rest) else {
                return Ok(());
            };
            check_signed_entry(entry).map_err(|r| (index, r))?;
            index += 1;
        } else if skip(number, wire_type, &mut rest, MAX_GROUP_DEPTH).is_none() {
            return Ok(());
        }
    }
    Ok(())
}

fn malformed(what: &str) -> Rejection {
    Rejection::Malformed(format!("SignedEntry: {what}"))
}

/// Reads a varint (at most 10 bytes).
fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Takes `n` bytes.
fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (taken, rest) = buf.split_at(n);
    *buf = rest;
    Some(taken)
}

/// Reads a length and takes that many bytes.
fn length_delimited<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(varint(buf)?).ok()?;
    take(buf, len)
}

/// Skips the value of field `field` with `wire_type` (a whole group for wire type 3).
fn skip(field: u64, wire_type: u64, buf: &mut &[u8], depth: u32) -> Option<()> {
    match wire_type {
        0 => varint(buf).map(|_| ()),
        1 => take(buf, 8).map(|_| ()),
        2 => length_delimited(buf).map(|_| ()),
        5 => take(buf, 4).map(|_| ()),
        3 if depth > 0 => loop {
            let key = varint(buf)?;
            let (inner, inner_type) = (key >> 3, key & 7);
            if inner_type == 4 {
                return (inner == field).then_some(());
            }
            skip(inner, inner_type, buf, depth - 1)?;
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost::bytes::Bytes;

    use super::*;
    use crate::pb;

    fn envelope() -> Vec<u8> {
        pb::SignedEntry {
            payload: Bytes::from_static(b"payload"),
            signature: Bytes::from(vec![7; 64]),
        }
        .encode_to_vec()
    }

    #[test]
    fn an_envelope_with_its_two_fields_passes_in_any_order() {
        assert_eq!(check_signed_entry(&envelope()), Ok(()));
        assert_eq!(check_signed_entry(&[]), Ok(()));
        // Signature first, payload twice: protobuf rules, nothing unknown.
        let mut reordered = vec![0x12, 0x01, 0xAA, 0x0A, 0x01, 0xBB, 0x0A, 0x00];
        assert_eq!(check_signed_entry(&reordered), Ok(()));
        reordered.truncate(7);
        assert!(matches!(
            check_signed_entry(&reordered),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn any_other_field_is_refused_with_its_number() {
        let cases: [(&[u8], u64); 5] = [
            (&[0x18, 0x01], 3),        // field 3, varint
            (&[0x1A, 0x01, 0x00], 3),  // field 3, bytes
            (&[0xF8, 0x01, 0x01], 31), // field 31, varint (two-byte key)
            (&[0x2D, 0, 0, 0, 0], 5),  // field 5, fixed32
            (&[0x03, 0x04], 0),        // field 0, a group
        ];
        for (extra, field) in cases {
            let mut bytes = envelope();
            bytes.extend_from_slice(extra);
            assert_eq!(
                check_signed_entry(&bytes),
                Err(Rejection::UnknownField { field }),
                "{extra:?}"
            );
            // prost alone drops it (field 0 aside, which it refuses).
            if field != 0 {
                let decoded = pb::SignedEntry::decode(bytes.as_slice()).expect("decodes");
                assert_eq!(decoded.encode_to_vec(), envelope());
            }
        }
        // payload as a varint is not a SignedEntry.
        assert!(matches!(
            check_signed_entry(&[0x08, 0x01]),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn entries_are_found_in_submit_requests_and_batches() {
        let good = pb::SignedEntry {
            payload: Bytes::from_static(b"p"),
            signature: Bytes::from(vec![1; 64]),
        };
        let single = pb::SubmitRequest {
            entry: Some(good.clone()),
        }
        .encode_to_vec();
        assert_eq!(check_entries_in(&single, 1), Ok(()));
        // A batch whose third entry carries field 9.
        let mut bad = good.encode_to_vec();
        bad.extend_from_slice(&[0x48, 0x01]);
        let mut batch = pb::SubmitBatchRequest {
            entries: vec![good.clone(), good.clone()],
        }
        .encode_to_vec();
        batch.push(0x0A);
        batch.push(bad.len() as u8);
        batch.extend_from_slice(&bad);
        // Unknown fields of the request itself are skipped, groups included.
        batch.extend_from_slice(&[0x10, 0x05, 0x1B, 0x08, 0x01, 0x1C]);
        assert_eq!(
            check_entries_in(&batch, 1),
            Err((2, Rejection::UnknownField { field: 9 }))
        );
        let decoded = pb::SubmitBatchRequest::decode(batch.as_slice()).expect("prost drops it");
        assert_eq!(decoded.entries.len(), 3);
    }
}
