//! `consent policy`: a collector's policy in effect, in plain words; and the lookup of that policy
//! that `consent grant` shares.

use anyhow::Context;
use clap::Args;
use consent_client::time;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::vocab::Role;
use serde_json::json;

use crate::cmd::consult;
use crate::ctx::{Global, emit, feed_arg};
use crate::describe;

/// `consent policy <collector>`.
#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// Collector id (col1...).
    pub collector: String,
}

pub async fn policy(a: PolicyArgs, g: &Global) -> anyhow::Result<()> {
    let collector = feed_arg("<collector>", &a.collector, Role::Collector)?;
    let mut node = g.connect().await?;
    let (id, p) = known_policy(&mut node, &collector, &a.collector).await?;
    // A newer version under consultation: not in effect (yet), said after the one that is.
    let pending = consult::pending_version(&mut node, &collector, &id).await?;
    let mut human = describe::policy_text(&collector, &id, &p);
    let mut value = describe::policy_json(&collector, &id, &p);
    if let Some((pid, pp, s)) = &pending {
        human += &format!("\n{}", consult::pending_line(pid, pp, s));
        value["pending"] = json!({
            "policy": pid.to_string(),
            "version": pp.version,
            "consultation": crate::consult_words::summary_json(s, time::now_ms()),
        });
    }
    emit(g.json, human, value);
    Ok(())
}

/// The collector's policy in effect now, or an error naming the unknown collector.
pub(super) async fn known_policy(
    node: &mut consent_client::node::NodeConnection,
    collector: &FeedId,
    text: &str,
) -> anyhow::Result<(EntryId, consent_proto::body::Policy)> {
    let url = node.url().to_string();
    node.current_policy(collector).await?.with_context(|| {
        format!("unknown collector {text}: the node at {url} knows no policy from it")
    })
}
