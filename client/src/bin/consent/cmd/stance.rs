//! `consent consult support | object`: a citizen's stance on a policy version under
//! consultation, signed in the wallet's pairwise feed for its collector. A stance carries no
//! text: a longer text goes elsewhere, the stance only its BLAKE3 digest.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use consent_client::{time, wallet};
use consent_proto::body::{Body, Position, Stance};
use consent_proto::ids::{Digest, FeedId};
use consent_proto::pb;
use consent_proto::vocab::{ObjectionReason, ObjectionSet, Role};
use serde_json::json;

use super::consult::consultation;
use crate::consult_words as words;
use crate::ctx::{self, Global, emit, entry_arg};

/// `consent consult support`.
#[derive(Args, Debug)]
pub struct SupportArgs {
    /// The policy version under consultation (ent1...).
    pub draft: String,
    /// A longer text you publish elsewhere: only its BLAKE3 digest goes on the ledger.
    #[arg(long, value_name = "FILE")]
    pub details: Option<PathBuf>,
}

/// `consent consult object`.
#[derive(Args, Debug)]
pub struct ObjectArgs {
    /// The policy version under consultation (ent1...).
    pub draft: String,
    /// Why (repeat, or comma-separated): purpose-too-broad, retention-too-long,
    /// third-party-sharing, not-anonymised-enough, sensor-placement, other.
    #[arg(
        long = "reason",
        required = true,
        value_delimiter = ',',
        value_name = "REASON"
    )]
    pub reasons: Vec<String>,
    /// A longer text you publish elsewhere: only its BLAKE3 digest goes on the ledger.
    #[arg(long, value_name = "FILE")]
    pub details: Option<PathBuf>,
}

pub async fn support(a: SupportArgs, g: &Global) -> anyhow::Result<()> {
    file(&a.draft, Position::Support, a.details.as_deref(), g).await
}

pub async fn object(a: ObjectArgs, g: &Global) -> anyhow::Result<()> {
    let mut reasons = ObjectionSet::EMPTY;
    for r in &a.reasons {
        let reason = ObjectionReason::from_name(r).map_err(|e| anyhow::anyhow!("--reason: {e}"))?;
        if !reasons.insert(reason) {
            bail!("--reason {reason} is given twice");
        }
    }
    file(&a.draft, Position::Object(reasons), a.details.as_deref(), g).await
}

/// The BLAKE3 digest of a file's bytes.
pub fn digest_of(path: &Path) -> anyhow::Result<Digest> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Digest(*blake3::hash(&bytes).as_bytes()))
}

async fn file(
    draft: &str,
    position: Position,
    details: Option<&Path>,
    g: &Global,
) -> anyhow::Result<()> {
    let id = entry_arg("<draft>", draft)?;
    let details_digest = details.map(digest_of).transpose()?;
    let mut node = g.connect().await?;
    let c = consultation(&mut node, &id).await?;
    let s = c.summary.unwrap_or_default();
    let now = time::now_ms();
    if s.state() != pb::ConsultationState::Open || now >= s.closes_ms {
        bail!(
            "the consultation {id} is not open: {} (a stance is taken only while it is open)",
            words::state_text(&s, now)
        );
    }
    let collector = FeedId::from_slice(&s.collector)
        .map_err(|_| anyhow::anyhow!("the node sent a consultation without its collector"))?;
    let mut ks = g.open(Role::Citizen)?;
    let _queue = crate::outbox::hold_queue(&mut ks, false)?;
    // An earlier stance of this wallet on the same version: the new one replaces it.
    let subject = wallet::pairwise_feed(ks.master(), &collector);
    let earlier = node
        .feed(&subject)
        .await?
        .into_iter()
        .rev()
        .find(|e| matches!(&e.body, Body::Stance(st) if st.draft == id));
    let mut author = ctx::pairwise(&mut node, &mut ks, &collector).await?;
    let body = Body::Stance(Stance {
        draft: id,
        position,
        details_digest,
    });
    let entry = author.append(now, body).map_err(anyhow::Error::msg)?;
    ctx::journal(&mut ks, &collector, &entry)?;
    crate::send::submit_recorded(&mut node, &ks, &collector, &[(&entry, "stance")]).await?;
    ks.save()?;
    let (verb, why) = match position {
        Position::Support => ("support", String::new()),
        Position::Object(set) => (
            "object to",
            format!(
                ": {}",
                set.iter().map(|r| r.plain()).collect::<Vec<_>>().join("; ")
            ),
        ),
    };
    let mut human = format!(
        "You {verb} version {} of {} ({}){why}. Stance id: {}\nYour subject id for this \
         collector: {}",
        s.version,
        s.name,
        words::collector_text(&s),
        entry.id,
        subject.typed(Role::Citizen)
    );
    if let Some(old) = &earlier {
        human += &format!(
            "\nThis replaces your earlier stance {}: only your latest stance counts.",
            old.id
        );
    }
    if let Some(d) = &details_digest {
        human += &format!("\nPublish this text elsewhere; the ledger holds only its digest: {d}");
    }
    human += &format!("\n{}", words::NOT_VOTES);
    let mut value = words::stance_json(match &entry.body {
        Body::Stance(st) => st,
        _ => bail!("the stance entry holds no stance"),
    });
    value["entry"] = json!(entry.id.to_string());
    value["subject"] = json!(subject.typed(Role::Citizen).to_string());
    value["replaces"] = json!(earlier.map(|e| e.id.to_string()));
    emit(g.json, human, value);
    Ok(())
}
