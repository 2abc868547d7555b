//! `consent verify-receipt`: checks a decision receipt offline — the node's signature, its
//! checkpoint, the witnesses' cosignatures under a policy, and the inclusion proofs.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use consent_proto::evidence::{WitnessPolicy, verify_decision};
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
    /// A decision receipt written by `consent check --receipt FILE`.
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
    let size = std::fs::metadata(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?
        .len();
    if size > MAX_RECEIPT_BYTES {
        bail!(
            "{} is {size} bytes; a receipt is at most 64 KiB — is this the right file?",
            a.file.display()
        );
    }
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let receipt = pb::DecisionReceipt::decode(bytes.as_slice()).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a decision receipt ({e}); write one with `consent check --receipt FILE`",
            a.file.display()
        )
    })?;
    let policy = WitnessPolicy::new(&a.witnesses, a.need)?;
    let v = verify_decision(&receipt, &policy).context("the receipt does not hold")?;
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
    let human = format!(
        "valid: {decision} ({reason}) signed by {node} at {}{}{}{}",
        consent_client::time::format(v.payload.time_ms),
        checkpoint
            .map(|s| format!("; in its checkpoint of {s} entries"))
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
    );
    emit(
        g.json,
        human,
        json!({
            "valid": true,
            "node": node,
            "decision": decision,
            "reason": reason,
            "grant": grant,
            "time": consent_client::time::format(v.payload.time_ms),
            "checkpoint_size": checkpoint,
            "cosigned_by": v.cosigned_by,
            "grant_included": v.grant_included,
            "revocation_included": v.revocation_included,
        }),
    );
    Ok(())
}
