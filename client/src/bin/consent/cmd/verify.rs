//! `consent receipt`: a receipt for an entry the node holds, completed with its log evidence; and
//! `consent verify-receipt`: checks a receipt file offline — the node's signature, its
//! checkpoint, the witnesses' cosignatures under a policy, and the inclusion proofs.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use consent_proto::evidence::{VerifiedDecision, WitnessPolicy, verify_decision, verify_entry};
use consent_proto::ids::EntryId;
use consent_proto::note::NODE_PREFIX;
use consent_proto::pb;
use prost::Message;
use serde_json::json;

use crate::ctx::{Global, emit};

/// Largest receipt file read.
const MAX_RECEIPT_BYTES: u64 = 64 * 1024;

/// `consent verify-receipt`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A receipt file written by `consent check --receipt FILE` or `consent receipt`.
    pub file: PathBuf,
    /// A witness whose cosignature counts (a node id, node1...); repeat for each.
    #[arg(long = "witness", value_name = "NODE_ID")]
    pub witnesses: Vec<String>,
    /// How many of those witnesses must have cosigned the node's checkpoint.
    #[arg(long, default_value_t = 0)]
    pub need: usize,
    /// The node that must have signed (a node id); default: the one the receipt names.
    #[arg(long, value_name = "NODE_ID")]
    pub signed_by: Option<String>,
}

pub fn verify_receipt(a: VerifyArgs, g: &Global) -> anyhow::Result<()> {
    let file = read_receipt_file(&a.file)?;
    match file.receipt {
        Some(pb::receipt_file::Receipt::Decision(d)) => verify_decision_receipt(&d, &a, g),
        Some(pb::receipt_file::Receipt::Entry(e)) => verify_entry_receipt(&e, &a, g),
        None => bail!("{} holds no receipt", a.file.display()),
    }
}

/// The receipt file at `path` (refused above [`MAX_RECEIPT_BYTES`] or when it does not decode).
fn read_receipt_file(path: &Path) -> anyhow::Result<pb::ReceiptFile> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_RECEIPT_BYTES {
        bail!(
            "{} is {size} bytes; a receipt is at most 64 KiB — is this the right file?",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    pb::ReceiptFile::decode(bytes.as_slice()).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a receipt file ({e}); write one with `consent check --receipt FILE` or \
             `consent receipt ENTRY_ID --out FILE`",
            path.display()
        )
    })
}

/// Verifies a decision receipt under the witness policy and says what it establishes.
fn verify_decision_receipt(
    receipt: &pb::DecisionReceipt,
    a: &VerifyArgs,
    g: &Global,
) -> anyhow::Result<()> {
    let policy = WitnessPolicy::new(&a.witnesses, a.need)?;
    let v = verify_decision(receipt, &policy).context("the receipt does not hold")?;
    let node = v.node.to_text(NODE_PREFIX);
    if let Some(expected) = &a.signed_by
        && *expected != node
    {
        bail!("the receipt is signed by {node}, not by {expected}");
    }
    let decision = if v.payload.decision() == pb::Decision::Allow {
        "allow"
    } else {
        "deny"
    };
    let reason = v
        .payload
        .reason()
        .as_str_name()
        .trim_start_matches("REASON_")
        .to_ascii_lowercase()
        .replace('_', "-");
    let grant = EntryId::from_slice(&v.payload.grant)
        .ok()
        .map(|g| g.to_string());
    let checkpoint = v.checkpoint.as_ref().map(|c| c.size);
    let about = consent_client::time::format(v.at_ms);
    emit(
        g.json,
        decision_text(&v, &node, decision, &reason, &about),
        json!({
            "valid": true,
            "node": node,
            "decision": decision,
            "reason": reason,
            "grant": grant,
            "time": consent_client::time::format(v.payload.time_ms),
            "at": about,
            "question_time": v
                .when
                .as_str_name()
                .trim_start_matches("QUESTION_TIME_")
                .to_ascii_lowercase(),
            "checkpoint_size": checkpoint,
            "cosigned_by": v.cosigned_by,
            "grant_included": v.grant_included,
            "revocation_included": v.revocation_included,
            "delegated": v
                .payload
                .delegated
                .as_ref()
                .and_then(consent_proto::delegation::DelegationUsed::from_wire)
                .map(|d| json!({
                    "delegation": d.delegation.to_string(),
                    "delegate": d.delegate.typed(consent_proto::vocab::Role::Citizen).to_string(),
                    "kind": d.kind.name(),
                    "endorsement": d.endorsement.map(|e| e.to_string()),
                })),
            "delegation_included": v.delegation_included,
        }),
    );
    Ok(())
}

/// What a verified decision receipt establishes, in one line (`about`: the time it is about).
fn decision_text(
    v: &VerifiedDecision,
    node: &str,
    decision: &str,
    reason: &str,
    about: &str,
) -> String {
    // A decision about another time than when it was signed says nothing of consent now.
    let when = match v.when {
        pb::QuestionTime::Past => format!(
            "; about {about}, BEFORE it was decided: a grant was in force then, which is no consent now"
        ),
        pb::QuestionTime::Future => format!(
            "; about {about}, AFTER it was decided: a revocation before then changes the answer"
        ),
        _ => String::new(),
    };
    format!(
        "valid: {decision} ({reason}) signed by {node} at {}{when}{}{}{}",
        consent_client::time::format(v.payload.time_ms),
        v.checkpoint
            .as_ref()
            .map(|c| format!("; in its checkpoint of {} entries", c.size))
            .unwrap_or_else(|| "; no checkpoint".into()),
        if v.cosigned_by.is_empty() {
            String::new()
        } else {
            format!(
                ", cosigned by {} of the witnesses named",
                v.cosigned_by.len()
            )
        },
        match (v.grant_included, v.revocation_included) {
            (true, true) => "; grant and revocation proven in the log",
            (true, false) => "; grant proven in the log",
            _ => "",
        }
    ) + match (v.payload.delegated.is_some(), v.delegation_included) {
        (true, true) => {
            "; the grant was signed by a delegate, under a delegation proven in the log"
        }
        (true, false) => "; the grant was signed by a delegate",
        _ => "",
    }
}

fn verify_entry_receipt(
    receipt: &pb::EntryReceipt,
    a: &VerifyArgs,
    g: &Global,
) -> anyhow::Result<()> {
    let policy = WitnessPolicy::new(&a.witnesses, a.need)?;
    let v = verify_entry(receipt, &policy).context("the receipt does not hold")?;
    let node = v.facts.node.to_text(NODE_PREFIX);
    if let Some(expected) = &a.signed_by
        && *expected != node
    {
        bail!("the receipt is signed by {node}, not by {expected}");
    }
    emit(
        g.json,
        format!(
            "valid: entry {} accepted by {node} at {} as entry {} of its log, proven in its checkpoint of {} entries{}",
            v.facts.entry_id,
            consent_client::time::format(v.facts.time_ms),
            v.facts.index,
            v.checkpoint.size,
            if v.cosigned_by.is_empty() {
                String::new()
            } else {
                format!(
                    ", cosigned by {} of the witnesses named",
                    v.cosigned_by.len()
                )
            }
        ),
        json!({
            "valid": true,
            "node": node,
            "entry": v.facts.entry_id.to_string(),
            "index": v.facts.index,
            "time": consent_client::time::format(v.facts.time_ms),
            "checkpoint_size": v.checkpoint.size,
            "cosigned_by": v.cosigned_by,
        }),
    );
    Ok(())
}

/// `consent receipt`.
#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The entry (ent1...).
    pub entry: String,
    /// Where to write the receipt file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Gets the node's receipt for an entry it holds (submitting it again returns the original
/// arrival index, signed), and completes it with the latest checkpoint and the inclusion proof.
pub async fn receipt(a: ReceiptArgs, g: &Global) -> anyhow::Result<()> {
    let id = crate::ctx::entry_arg("<entry>", &a.entry)?;
    let mut node = g.connect().await?;
    let entry = node
        .entry(&id)
        .await?
        .with_context(|| format!("the node does not hold {id}"))?;
    // Signed alone: the file may go to a verifier that predates receipt groups.
    let answer = node.submit_signed_alone(&entry, "the entry").await?;
    let signed = answer
        .receipt
        .context("the node gave no receipt for an entry it holds")?;
    let facts =
        consent_proto::receipt::verify(&signed).context("the node's receipt does not verify")?;
    let mut log = consent_proto::pb::log_client::LogClient::new(node.channel());
    let checkpoint = log
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .context("the node gives no checkpoint")?
        .into_inner();
    if facts.index >= checkpoint.tree_size {
        bail!(
            "entry {id} (log index {}) is not in the node's latest checkpoint of {} entries yet; \
             try again in a second",
            facts.index,
            checkpoint.tree_size
        );
    }
    let inclusion = log
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            entry: Some(pb::get_inclusion_proof_request::Entry::Index(facts.index)),
            tree_size: checkpoint.tree_size,
        })
        .await
        .context("the node gives no inclusion proof")?
        .into_inner();
    let receipt = pb::EntryReceipt {
        receipt: Some(signed),
        checkpoint: checkpoint.note,
        inclusion: Some(inclusion),
    };
    verify_entry(&receipt, &WitnessPolicy::default())
        .context("the node's evidence does not hold")?;
    let file = pb::ReceiptFile {
        receipt: Some(pb::receipt_file::Receipt::Entry(receipt)),
    };
    std::fs::write(&a.out, file.encode_to_vec())
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    emit(
        g.json,
        format!(
            "receipt for {id} (log index {}, checkpoint of {} entries) written to {}",
            facts.index,
            checkpoint.tree_size,
            a.out.display()
        ),
        json!({
            "entry": id.to_string(),
            "index": facts.index,
            "checkpoint_size": checkpoint.tree_size,
            "file": a.out.display().to_string(),
        }),
    );
    Ok(())
}
