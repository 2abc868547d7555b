//! The entry decoder and the validator: any bytes as a signed entry, and any bytes as a payload
//! *correctly signed* by a known citizen (so the validator's rules, not the signature check,
//! see the garbage), submitted to a ledger that holds a registrar, an accredited collector with
//! a policy, and that citizen. Nothing may panic; a rejected entry changes nothing.
#![no_main]

use std::sync::LazyLock;

use consent_proto::entry::Entry;
use consent_proto::fixtures::{self, DAY, T0};
use consent_proto::memory::MemoryLedger;
use consent_proto::vocab::Role;
use consent_proto::{domain, pb};
use libfuzzer_sys::fuzz_target;
use prost::Message;

struct World {
    ledger: MemoryLedger,
    citizen: consent_proto::entry::Author,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let scene = fixtures::scene(T0);
    let mut ledger = MemoryLedger::new([scene.registrar.feed()]);
    let (citizen, c0) = fixtures::author(Role::Citizen, "fuzz-citizen", T0);
    for e in scene.entries.iter().chain([&c0]) {
        let _ = ledger.submit(e, T0 + DAY);
    }
    World { ledger, citizen }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let entry = if mode % 2 == 0 {
        Entry::decode(rest)
    } else {
        let signature = WORLD.citizen.key().sign(domain::ENTRY_SIGNATURE, rest);
        let signed = pb::SignedEntry {
            payload: rest.to_vec().into(),
            signature: signature.to_vec().into(),
        };
        Entry::decode(&signed.encode_to_vec())
    };
    if let Ok(entry) = entry {
        let mut ledger = WORLD.ledger.clone();
        let snapshot = |l: &MemoryLedger| format!("{:?}", l.heads().collect::<Vec<_>>());
        let before = snapshot(&ledger);
        let verdict = ledger.submit(&entry, T0 + 2 * DAY);
        if matches!(verdict, consent_proto::validate::Verdict::Reject(_)) {
            assert_eq!(
                before,
                snapshot(&ledger),
                "a rejected entry changed the ledger"
            );
        }
    }
});
