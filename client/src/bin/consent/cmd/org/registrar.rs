//! Registrars' commands: `registrar init | accredit | suspend | decide`, and the append to the
//! registrar's feed they share with `decide`.

use anyhow::{Context, bail};
use clap::Subcommand;
use consent_client::keystore::OwnFeed;
use consent_client::time;
use consent_proto::body::{Accreditation, Body, Suspension};
use consent_proto::pb;
use consent_proto::vocab::Role;
use serde_json::json;

use super::{incept, own_inception};
use crate::ctx::{self, Global, emit, feed_arg};

/// Registrar commands.
#[derive(Subcommand, Debug)]
pub enum Registrar {
    /// Create a registrar keystore and feed; prints the id to list in the network genesis.
    Init {
        /// Act as the built-in dev network's registrar instead (its keys are public): for a node
        /// run without --genesis, so a newcomer can accredit a collector. Refused by any other
        /// network.
        #[arg(long)]
        dev: bool,
    },
    /// Accredit a collector until a date.
    Accredit {
        /// Collector id (col1...).
        collector: String,
        /// End of the accreditation (2027-01-31, RFC 3339, or a duration like 365d).
        #[arg(long)]
        until: String,
    },
    /// Suspend a collector's accreditation.
    Suspend {
        /// Collector id (col1...).
        collector: String,
        /// Public reason (about the organisation).
        #[arg(long)]
        reason: String,
    },
    /// Record the outcome of a consultation once it has closed: approve the draft (it takes
    /// effect) or require changes (it never does).
    Decide(super::super::decide::DecideArgs),
}

pub async fn registrar(cmd: Registrar, g: &Global) -> anyhow::Result<()> {
    match cmd {
        Registrar::Init { dev: true } => dev_registrar(g).await,
        Registrar::Init { dev: false } => {
            let (ks, author, inception) = incept(g, Role::Registrar)?;
            let id = author.feed().typed(Role::Registrar).to_string();
            // The node accepts a registrar only once the network genesis lists it.
            let submitted = match g.connect().await {
                Ok(mut node) => node
                    .submit(&inception, "registrar inception")
                    .await
                    .is_ok_and(|r| r.status() == pb::SubmitStatus::Accepted),
                Err(_) => false,
            };
            emit(
                g.json,
                format!(
                    "Registrar created: {id}\nKeystore: {}\n{}",
                    ks.path().display(),
                    if submitted {
                        "The node accepted it (this network's genesis lists it)."
                    } else {
                        "List this id in the network genesis (consentd genesis --registrar ...); it is submitted with your first accreditation."
                    }
                ),
                json!({"registrar": id, "keystore": ks.path().display().to_string(), "on_node": submitted}),
            );
            Ok(())
        }
        Registrar::Accredit { collector, until } => {
            let collector_id = feed_arg("<collector>", &collector, Role::Collector)?;
            let until_ms = time::parse(&until).map_err(anyhow::Error::msg)?;
            let body = Body::Accreditation(Accreditation {
                collector: collector_id,
                valid_until: until_ms,
            });
            registrar_append(
                g,
                body,
                &format!("Accredited {collector} until {}", time::format(until_ms)),
                json!({"collector": collector, "valid_until": time::format(until_ms)}),
            )
            .await
        }
        Registrar::Decide(a) => super::super::decide::decide(a, g).await,
        Registrar::Suspend { collector, reason } => {
            let collector_id = feed_arg("<collector>", &collector, Role::Collector)?;
            let body = Body::Suspension(Suspension {
                collector: collector_id,
                reason: reason.clone(),
            });
            registrar_append(
                g,
                body,
                &format!("Suspended {collector}"),
                json!({"collector": collector, "reason": reason}),
            )
            .await
        }
    }
}

/// `registrar init --dev`: a keystore that acts as the dev network's registrar, whose inception
/// the node must accept (only the built-in dev network lists it).
async fn dev_registrar(g: &Global) -> anyhow::Result<()> {
    let (author, inception) = consent_proto::dev::registrar().map_err(anyhow::Error::msg)?;
    let id = author.feed().typed(Role::Registrar).to_string();
    let mut node = g.connect().await?;
    let accepted = node
        .submit(&inception, "dev registrar inception")
        .await
        .is_ok_and(|r| {
            matches!(
                r.status(),
                pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate
            )
        });
    if !accepted {
        bail!(
            "the node at {} does not run the built-in dev network (its genesis does not list the \
             dev registrar {id}); --dev is only for a node started without --genesis. On a real \
             network use `consent registrar init` and list the id in the genesis",
            node.url()
        );
    }
    let mut ks = g.create(Role::Registrar, None)?;
    ks.state.own = Some(OwnFeed {
        feed: id.clone(),
        inception_ms: consent_proto::dev::REGISTRAR_INCEPTION_MS,
        rotations: 0,
        dev_registrar: true,
    });
    ks.save()?;
    emit(
        g.json,
        format!(
            "Acting as the dev network's registrar {id} (its keys are public: a dev network only).\nKeystore: {}\nAccredit a collector: consent --keystore {} registrar accredit col1... --until 365d",
            ks.path().display(),
            ks.path().display()
        ),
        json!({"registrar": id, "keystore": ks.path().display().to_string(), "dev": true}),
    );
    Ok(())
}

/// Appends `body` to the registrar's feed (submitting its inception first if the node does not
/// know it) and prints `human` or `value` with the entry id.
pub(crate) async fn registrar_append(
    g: &Global,
    body: Body,
    human: &str,
    mut value: serde_json::Value,
) -> anyhow::Result<()> {
    let mut ks = g.open(Role::Registrar)?;
    let mut node = g.connect().await?;
    let own = ks
        .state
        .own
        .clone()
        .context("this keystore has no registrar feed")?;
    let feed = consent_proto::ids::TypedFeedId::parse_role(&own.feed, Role::Registrar)?;
    if node.head(&feed).await?.is_none() {
        let inception = own_inception(&ks)?;
        ctx::submit(&mut node, &inception, "registrar inception")
            .await
            .map_err(|e| {
                anyhow::anyhow!("{e}\n(is {} listed in this network's genesis?)", own.feed)
            })?;
    }
    let mut author = ctx::own(&mut node, &mut ks).await?;
    let entry = author
        .append(time::now_ms(), body)
        .map_err(anyhow::Error::msg)?;
    ctx::submit(&mut node, &entry, "registrar statement").await?;
    ks.save()?;
    value["entry"] = json!(entry.id.to_string());
    emit(g.json, format!("{human}. Entry id: {}", entry.id), value);
    Ok(())
}
