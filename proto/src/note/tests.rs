//! Signed checkpoint notes: round trips, the origin's signature and cosignatures, and that any
//! changed byte of a note is detected.

use super::*;
use crate::fixtures;

fn node(label: &str) -> (String, SecretKey) {
    let key = fixtures::key(label);
    (key.public().to_text(NODE_PREFIX), key)
}

fn checkpoint(origin: &str) -> Checkpoint {
    Checkpoint {
        origin: origin.to_string(),
        size: 51_234,
        root: *blake3::hash(b"root").as_bytes(),
        time_ms: 1_795_959_010_768,
    }
}

#[test]
fn a_signed_and_cosigned_note_round_trips_and_verifies() {
    let (origin, key) = node("log");
    let (w1, k1) = node("witness-1");
    let (w2, k2) = node("witness-2");
    let mut note = SignedNote::sign(checkpoint(&origin), &key);
    let c1 = note.cosignature(&w1, &k1, 1_795_959_011);
    assert!(note.add_cosignature(c1.clone(), &k1.public()));
    assert!(!note.add_cosignature(c1, &k1.public()), "once per witness");
    let forged = note.cosignature(&w2, &k1, 1_795_959_011);
    assert!(!note.add_cosignature(forged, &k2.public()), "wrong key");
    let text = note.to_text();
    assert!(text.starts_with(&format!("{origin}\n51234\n")));
    assert!(text.contains("\ntime 1795959010768\n\n\u{2014} "));
    let parsed = SignedNote::parse(&text).expect("parses");
    assert_eq!(parsed, note);
    assert_eq!(parsed.verify_by_origin().expect("signed"), key.public());
    let policy = vec![(w1.clone(), k1.public()), (w2, k2.public())];
    assert_eq!(parsed.cosigned_by(&policy), vec![w1.as_str()]);
}

#[test]
fn any_changed_byte_is_detected() {
    let (origin, key) = node("log");
    let (w1, k1) = node("witness-1");
    let mut note = SignedNote::sign(checkpoint(&origin), &key);
    let c = note.cosignature(&w1, &k1, 1_795_959_011);
    assert!(note.add_cosignature(c, &k1.public()));
    let policy = vec![(w1, k1.public())];
    let text = note.to_text().into_bytes();
    for i in 0..text.len() {
        for flip in [0x01u8, 0x20] {
            let mut bad = text.clone();
            bad[i] ^= flip;
            let Ok(bad) = String::from_utf8(bad) else {
                continue;
            };
            let holds = SignedNote::parse(&bad).is_ok_and(|n| {
                n.verify(&key.public()).is_ok() && n.cosigned_by(&policy).len() == 1
            });
            assert!(!holds, "byte {i} ^ {flip:#x} went unnoticed");
        }
    }
}

#[test]
fn malformed_notes_are_refused() {
    let (origin, key) = node("log");
    let good = SignedNote::sign(checkpoint(&origin), &key).to_text();
    let cases = [
        String::new(),
        "origin\n1\n".to_string(),
        good.replace("\n\n", "\n"),
        good.replace("51234", "051234"),
        good.replace("51234", "-1"),
        good.replace("time ", "tine "),
        good.trim_end().to_string(),
        good.replace('\u{2014}', "-"),
        format!("{good}{}", "\u{2014} x AAAA\n"),
        "x".repeat(MAX_NOTE_BYTES + 1),
        format!(
            "{}\n{}",
            checkpoint(&origin).body(),
            format!("\u{2014} {origin} {}\n", B64.encode([0u8; 68])).repeat(MAX_SIGNATURES + 1)
        ),
    ];
    for c in &cases {
        assert!(SignedNote::parse(c).is_err(), "accepted: {c:?}");
    }
    // Parses, but is not signed by its origin.
    let (other, other_key) = node("other");
    let mut stolen = SignedNote::sign(checkpoint(&other), &other_key);
    stolen.checkpoint.origin = origin;
    assert_eq!(stolen.verify_by_origin(), Err(NoteError::NotSigned));
}
