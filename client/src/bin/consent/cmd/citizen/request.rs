//! `consent request`: exercising a right (access, erasure, opt-out of sale, ...) with a collector.

use anyhow::bail;
use clap::Args;
use consent_client::time;
use consent_proto::body::{Body, Request};
use consent_proto::vocab::{RequestKind, Role};
use serde_json::json;

use crate::cmd::on_behalf;
use crate::ctx::{self, Global, emit, feed_arg};

/// `consent request`.
#[derive(Args, Debug)]
pub struct RequestArgs {
    /// Collector id (col1...).
    pub collector: String,
    /// access, erasure, rectification, restriction, portability or opt-out-sale.
    pub kind: String,
}

pub async fn request(a: RequestArgs, g: &Global) -> anyhow::Result<()> {
    if let Some(who) = &g.as_person {
        return on_behalf::request(&a, who, g).await;
    }
    let collector = feed_arg("<collector>", &a.collector, Role::Collector)?;
    let kind = RequestKind::from_name(&a.kind)?;
    let mut ks = g.open(Role::Citizen)?;
    let mut node = g.connect().await?;
    if node.head(&collector).await?.is_none() {
        bail!(
            "unknown collector {}: the node at {} does not know it",
            a.collector,
            node.url()
        );
    }
    let mut author = ctx::pairwise(&mut node, &mut ks, &collector).await?;
    let entry = author
        .append(
            time::now_ms(),
            Body::Request(Request {
                collector,
                kind,
                details_digest: None,
                on_behalf: None,
            }),
        )
        .map_err(anyhow::Error::msg)?;
    ctx::journal(&mut ks, &collector, &entry)?;
    ctx::submit(&mut node, &entry, "request").await?;
    ks.save()?;
    emit(
        g.json,
        format!(
            "Asked {} for {}. Request id: {}",
            a.collector,
            kind.plain(),
            entry.id
        ),
        json!({"request": entry.id.to_string(), "collector": a.collector, "kind": kind.name()}),
    );
    Ok(())
}
