//! Collectors' and registrars' commands: `collector init | policy update | policy draft | inbox
//! | ack | respond`, `registrar init | accredit | suspend | decide`, and `check`. Consultations'
//! own commands are in `draft.rs` and `decide.rs`.
//!
//! The collector's commands are here, with the own-feed inception both roles share; the
//! registrar's are in `registrar`, `check` in `check`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use consent_client::collector::Collector as Session;
use consent_client::keystore::OwnFeed;
use consent_client::{policy_file, time, wallet};
use consent_proto::body::{Ack, AckAnswer, Body};
use consent_proto::entry::Author;
use consent_proto::limits::MAX_ENTRY_BYTES;
use consent_proto::pb;
use consent_proto::vocab::Role;
use prost::bytes::Bytes;
use serde_json::json;

use crate::ctx::{self, Global, emit, entry_arg};

mod check;
mod registrar;

pub use self::check::{CheckArgs, check};
pub(crate) use self::registrar::registrar_append;
pub use self::registrar::{Registrar, registrar};

/// Collector commands.
#[derive(Subcommand, Debug)]
pub enum Collector {
    /// Create a collector keystore and feed, and publish its first policy.
    Init {
        /// Policy file (TOML; see client/examples/policy.toml).
        #[arg(long)]
        policy: PathBuf,
    },
    /// Publish a new policy version.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// What this collector still has to answer: citizens' requests and revocations asking for
    /// erasure that it has not acknowledged, with the ids to pass to `ack`.
    Inbox,
    /// Answer a citizen's request or erase-revocation with a signed ack.
    Ack {
        /// The request or revocation id (ent1...).
        request: String,
        /// It was done.
        #[arg(long, conflicts_with = "refused")]
        done: bool,
        /// It was refused, for this reason (the legal ground; never personal data).
        #[arg(long)]
        refused: Option<String>,
    },
    /// Answer, in public, one objection reason citizens raised in a consultation on your policy.
    Respond(super::draft::RespondArgs),
}

/// `collector policy ...`
#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Publish the next version of the policy. On a network that requires consultations, a
    /// version that widens what is collected is refused: publish it with `draft`.
    Update {
        /// Policy file.
        #[arg(long)]
        policy: PathBuf,
    },
    /// Publish the next version under public consultation. A version that widens what is
    /// collected is a draft: it takes effect only if a registrar approves it after the
    /// consultation closes. Any other version is in effect at once.
    Draft {
        /// Policy file.
        #[arg(long)]
        policy: PathBuf,
        /// The consultation lasts this many days (default: the network's minimum for a
        /// widening, else 14).
        #[arg(long, conflicts_with = "closes")]
        days: Option<u32>,
        /// The consultation closes at this time (2027-01-31, RFC 3339, or a duration like 30d).
        #[arg(long, value_name = "TIME")]
        closes: Option<String>,
    },
}

/// Creates an own feed (collector or registrar): keystore, inception.
fn incept(
    g: &Global,
    role: Role,
) -> anyhow::Result<(
    consent_client::keystore::Keystore,
    Author,
    consent_proto::Entry,
)> {
    let mut ks = g.create(role, None)?;
    let master = *ks.master();
    let now = time::now_ms();
    let (author, inception) = Author::incept(
        role,
        wallet::own_key(&master, role, 0),
        wallet::own_key(&master, role, 1),
        now,
    )
    .map_err(anyhow::Error::msg)?;
    ks.state.own = Some(OwnFeed {
        feed: author.feed().typed(role).to_string(),
        inception_ms: now,
        rotations: 0,
        dev_registrar: false,
    });
    ks.save()?;
    Ok((ks, author, inception))
}

/// The own feed's inception, rebuilt from the keystore (to resubmit it).
fn own_inception(ks: &consent_client::keystore::Keystore) -> anyhow::Result<consent_proto::Entry> {
    let own = ks.state.own.as_ref().context("this keystore has no feed")?;
    let (_, e) = Author::incept(
        ks.role(),
        ctx::own_key(ks, 0)?,
        ctx::own_key(ks, 1)?,
        own.inception_ms,
    )
    .map_err(anyhow::Error::msg)?;
    Ok(e)
}

pub async fn collector(cmd: Collector, g: &Global) -> anyhow::Result<()> {
    match cmd {
        Collector::Init { policy } => {
            let body = policy_file::load(&policy, 1)?;
            let size = policy_file::entry_size(&body);
            let mut node = g.connect().await?;
            let (ks, mut author, inception) = incept(g, Role::Collector)?;
            ctx::submit(&mut node, &inception, "collector inception").await?;
            let entry = author
                .append(time::now_ms(), body)
                .map_err(anyhow::Error::msg)?;
            ctx::submit(&mut node, &entry, "policy").await?;
            let id = author.feed().typed(Role::Collector).to_string();
            emit(
                g.json,
                format!(
                    "Collector created: {id}\nPolicy version 1 published: {} ({size} of at most {MAX_ENTRY_BYTES} bytes)\nKeystore: {}\nAsk a registrar to accredit {id}; until then every check answers deny.",
                    entry.id,
                    ks.path().display()
                ),
                json!({"collector": id, "policy": entry.id.to_string(), "version": 1, "keystore": ks.path().display().to_string(), "entry_bytes": size}),
            );
            Ok(())
        }
        Collector::Policy {
            cmd: PolicyCmd::Update { policy },
        } => {
            let mut ks = g.open(Role::Collector)?;
            let mut node = g.connect().await?;
            let mut author = ctx::own(&mut node, &mut ks).await?;
            let current = node
                .newest_policy(&author.feed())
                .await?
                .map(|(_, p)| p.version)
                .unwrap_or(0);
            let body = policy_file::load(&policy, current + 1)?;
            super::draft::refuse_unconsulted_widening(&mut node, &author.feed(), &body, &policy)
                .await?;
            let size = policy_file::entry_size(&body);
            let entry = author
                .append(time::now_ms(), body)
                .map_err(anyhow::Error::msg)?;
            ctx::submit(&mut node, &entry, "policy").await?;
            ks.save()?;
            emit(
                g.json,
                format!(
                    "Policy version {} published: {} ({size} of at most {MAX_ENTRY_BYTES} bytes)",
                    current + 1,
                    entry.id
                ),
                json!({"policy": entry.id.to_string(), "version": current + 1, "entry_bytes": size}),
            );
            Ok(())
        }
        Collector::Policy {
            cmd:
                PolicyCmd::Draft {
                    policy,
                    days,
                    closes,
                },
        } => super::draft::draft(&policy, days, closes.as_deref(), g).await,
        Collector::Respond(a) => super::draft::respond(a, g).await,
        Collector::Inbox => inbox(g).await,
        Collector::Ack {
            request,
            done,
            refused,
        } => {
            let target = entry_arg("<request-or-revocation-id>", &request)?;
            let answer = match (done, refused) {
                (true, None) => AckAnswer::Done,
                (false, Some(reason)) => AckAnswer::Refused(reason),
                _ => bail!("say --done or --refused REASON"),
            };
            let mut ks = g.open(Role::Collector)?;
            let mut node = g.connect().await?;
            if node.entry(&target).await?.is_none() {
                bail!("the node knows no entry {request}");
            }
            let mut author = ctx::own(&mut node, &mut ks).await?;
            let outcome = if matches!(answer, AckAnswer::Done) {
                "done"
            } else {
                "refused"
            };
            let entry = author
                .append(
                    time::now_ms(),
                    Body::Ack(Ack {
                        request: target,
                        answer,
                    }),
                )
                .map_err(anyhow::Error::msg)?;
            ctx::submit(&mut node, &entry, "ack").await?;
            ks.save()?;
            emit(
                g.json,
                format!("Acknowledged {request} ({outcome}). Ack id: {}", entry.id),
                json!({"ack": entry.id.to_string(), "request": request, "outcome": outcome}),
            );
            Ok(())
        }
    }
}

/// `collector inbox`: reads the collector's watch stream from the start up to the node's
/// position (the first heartbeat), keeps requests and erase-revocations, and leaves out those
/// its own feed has acknowledged.
async fn inbox(g: &Global) -> anyhow::Result<()> {
    use futures::StreamExt;
    use std::collections::HashSet;

    let mut ks = g.open(Role::Collector)?;
    let mut node = g.connect().await?;
    let author = ctx::own(&mut node, &mut ks).await?;
    let me = author.feed();
    let answered: HashSet<consent_proto::EntryId> = node
        .feed(&me)
        .await?
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Ack(a) => Some(a.request),
            _ => None,
        })
        .collect();
    let mut session =
        Session::connect_with(node.url(), author.key().clone(), me, node.tls()).await?;
    let mut stream = session.watch(Bytes::new(), 1_000).await?;
    let mut open = Vec::new();
    while let Some(event) = stream.next().await {
        let event =
            event.map_err(|s| anyhow::anyhow!("the watch stream failed: {}", s.message()))?;
        let kind = event.kind();
        if kind == pb::WatchKind::Heartbeat {
            break;
        }
        let wanted =
            kind == pb::WatchKind::Request || (kind == pb::WatchKind::Revoke && event.erase);
        let Some(signed) = event.entry.as_ref() else {
            continue;
        };
        let Ok(entry) = consent_proto::Entry::from_signed(signed) else {
            continue;
        };
        if wanted && !answered.contains(&entry.id) {
            open.push(entry);
        }
    }
    if open.is_empty() && !g.json {
        ctx::out("Nothing to answer: every request and erasure demand has an ack.");
    }
    for e in &open {
        let what = match &e.body {
            Body::Request(r) => format!("{} request", r.kind.name()),
            _ => "erasure (with a revocation)".to_string(),
        };
        emit(
            g.json,
            format!(
                "{}  {}  {what} from {}\n    answer: consent collector ack {} --done   (or --refused REASON)",
                e.id,
                time::format(e.time_ms),
                e.feed.typed(Role::Citizen),
                e.id
            ),
            json!({
                "id": e.id.to_string(),
                "time": time::format(e.time_ms),
                "kind": e.body.kind().name(),
                "request": match &e.body { Body::Request(r) => Some(r.kind.name()), _ => None },
                "subject": e.feed.typed(Role::Citizen).to_string(),
            }),
        );
    }
    Ok(())
}
