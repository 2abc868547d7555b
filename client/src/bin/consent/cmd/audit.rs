//! `consent audit`: replays a whole node from outside (see `consent_client::audit`): its signed
//! checkpoint and the witnesses' cosignatures, every entry of its log through the protocol's
//! rules, the Merkle root against the checkpoint, every feed head against what the node says, and
//! consistency with the checkpoint saved by the previous audit of that node.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use consent_client::audit::Audit;
use consent_proto::evidence::WitnessPolicy;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::merkle;
use consent_proto::note::SignedNote;
use consent_proto::pb;
use consent_proto::pb::ledger_client::LedgerClient;
use consent_proto::pb::log_client::LogClient;
use consent_proto::vocab::Role;
use futures::StreamExt;
use prost::bytes::Bytes;
use serde_json::json;
use tonic::transport::Channel;

use crate::ctx::{Global, emit, feed_arg};

/// `consent audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// A witness whose cosignature counts (a node id); repeat for each.
    #[arg(long = "witness", value_name = "NODE_ID")]
    pub witnesses: Vec<String>,
    /// How many of those witnesses must have cosigned the node's checkpoint.
    #[arg(long, default_value_t = 0)]
    pub need: usize,
    /// The network's registrars (reg1...), as its genesis lists them; repeat for each. Without
    /// them, the registrars whose inceptions the log holds are trusted.
    #[arg(long = "registrar", value_name = "REGISTRAR_ID")]
    pub registrars: Vec<String>,
    /// Where checkpoints of earlier audits are kept (default: next to the keystore, audits/).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub async fn audit(a: AuditArgs, g: &Global) -> anyhow::Result<()> {
    // Refuses names that are not node ids and more cosignatures than witnesses.
    WitnessPolicy::new(&a.witnesses, a.need)?;
    let registrars = registrar_ids(&a.registrars)?;
    let mut node = g.connect().await?;
    let status = node.status().await?;
    let channel = node.channel();
    let mut log = LogClient::new(channel.clone());
    let mut ledger = LedgerClient::new(channel);

    let (text, note) = checkpoint(&mut log, &status.node_id).await?;
    let mut audit = Audit::new(registrars, consent_client::time::now_ms());
    let cosigned = cosignatures(&a, &note, &mut audit);

    // Every entry of the log up to the checkpoint, and on to the node's current size.
    let total = status.entries.max(note.checkpoint.size);
    replay_log(&mut ledger, &mut audit, total, g.json).await?;
    let size = note.checkpoint.size;
    check_root(&mut audit, &note);
    let feeds = compare_heads(&ledger, &mut audit).await;

    // Consistency with the checkpoint kept from the previous audit of this node.
    let dir = a.state_dir.clone().unwrap_or_else(|| {
        g.keystore_path()
            .parent()
            .map(|p| p.join("audits"))
            .unwrap_or_else(|| PathBuf::from("audits"))
    });
    let saved = dir.join(format!("{}.checkpoint", status.node_id));
    let previous = consistent_with_saved(&mut log, &mut audit, &saved, &note).await?;
    let findings = audit.findings();
    if findings.is_empty() {
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&saved, &text))
            .with_context(|| format!("cannot keep the checkpoint in {}", saved.display()))?;
    }
    let summary = json!({
        "node": status.node_id,
        "entries": audit.size(),
        "feeds": feeds,
        "checkpoint_size": size,
        "cosigned_by": cosigned,
        "previous_checkpoint_size": previous,
        "findings": findings,
    });
    if findings.is_empty() {
        emit(
            g.json,
            format!(
                "audit passed: {} entries of {} replayed, {} feeds, root of {size} entries matches its checkpoint{}{}",
                audit.size(),
                status.node_id,
                feeds,
                if cosigned.is_empty() {
                    String::new()
                } else {
                    format!(" (cosigned by {} witnesses named)", cosigned.len())
                },
                previous
                    .map(|m| format!("; consistent with the {m} entries audited before"))
                    .unwrap_or_default()
            ),
            summary,
        );
        return Ok(());
    }
    failed(g.json, &summary, &findings, &status.node_id)
}

/// A failed audit: the report on stdout; the verdict, one line, as the error (on stderr).
fn failed(
    json: bool,
    summary: &serde_json::Value,
    findings: &[String],
    node_id: &str,
) -> anyhow::Result<()> {
    if json {
        println!("{summary}");
    } else {
        for f in findings {
            println!("finding: {f}");
        }
    }
    bail!(
        "audit failed: {} finding(s) about node {}",
        findings.len(),
        node_id
    )
}

/// The registrars given with `--registrar` (`None`: none given, trust those the log holds).
fn registrar_ids(args: &[String]) -> anyhow::Result<Option<Vec<FeedId>>> {
    if args.is_empty() {
        return Ok(None);
    }
    let ids = args
        .iter()
        .map(|r| feed_arg("--registrar", r, Role::Registrar))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(ids))
}

/// The node's checkpoint (as text and parsed), which must be its own and signed by its key.
async fn checkpoint(
    log: &mut LogClient<Channel>,
    node_id: &str,
) -> anyhow::Result<(String, SignedNote)> {
    let text = log
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .context("the node gives no checkpoint")?
        .into_inner()
        .note;
    let note = SignedNote::parse(&text).context("the node's checkpoint is malformed")?;
    if note.checkpoint.origin != node_id {
        bail!(
            "the node {} serves a checkpoint of {}",
            node_id,
            note.checkpoint.origin
        );
    }
    note.verify_by_origin()
        .context("the node's checkpoint is not signed by its key")?;
    Ok((text, note))
}

/// The witnesses named with `--witness` that cosigned the checkpoint; a finding when fewer than
/// `--need` did.
fn cosignatures(a: &AuditArgs, note: &SignedNote, audit: &mut Audit) -> Vec<String> {
    let witnesses_named: Vec<(String, consent_proto::keys::PublicKey)> = a
        .witnesses
        .iter()
        .filter_map(|n| consent_proto::note::key_of(n).map(|k| (n.clone(), k)))
        .collect();
    let cosigned: Vec<String> = note
        .cosigned_by(&witnesses_named)
        .into_iter()
        .map(str::to_string)
        .collect();
    if cosigned.len() < a.need {
        audit.finding(format!(
            "{} of the required {} witnesses cosigned the checkpoint",
            cosigned.len(),
            a.need
        ));
    }
    cosigned
}

/// Replays the node's log from where the audit stands until the node serves nothing more.
async fn replay_log(
    ledger: &mut LedgerClient<Channel>,
    audit: &mut Audit,
    total: u64,
    quiet: bool,
) -> anyhow::Result<()> {
    let bar = progress(total, quiet);
    loop {
        let mut stream = ledger
            .get_log(pb::GetLogRequest {
                from_index: audit.size(),
                limit: 0,
            })
            .await
            .context("the node does not serve its log")?
            .into_inner();
        let before = audit.size();
        while let Some(item) = stream.next().await {
            let item = item.context("the log stream broke off")?;
            audit.entry(&item);
            bar.inc(1);
        }
        if audit.size() == before {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// A finding unless the replayed log's first entries have the root the checkpoint signs.
fn check_root(audit: &mut Audit, note: &SignedNote) {
    let size = note.checkpoint.size;
    match audit.root_at(size) {
        Some(root) if root == note.checkpoint.root => {}
        Some(_) => audit.finding(format!(
            "the log's first {size} entries do not have the root the node signed"
        )),
        None => audit.finding(format!(
            "the node signed a checkpoint of {size} entries but serves only {}",
            audit.size()
        )),
    }
}

/// A feed head as the replay gives it: `(feed, seq, head id, frozen, signing key)`.
type ReplayedHead = (FeedId, u64, EntryId, bool, [u8; 32]);

/// Every feed head, key and grant state as the node states them (a live node may be ahead), with
/// a finding for each that differs from the replay; returns how many feeds were compared.
async fn compare_heads(ledger: &LedgerClient<Channel>, audit: &mut Audit) -> usize {
    let heads: Vec<ReplayedHead> = audit
        .heads()
        .map(|(feed, state)| {
            (
                *feed,
                state.head_seq,
                state.head_id,
                state.frozen,
                state.signing_key,
            )
        })
        .collect();
    let client = ledger.clone();
    let answers: Vec<_> = futures::stream::iter(heads.clone())
        .map(|(feed, ..)| {
            let mut client = client.clone();
            async move {
                client
                    .get_head(pb::GetHeadRequest {
                        feed: Bytes::copy_from_slice(&feed.0),
                        with_grants: true,
                    })
                    .await
                    .map(|r| r.into_inner())
            }
        })
        .buffered(16)
        .collect()
        .await;
    for (head, answer) in heads.iter().zip(answers) {
        compare_head(audit, head, answer);
    }
    heads.len()
}

/// A finding if the node's `answer` about one feed differs from the replayed `head`.
fn compare_head(
    audit: &mut Audit,
    head: &ReplayedHead,
    answer: Result<pb::GetHeadResponse, tonic::Status>,
) {
    let (feed, seq, id, frozen, key) = head;
    match answer {
        Err(e) => audit.finding(format!(
            "feed {feed:?}: the node has no head ({})",
            e.message()
        )),
        Ok(h) if h.seq < *seq => audit.finding(format!(
            "feed {feed:?}: the node's head is seq {}, its log holds seq {seq}",
            h.seq
        )),
        Ok(h) if h.seq == *seq && h.head.as_ref() != id.0.as_slice() => {
            audit.finding(format!("feed {feed:?}: the node's head is another entry"))
        }
        Ok(h) if *frozen && !h.frozen => audit.finding(format!(
            "feed {feed:?}: its log proves an equivocation, the node says it is not frozen"
        )),
        Ok(h) if h.seq == *seq && h.signing_key.as_ref() != key.as_slice() => audit.finding(
            format!("feed {feed:?}: the node holds another current key than its log gives"),
        ),
        Ok(h) => {
            let theirs: Vec<(&[u8], &[u8], bool)> = h
                .grants
                .iter()
                .map(|g| (g.grant.as_ref(), g.collector.as_ref(), g.revoked))
                .collect();
            let ours: Vec<(&[u8], &[u8], bool)> = audit
                .grants(feed)
                .iter()
                .map(|(g, c, r)| (g.0.as_slice(), c.0.as_slice(), *r))
                .collect();
            // A live node may hold more grants, or revocations, than the log read.
            let agrees = h.seq > *seq && theirs.len() >= ours.len() || theirs == ours;
            if !agrees {
                audit.finding(format!(
                    "feed {feed:?}: the node's grant state (what it decides from) differs from \
                     its log: {} grant(s), {} revoked there; {} grant(s), {} revoked in the log",
                    theirs.len(),
                    theirs.iter().filter(|g| g.2).count(),
                    ours.len(),
                    ours.iter().filter(|g| g.2).count()
                ));
            }
        }
    }
}

/// If a previous audit of this node kept a checkpoint in `saved`: a finding unless the node's log
/// extends it; returns its size.
async fn consistent_with_saved(
    log: &mut LogClient<Channel>,
    audit: &mut Audit,
    saved: &Path,
    note: &SignedNote,
) -> anyhow::Result<Option<u64>> {
    let Ok(old) = std::fs::read_to_string(saved) else {
        return Ok(None);
    };
    let old = SignedNote::parse(&old)
        .ok()
        .filter(|n| n.verify_by_origin().is_ok())
        .with_context(|| format!("{} is not a checkpoint of this node", saved.display()))?;
    let (m, n) = (old.checkpoint.size, note.checkpoint.size);
    let consistent = if m > n {
        false
    } else {
        let proof = log
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                old_size: m,
                new_size: n,
            })
            .await
            .map(|r| r.into_inner().hashes)
            .unwrap_or_default();
        merkle::hashes_from(&proof).is_some_and(|p| {
            merkle::verify_consistency(m, n, &old.checkpoint.root, &note.checkpoint.root, &p)
                .is_ok()
        }) && audit.root_at(m) == Some(old.checkpoint.root)
    };
    if !consistent {
        audit.finding(format!(
            "the node's log is not an extension of the one audited before ({m} entries, \
             checkpoint kept in {}): it was rewritten",
            saved.display()
        ));
    }
    Ok(Some(m))
}

fn progress(total: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "replaying {bar:40} {pos}/{len} entries ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    bar
}
