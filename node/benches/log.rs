//! `scripts/bench --only log` (or `cargo bench -p consent-node --bench log`): the verifiable log's
//! costs, each next to a baseline measured in the same run:
//! - growing the Merkle tree (per entry, as the writer does) against raw SHA-256 of the same ids;
//! - signing a checkpoint of a 1M-entry tree (root + Ed25519) against one Ed25519 signature;
//! - inclusion and consistency proofs at 1M entries: proofs/s and bytes per proof (as Log sends
//!   them), against one SHA-256 per second;
//! - the audit (`consent audit`'s replay: decode, signature, chain, references, tree) in entries/s
//!   against raw `verify_strict` on one thread over the same entries.
//!
//! Options: `--leaves N` (tree size, default 1,000,000), `--entries N` (audit, default 50,000),
//! `--json PATH`.

use std::time::{Duration, Instant};

use consent_client::audit::Audit;
use consent_proto::Entry;
use consent_proto::fixtures::{self, T0};
use consent_proto::merkle::{self, Tree};
use consent_proto::note::{Checkpoint, NODE_PREFIX, SignedNote};
use consent_proto::pb;
use consent_proto::vocab::Purpose as P;
use prost::Message;
use prost::bytes::Bytes;
use sha2::{Digest as _, Sha256};

mod common;
use common::{Row, print_table, to_json};

fn main() -> anyhow::Result<()> {
    let (mut leaves, mut entries, mut json) = (1_000_000u64, 50_000usize, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--leaves" => leaves = args.next().and_then(|v| v.parse().ok()).unwrap_or(leaves),
            "--entries" => entries = args.next().and_then(|v| v.parse().ok()).unwrap_or(entries),
            "--json" => json = args.next(),
            "--bench" => {}
            other => {
                anyhow::bail!("unknown option {other}; use --leaves N --entries N --json PATH")
            }
        }
    }
    let mut rows = Vec::new();
    let ids: Vec<[u8; 32]> = (0..leaves)
        .map(|i| *blake3::hash(&i.to_be_bytes()).as_bytes())
        .collect();

    // Raw SHA-256 over the same ids: the floor of any tree.
    let start = Instant::now();
    let mut sink = 0u8;
    for id in &ids {
        sink ^= Sha256::digest(id)[0];
    }
    let sha_rate = leaves as f64 / start.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    let start = Instant::now();
    let mut tree = Tree::new();
    for id in &ids {
        tree.push(id);
    }
    let tree_rate = leaves as f64 / start.elapsed().as_secs_f64();
    rows.push(row(
        "SHA-256 of one entry id (baseline)",
        sha_rate,
        "hashes/s",
        None,
        String::new(),
    ));
    rows.push(row(
        &format!("tree growth to {leaves} leaves (leaf + inner hashes)"),
        tree_rate,
        "entries/s",
        Some(("SHA-256 of one id", sha_rate)),
        format!("{} MB of hashes in memory", (2 * leaves * 32) / 1_000_000),
    ));

    // Checkpoint: root of the whole tree + one signature.
    let key = fixtures::key("bench-node");
    let sign_rate = rate(Duration::from_secs(1), || {
        std::hint::black_box(key.sign(b"", b"a checkpoint body of about this length, 120 bytes"));
    });
    let mut note_bytes = 0;
    let checkpoint_rate = rate(Duration::from_secs(2), || {
        let root = tree.root_at(leaves).unwrap_or_default();
        let note = SignedNote::sign(
            Checkpoint {
                origin: key.public().to_text(NODE_PREFIX),
                size: leaves,
                root,
                time_ms: 1,
            },
            &key,
        );
        note_bytes = note.to_text().len();
    });
    rows.push(row(
        "Ed25519 signature (baseline)",
        sign_rate,
        "signatures/s",
        None,
        String::new(),
    ));
    rows.push(row(
        &format!("checkpoint of {leaves} entries (root + signature)"),
        checkpoint_rate,
        "checkpoints/s",
        Some(("one signature", sign_rate)),
        format!("{note_bytes} bytes per note"),
    ));

    // Proofs at full size, random indexes, encoded as Log sends them.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |below: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % below
    };
    let (mut inc_bytes, mut inc_n) = (0usize, 0usize);
    let inclusion_rate = rate(Duration::from_secs(2), || {
        let index = next(leaves);
        let hashes = infallible(merkle::inclusion_proof(&tree, index, leaves)).unwrap_or_default();
        let proof = pb::InclusionProof {
            index,
            tree_size: leaves,
            entry_id: Bytes::copy_from_slice(&ids[index as usize]),
            hashes: hashes.iter().map(|h| Bytes::copy_from_slice(h)).collect(),
        };
        inc_bytes += proof.encoded_len();
        inc_n += 1;
    });
    let (mut con_bytes, mut con_n) = (0usize, 0usize);
    let consistency_rate = rate(Duration::from_secs(2), || {
        let old = 1 + next(leaves - 1);
        let hashes = infallible(merkle::consistency_proof(&tree, old, leaves)).unwrap_or_default();
        let proof = pb::ConsistencyProof {
            old_size: old,
            new_size: leaves,
            hashes: hashes.iter().map(|h| Bytes::copy_from_slice(h)).collect(),
        };
        con_bytes += proof.encoded_len();
        con_n += 1;
    });
    rows.push(row(
        &format!("inclusion proof at {leaves} entries"),
        inclusion_rate,
        "proofs/s",
        Some(("SHA-256 of one id", sha_rate)),
        format!("{} bytes per proof", inc_bytes / inc_n.max(1)),
    ));
    rows.push(row(
        &format!("consistency proof to {leaves} entries"),
        consistency_rate,
        "proofs/s",
        Some(("SHA-256 of one id", sha_rate)),
        format!("{} bytes per proof", con_bytes / con_n.max(1)),
    ));
    drop(tree);
    drop(ids);

    // The audit's replay against raw signature checks on one thread.
    eprintln!("signing {entries} entries for the audit...");
    let scene = fixtures::scene(T0);
    let mut log: Vec<Entry> = scene.entries.clone();
    // The key that signed each entry, for the raw verify ceiling.
    let mut signers: Vec<consent_proto::keys::PublicKey> = vec![
        scene.registrar.key().public(),
        scene.collector.key().public(),
        scene.collector.key().public(),
        scene.registrar.key().public(),
    ];
    let mut i = 0;
    while log.len() < entries {
        let (c, c0, g) =
            fixtures::citizen_granting(&scene, &format!("audit-{i}"), P::ServiceProvision);
        log.push(c0);
        log.push(g);
        signers.push(c.key().public());
        signers.push(c.key().public());
        i += 1;
    }
    let start = Instant::now();
    let mut ok = 0usize;
    for (e, key) in log.iter().zip(&signers) {
        ok += usize::from(key.verify(
            consent_proto::domain::ENTRY_SIGNATURE,
            &e.payload,
            &e.signature,
        ));
    }
    anyhow::ensure!(ok == log.len(), "{} of {} signatures verify", ok, log.len());
    let verify_rate = log.len() as f64 / start.elapsed().as_secs_f64();
    std::hint::black_box(ok);
    let items: Vec<pb::FeedEntry> = log
        .iter()
        .enumerate()
        .map(|(index, e)| pb::FeedEntry {
            entry: Some(e.to_signed()),
            id: Bytes::copy_from_slice(&e.id.0),
            index: index as u64,
            ..Default::default()
        })
        .collect();
    let start = Instant::now();
    let mut audit = Audit::new(
        Some(vec![scene.registrar.feed()]),
        consent_client::time::now_ms(),
    );
    for item in &items {
        audit.entry(item);
    }
    let audit_rate = items.len() as f64 / start.elapsed().as_secs_f64();
    anyhow::ensure!(
        audit.findings().is_empty(),
        "the audit found {:?}",
        audit.findings()
    );
    rows.push(row(
        "verify_strict, 1 thread (ceiling)",
        verify_rate,
        "verifies/s",
        None,
        String::new(),
    ));
    rows.push(row(
        &format!("audit replay, {} entries", items.len()),
        audit_rate,
        "entries/s",
        Some(("verify ceiling", verify_rate)),
        String::new(),
    ));

    print_table(&rows);
    if let Some(path) = json {
        std::fs::write(&path, to_json(&rows))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

fn row(
    name: &str,
    value: f64,
    unit: &'static str,
    baseline: Option<(&str, f64)>,
    extra: String,
) -> Row {
    Row {
        name: name.to_string(),
        value,
        unit,
        baseline: baseline.map(|(n, v)| (n.to_string(), v)),
        target: None,
        extra,
    }
}

/// Calls `f` repeatedly for about `phase`: calls per second.
fn rate(phase: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < phase {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn infallible<T>(r: Result<T, std::convert::Infallible>) -> T {
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}
