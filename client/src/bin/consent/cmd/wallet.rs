//! `consent wallet init | id | rotate | monitor | recover`, the privacy commands (`privacy`,
//! `prepare`: `privacy.rs`), and the delegation commands
//! (`delegate-offer`, `delegate`, `undelegate`: `delegation.rs`; `delegations`:
//! `delegations.rs`) and a child's
//! (`init --child`, `export --for-child`, `takeover`: `child.rs`).

use anyhow::Context;
use clap::Subcommand;
use consent_client::keystore::{self, OwnFeed};
use consent_client::privacy::coarse::Exactness;
use consent_client::wallet;
use consent_proto::ids::TypedFeedId;
use consent_proto::vocab::Role;
use serde_json::json;

use crate::ctx::{self, Global, emit, feed_arg};
use crate::outbox::{Fate, Item, Outbox};

/// Citizen wallet.
#[derive(Subcommand, Debug)]
pub enum Wallet {
    /// Create an encrypted wallet and print its recovery key (once); with --child, a wallet for
    /// a child you are guardian of.
    Init(super::child::ChildArgs),
    /// Print the subject id to hand to a collector (your pairwise id for that collector only:
    /// no id, key or field of the public ledger links it to your ids with other collectors).
    Id {
        /// Collector id (col1...).
        collector: String,
    },
    /// Rotate keys to the pre-committed next keys (every feed of this keystore that signed
    /// something, delegate feeds included). With the privacy setting's spread on, each pairwise
    /// feed's rotation is queued and sent at its own random moment (so that the rotations do not
    /// link your feeds), and until it is sent nodes still take the old key as current. After a
    /// key may have leaked: `consent --now wallet rotate`, sent at once.
    Rotate,
    /// How your pairwise feeds are kept unlinkable: coarse signed times, a spread send, a node
    /// per feed; with no option, shows the setting.
    ///
    /// What pairwise feeds protect: each collector knows you by a subject id of its own, and no
    /// id, key or field of the public ledger links two of your feeds, so collectors cannot match
    /// their records through it. What they do not protect by themselves: entries you sign and
    /// send together can be linked by their times and their arrival; the nodes you connect to see
    /// your network address and when you connect (only Tor or a mix network hides that); each
    /// collector sees its own subjects and what it records about them. The default (times
    /// rounded to 15 minutes, each feed's entries sent at a random moment within 30 minutes, from
    /// a queue that survives the command: see `consent queue`) reduces the first, it does not
    /// remove it (docs/privacy.md measures what is left); a grant is then in force from the
    /// first multiple of the granularity after it is sent, and only once it is sent, which
    /// happens only when a consent command runs then (run `consent queue` from a timer).
    /// Revocations, opt-outs, erasure and restriction requests always leave at once.
    ///
    /// Keep the default unless you need otherwise: a setting few wallets use marks your entries
    /// (every time a multiple of an unusual granularity, exact times among coarse ones), so that
    /// your feeds stand out together.
    Privacy(super::privacy::PrivacyArgs),
    /// Create the pairwise feeds you may need ahead of use (their inceptions sent at random
    /// moments over a day), so that a feed's creation says nothing about when you use it. Each
    /// inception is sent only when a consent command runs after its moment: set up a timer
    /// running `consent queue` first (README, Privacy).
    Prepare(super::privacy::PrepareArgs),
    /// Compare what nodes hold of your feeds: alert on entries in your name this wallet did not
    /// sign, on a node lacking one of your revocations, on nodes that disagree (exit 1). It sends
    /// what the send queue has due first. Not for a timer: each run asks every node given with
    /// --at for every one of your feeds, from your address (use `consent queue` in a timer).
    Monitor(super::monitor::MonitorArgs),
    /// Let someone act for you: reserve fresh delegate feeds for one person, and print the code
    /// to give them (you then act with --as NAME).
    DelegateOffer(super::delegation::OfferArgs),
    /// Let the holder of a code act in your name (grant, revoke, request), for your collectors.
    Delegate(super::delegation::DelegateArgs),
    /// Delegations you gave, delegations you hold, and grants awaiting your endorsement.
    Delegations(super::delegations::DelegationsArgs),
    /// End delegations you gave, or resign from ones you hold.
    Undelegate(super::delegation::UndelegateArgs),
    /// Hand a child its keystore (under a new passphrase); this wallet forgets the child's keys.
    Export(super::child::ExportArgs),
    /// A child's first command after the handover: move every feed to keys only this wallet
    /// holds (prints the new recovery key).
    Takeover,
    /// Rebuild a lost keystore from its recovery key (asked for, or from CONSENT_RECOVERY_KEY).
    Recover {
        /// The keystore's role.
        #[arg(long, default_value = "citizen")]
        role: String,
        /// A collector you had consents with (repeat); its feed is found again on the node.
        #[arg(long = "collector")]
        collectors: Vec<String>,
        /// For a collector or registrar keystore: its feed id.
        #[arg(long)]
        feed: Option<String>,
    },
}

pub async fn run(cmd: Wallet, g: &Global) -> anyhow::Result<()> {
    match cmd {
        Wallet::Monitor(a) => super::monitor::monitor(a, g).await,
        Wallet::Init(a) if a.child => super::child::init(a, g),
        Wallet::Init(_) => init(g),
        Wallet::DelegateOffer(a) => super::delegation::make_offer(a, g),
        Wallet::Delegate(a) => super::delegation::delegate(a, g).await,
        Wallet::Delegations(a) => super::delegations::delegations(a, g).await,
        Wallet::Undelegate(a) => super::delegation::undelegate(a, g).await,
        Wallet::Export(a) => super::child::export(a, g),
        Wallet::Takeover => super::child::takeover(g).await,
        Wallet::Id { collector } => id(&collector, g),
        Wallet::Rotate => rotate(g).await,
        Wallet::Privacy(a) => super::privacy::privacy(a, g),
        Wallet::Prepare(a) => super::privacy::prepare(a, g).await,
        Wallet::Recover {
            role,
            collectors,
            feed,
        } => recover(&role, &collectors, feed, g).await,
    }
}

/// `consent wallet init`: a new citizen keystore, and its recovery key shown once.
fn init(g: &Global) -> anyhow::Result<()> {
    let ks = g.create(Role::Citizen, None)?;
    let recovery = keystore::recovery_key(ks.master());
    emit(
        g.json,
        format!(
            "Wallet created at {} (encrypted, mode 0600).\n\nRecovery key — write it down and keep it offline; it is shown only once\nand restores everything with `consent wallet recover`:\n\n    {}\n",
            ks.path().display(),
            recovery.as_str()
        ),
        json!({"keystore": ks.path().display().to_string(), "role": "citizen", "recovery_key": recovery.as_str()}),
    );
    Ok(())
}

/// `consent wallet id`: the pairwise subject id for one collector.
fn id(collector: &str, g: &Global) -> anyhow::Result<()> {
    let collector = feed_arg("<collector>", collector, Role::Collector)?;
    let ks = g.open(Role::Citizen)?;
    let subject = wallet::pairwise_feed(ks.master(), &collector)
        .typed(Role::Citizen)
        .to_string();
    emit(
        g.json,
        &subject,
        json!({"collector": collector.typed(Role::Collector).to_string(), "subject": subject}),
    );
    Ok(())
}

/// `consent wallet rotate`: every feed of the keystore to its pre-committed next key.
async fn rotate(g: &Global) -> anyhow::Result<()> {
    let mut node = g.connect().await?;
    let path = g.keystore_path();
    let passphrase = ctx::passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
    let mut ks = keystore::Keystore::open(&path, &passphrase)?;
    let mut rotated = Vec::new();
    let mut queued = Vec::new();
    if ks.role() == Role::Citizen {
        // Signed now, each feed sent at its own moment of the privacy setting's window (after
        // its queued entries; a feed no node and no queue knows has nothing to rotate).
        let mut out = Outbox::open(g, &mut ks, &node, false).await?;
        let now = consent_client::time::now_ms();
        let mut items = Vec::new();
        // Each feed's key count before its rotation: counted up only once the rotation is
        // queued or sent (a count ahead of the feed's key could sign a withdrawal with a key the
        // feed does not have, when it is chained after queued entries its node cannot check).
        let mut counts: Vec<(String, u32)> = Vec::new();
        let collectors: Vec<String> = ks.state.pairwise.keys().cloned().collect();
        for c in collectors {
            let collector = TypedFeedId::parse_role(&c, Role::Collector)?;
            let feed = wallet::pairwise_feed(ks.master(), &collector);
            let mut feed_node = out.nodes.for_feed(&ks, &feed, false).await?;
            // A feed holding nothing but its inception (prepared, or never used) signs nothing
            // worth a new key, and its rotation would publish it, linked to the others by the
            // rotation's time.
            let queued_past_inception = out.queued_in(&ks, &feed)?.iter().any(|(e, _)| e.seq > 0);
            let used =
                queued_past_inception || feed_node.head(&feed).await?.is_some_and(|h| h.seq > 0);
            if !used {
                continue;
            }
            let resumed = out
                .author(&mut feed_node, &mut ks, &collector, false)
                .await?;
            let mut author = resumed.author;
            let r = ks.state.pairwise.get(&c).map(|f| f.rotations).unwrap_or(0);
            let entry = author
                .rotate(
                    out.signed_time(now, resumed.prev_ms, Exactness::Coarse),
                    ctx::pairwise_key(&ks, &collector, r + 2),
                )
                .map_err(anyhow::Error::msg)?;
            ctx::journal(&mut ks, &collector, &entry)?;
            counts.push((c.clone(), r));
            items.push(Item {
                entry,
                collector,
                what: "rotation",
                at_once: false,
            });
        }
        let feeds: Vec<String> = items
            .iter()
            .map(|it| it.entry.feed.typed(Role::Citizen).to_string())
            .collect();
        let fates = out.dispatch(g, &ks, items).await.context(
            "the rotations could not all be queued or sent, so this wallet still counts the keys \
             it had (the next command reads each feed's current key from its node); run consent \
             wallet rotate again",
        )?;
        for (c, r) in counts {
            ks.state.pairwise.entry(c).or_default().rotations = r + 1;
        }
        ks.save()?;
        for (feed, fate) in feeds.into_iter().zip(fates) {
            match fate {
                Fate::Sent { .. } => rotated.push(feed),
                Fate::Queued { due_ms, .. } => {
                    queued.push(
                        json!({"feed": feed, "send_at": consent_client::time::format(due_ms)}),
                    );
                    rotated.push(feed);
                }
            }
        }
        // Delegate feeds in use (one no node knows yet has signed nothing).
        let slots: Vec<u32> = ks.state.slots.keys().copied().collect();
        for slot in slots {
            let feed = crate::delegates::slot_feed(&ks, slot);
            if node.head(&feed).await?.is_none() {
                continue;
            }
            let mut author = crate::delegates::slot_author(&mut node, &mut ks, slot, false).await?;
            let r = ks.state.slots.get(&slot).map_or(0, |s| s.rotations);
            let next = consent_client::delegate::slot_key(ks.master(), slot, r + 2);
            let entry = author
                .rotate(consent_client::time::now_ms(), next)
                .map_err(anyhow::Error::msg)?;
            crate::delegates::journal_slot(&mut ks, slot, &entry)?;
            crate::send::submit_recorded_as(
                &mut node,
                &ks,
                &crate::delegates::slot_label(slot),
                &[(&entry, "rotation")],
            )
            .await?;
            if let Some(s) = ks.state.slots.get_mut(&slot) {
                s.rotations = r + 1;
            }
            ks.save()?;
            rotated.push(feed.typed(Role::Citizen).to_string());
        }
    } else {
        let role = ks.role();
        let mut author = ctx::own(&mut node, &mut ks).await?;
        let r = ks.state.own.as_ref().map(|o| o.rotations).unwrap_or(0);
        let entry = author
            .rotate(consent_client::time::now_ms(), ctx::own_key(&ks, r + 2)?)
            .map_err(anyhow::Error::msg)?;
        ctx::submit(&mut node, &entry, "rotation").await?;
        if let Some(o) = ks.state.own.as_mut() {
            o.rotations = r + 1;
        }
        ks.save()?;
        rotated.push(author.feed().typed(role).to_string());
    }
    emit(
        g.json,
        format!(
            "Rotated {} feed(s) to their pre-committed next keys: {}{}",
            rotated.len(),
            rotated.join(", "),
            if queued.is_empty() {
                String::new()
            } else {
                format!(
                    "\n{} of the rotations are queued, each sent at its own moment (consent queue \
                     shows them); until then a node still knows the old key as current.",
                    queued.len()
                )
            }
        ),
        json!({"rotated": rotated, "queued": queued}),
    );
    Ok(())
}

/// `consent wallet recover`: a keystore rebuilt from its recovery key and what the node holds.
async fn recover(
    role: &str,
    collectors: &[String],
    feed: Option<String>,
    g: &Global,
) -> anyhow::Result<()> {
    let role = Role::from_name(role)?;
    let text = match std::env::var("CONSENT_RECOVERY_KEY") {
        Ok(t) => zeroize::Zeroizing::new(t),
        Err(_) => zeroize::Zeroizing::new(
            rpassword::prompt_password("Recovery key: ")
                .context("cannot read the recovery key (or set CONSENT_RECOVERY_KEY)")?,
        ),
    };
    let recovered = keystore::parse_recovery(&text).map_err(anyhow::Error::msg)?;
    let mut node = g.connect().await?;
    let mut ks = g.create(role, Some(recovered.master))?;
    if let Some(successor) = recovered.successor {
        ks.set_successor(successor);
        ks.save()?;
    }
    let mut found = Vec::new();
    if role == Role::Citizen {
        for c in collectors {
            let collector = feed_arg("--collector", c, Role::Collector)?;
            let subject = wallet::pairwise_feed(ks.master(), &collector);
            if node.head(&subject).await?.is_some() {
                ctx::pairwise(&mut node, &mut ks, &collector).await?;
                found.push(subject.typed(Role::Citizen).to_string());
            }
        }
        found.extend(recover_slots(&mut node, &mut ks).await?);
    } else {
        let feed_text =
            feed.context("a collector or registrar keystore needs --feed <its feed id>")?;
        let feed_id = feed_arg("--feed", &feed_text, role)?;
        let inception = node
            .feed(&feed_id)
            .await?
            .into_iter()
            .next()
            .context("the node does not know that feed")?;
        ks.state.own = Some(OwnFeed {
            feed: feed_text.clone(),
            inception_ms: inception.time_ms,
            rotations: 0,
            dev_registrar: false,
        });
        ctx::own(&mut node, &mut ks).await?;
        found.push(feed_text);
    }
    ks.save()?;
    emit(
        g.json,
        format!(
            "Keystore restored at {} with {} feed(s) found on the node: {}",
            ks.path().display(),
            found.len(),
            found.join(", ")
        ),
        json!({"keystore": ks.path().display().to_string(), "role": role.name(), "feeds": found}),
    );
    Ok(())
}

/// Finds this wallet's delegate feeds again: slot by slot, until
/// [`consent_client::delegate::RECOVERY_GAP`] in a row are named by no delegation. Their names
/// are lost with the keystore: each comes back as `recovered-N` (act with --as and the person's
/// feed id, or that name).
async fn recover_slots(
    node: &mut consent_client::node::NodeConnection,
    ks: &mut keystore::Keystore,
) -> anyhow::Result<Vec<String>> {
    use consent_client::delegate::{RECOVERY_GAP, slot_feed};
    let mut found = Vec::new();
    let (mut slot, mut misses) = (0u32, 0u32);
    while misses < RECOVERY_GAP {
        let feed = slot_feed(ks.master(), slot);
        let listed = match node.list_delegations(&feed).await {
            Ok(l) => l,
            // A node from before delegation: there is nothing to find on it.
            Err(consent_client::node::ClientError::Refused {
                code: tonic::Code::Unimplemented,
                ..
            }) => break,
            Err(e) => return Err(e.into()),
        };
        if listed.is_empty() {
            misses += 1;
        } else {
            misses = 0;
            ks.state.slots.insert(
                slot,
                keystore::Slot {
                    label: format!("recovered-{slot}"),
                    ..keystore::Slot::default()
                },
            );
            found.push(feed.typed(Role::Citizen).to_string());
        }
        slot += 1;
    }
    ks.save()?;
    Ok(found)
}
