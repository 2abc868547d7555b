//! `consent revoke`: withdrawing a grant this wallet made, or one made in its name, optionally
//! asking for erasure.

use anyhow::{Context, bail};
use clap::Args;
use consent_client::time;
use consent_client::wallet;
use consent_proto::body::{Body, Revoke};
use consent_proto::vocab::Role;
use serde_json::json;

use crate::cmd::on_behalf;
use crate::ctx::{self, Global, emit, entry_arg};

/// `consent revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The grant id (ent1...).
    pub grant: String,
    /// Also ask the collector to erase the data it already stored.
    #[arg(long)]
    pub erase: bool,
}

pub async fn revoke(a: RevokeArgs, g: &Global) -> anyhow::Result<()> {
    if let Some(who) = &g.as_person {
        return on_behalf::revoke(&a, who, g).await;
    }
    let grant_id = entry_arg("<grant-id>", &a.grant)?;
    let mut ks = g.open(Role::Citizen)?;
    let mut node = g.connect().await?;
    let grant = node
        .entry(&grant_id)
        .await?
        .with_context(|| format!("the node knows no entry {}", a.grant))?;
    let Body::Grant(gr) = &grant.body else {
        bail!("{} is not a grant", a.grant)
    };
    // Its own grant, or one a delegate (an assistant, a guardian) made in its name.
    let owner = gr.on_behalf.as_ref().map_or(grant.feed, |o| o.person);
    if wallet::pairwise_feed(ks.master(), &gr.collector) != owner {
        bail!(
            "grant {} was not made by this wallet, nor in its name (to revoke in the name of \
             someone you act for: consent --as NAME revoke GRANT)",
            a.grant
        );
    }
    let mut author = ctx::pairwise(&mut node, &mut ks, &gr.collector).await?;
    let entry = author
        .append(
            time::now_ms(),
            Body::Revoke(Revoke {
                grant: grant_id,
                erase: a.erase,
                on_behalf: None,
            }),
        )
        .map_err(anyhow::Error::msg)?;
    ctx::journal(&mut ks, &gr.collector, &entry)?;
    ctx::submit(&mut node, &entry, "revocation").await?;
    ks.save()?;
    emit(
        g.json,
        format!(
            "Revoked grant {}{}. Revocation id: {}",
            a.grant,
            if a.erase {
                " and asked for erasure"
            } else {
                ""
            },
            entry.id
        ),
        json!({"revocation": entry.id.to_string(), "grant": a.grant, "erase": a.erase}),
    );
    Ok(())
}
