//! Collectors' and registrars' commands: `collector init | policy update | policy draft | inbox
//! | ack | respond`, `registrar init | accredit | suspend | decide`, and `check`. Consultations'
//! own commands are in `draft.rs` and `decide.rs`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use consent_client::collector::Collector as Session;
use consent_client::keystore::OwnFeed;
use consent_client::{policy_file, time, wallet};
use consent_proto::body::{Accreditation, Ack, AckAnswer, Body, Suspension};
use consent_proto::entry::Author;
use consent_proto::limits::MAX_ENTRY_BYTES;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory, Form, Purpose, Role, SensorKind};
use prost::bytes::Bytes;
use serde_json::json;

use crate::ctx::{self, Global, emit, entry_arg, feed_arg};

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
    Decide(super::decide::DecideArgs),
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
        Registrar::Decide(a) => super::decide::decide(a, g).await,
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

/// `consent check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Subject id (cit1...): the citizen's pairwise id for this collector.
    #[arg(long)]
    pub subject: String,
    /// Collector id (col1...): optional, must be the keystore's own (a collector checks only
    /// for itself; the check runs in a session signed with the keystore's current key).
    #[arg(long)]
    pub collector: Option<String>,
    /// Purpose, e.g. service-provision.
    #[arg(long)]
    pub purpose: String,
    /// Data category, e.g. vehicle.
    #[arg(long)]
    pub category: String,
    /// The time asked about (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// Ask for the decision signed by the node, with its log evidence, and write it to this file
    /// (check it anywhere with `consent verify-receipt FILE`).
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// The observation's context, which a scoped policy or grant needs: the sensor that made it
    /// (its id in the policy), with --sensor-kind.
    #[arg(long, value_name = "ID")]
    pub sensor: Option<u32>,
    /// The kind of that sensor, as the policy declares it (e.g. air-quality), with --sensor: a
    /// grant is judged in the policy version it names, where the id may be another kind of
    /// sensor, so the node allows only when the kinds agree.
    #[arg(long, value_name = "KIND")]
    pub sensor_kind: Option<String>,
    /// Where it was made: an H3 cell in hex, of any resolution at least the zone's.
    #[arg(long, value_name = "HEX")]
    pub cell: Option<String>,
    /// When it was made (2027-01-31T08:30:00Z, or now).
    #[arg(long, value_name = "TIME")]
    pub observed: Option<String>,
    /// The form the data will be kept in: raw, pseudonymised, binned or aggregated.
    #[arg(long, value_name = "FORM")]
    pub form: Option<String>,
}

/// The `--sensor/--sensor-kind/--cell/--observed/--form` flags as the check's context; `None`
/// when none is given (a check without context, as before scopes existed). A sensor is given
/// with its kind or not at all.
fn observation(a: &CheckArgs) -> anyhow::Result<Option<pb::ObservationContext>> {
    if a.sensor.is_none()
        && a.sensor_kind.is_none()
        && a.cell.is_none()
        && a.observed.is_none()
        && a.form.is_none()
    {
        return Ok(None);
    }
    if a.sensor == Some(0) {
        bail!("--sensor: sensor ids start at 1");
    }
    let sensor_kind = a
        .sensor_kind
        .as_deref()
        .map(SensorKind::from_name)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--sensor-kind: {e}"))?;
    match (a.sensor, sensor_kind) {
        (Some(id), None) => bail!(
            "--sensor {id} needs --sensor-kind, the kind of that sensor as your policy declares \
             it (a grant under another policy version may give id {id} to another kind)"
        ),
        (None, Some(kind)) => bail!("--sensor-kind {kind} needs --sensor, the sensor's id"),
        _ => {}
    }
    let cell = a
        .cell
        .as_deref()
        .map(policy_file::parse_cell)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--cell: {e}"))?;
    let observed_ms = match a.observed.as_deref().map(str::trim) {
        None => 0,
        Some("now") => time::now_ms(),
        Some(t) => time::parse(t).map_err(|e| anyhow::anyhow!("--observed: {e}"))?,
    };
    let form = a
        .form
        .as_deref()
        .map(Form::from_name)
        .transpose()?
        .map_or(0, |f| f as i32);
    Ok(Some(pb::ObservationContext {
        sensor: a.sensor.unwrap_or(0),
        sensor_kind: sensor_kind.map_or(0, |k| k as i32),
        cell: cell.map_or(0, |c| c.raw()),
        observed_ms,
        form,
    }))
}

pub async fn check(a: CheckArgs, g: &Global) -> anyhow::Result<()> {
    let subject = feed_arg("--subject", &a.subject, Role::Citizen)?;
    let context = observation(&a)?;
    let purpose = Purpose::from_name(&a.purpose)?;
    let category = DataCategory::from_name(&a.category)?;
    let at_ms =
        a.at.as_deref()
            .map(time::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?
            .unwrap_or(0);
    let mut ks = g.open(Role::Collector)?;
    let mut node = g.connect().await?;
    let author = ctx::own(&mut node, &mut ks).await?;
    let me = author.feed();
    if let Some(named) = &a.collector {
        let named = feed_arg("--collector", named, Role::Collector)?;
        if named != me {
            bail!(
                "this keystore is collector {}; a collector checks only for itself (use that collector's keystore)",
                me.typed(Role::Collector)
            );
        }
    }
    let mut collector =
        Session::connect_with(node.url(), author.key().clone(), me, node.tls()).await?;
    let r = collector
        .check_request(pb::CheckRequest {
            subject: Bytes::copy_from_slice(&subject.0),
            collector: Bytes::copy_from_slice(&me.0),
            purpose: purpose as i32,
            category: category as i32,
            at_ms,
            receipt: a.receipt.is_some(),
            context,
            ..Default::default()
        })
        .await?;
    if let Some(path) = &a.receipt {
        let receipt = r
            .receipt
            .as_ref()
            .context("the node answered without the receipt it was asked for")?;
        let file = pb::ReceiptFile {
            receipt: Some(pb::receipt_file::Receipt::Decision(receipt.clone())),
        };
        std::fs::write(path, prost::Message::encode_to_vec(&file))
            .with_context(|| format!("cannot write the receipt to {}", path.display()))?;
    }
    let decision = match r.decision() {
        pb::Decision::Allow => "allow",
        _ => "deny",
    };
    let reason = r
        .reason()
        .as_str_name()
        .trim_start_matches("REASON_")
        .to_ascii_lowercase()
        .replace('_', "-");
    let grant = consent_proto::EntryId::from_slice(&r.grant)
        .ok()
        .map(|g| g.to_string());
    let head = consent_proto::EntryId::from_slice(&r.subject_head)
        .ok()
        .map(|g| g.to_string());
    let when = match r.when() {
        pb::QuestionTime::Past => format!(" about {}: a past question", time::format(r.at_ms)),
        pb::QuestionTime::Future => format!(" about {}: a future question", time::format(r.at_ms)),
        _ => String::new(),
    };
    // The form to transform the data to (then check again with it), when the grant names one.
    let required = Form::from_wire(r.required_form).map(|f| f.name());
    // A grant a delegate signed in the subject's name: the delegation it rests on.
    let delegated = r
        .delegated
        .as_ref()
        .and_then(consent_proto::delegation::DelegationUsed::from_wire);
    let delegated_json = delegated.map(|d| {
        json!({
            "delegation": d.delegation.to_string(),
            "delegate": d.delegate.typed(Role::Citizen).to_string(),
            "kind": d.kind.name(),
            "endorsement": d.endorsement.map(|e| e.to_string()),
        })
    });
    emit(
        g.json,
        format!(
            "{decision} ({reason}){}{when}{}{}",
            grant
                .as_ref()
                .map(|g| if r.decision() == pb::Decision::Allow {
                    format!(", grant {g}")
                } else {
                    // A deny names the grant closest to the question, which does not allow it.
                    format!(", nearest grant {g}")
                })
                .unwrap_or_default(),
            required
                .map(|f| format!("; required form: {f}"))
                .unwrap_or_default(),
            delegated
                .map(|d| format!(
                    "; signed by {} {} under delegation {}",
                    if d.kind == consent_proto::vocab::DelegationKind::Guardian {
                        "a guardian,"
                    } else {
                        "an assistant,"
                    },
                    d.delegate.typed(Role::Citizen),
                    d.delegation
                ))
                .unwrap_or_default()
        ),
        json!({
            "delegated": delegated_json,
            "decision": decision,
            "reason": reason,
            "grant": grant,
            "subject_head": head,
            "subject_head_seq": r.subject_head_seq,
            "log_size": r.log_size,
            "at": time::format(r.at_ms),
            "question_time": r
                .when()
                .as_str_name()
                .trim_start_matches("QUESTION_TIME_")
                .to_ascii_lowercase(),
            "required_form": required,
        }),
    );
    Ok(())
}
