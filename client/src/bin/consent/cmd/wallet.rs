//! `consent wallet init | id | rotate | recover`.

use anyhow::Context;
use clap::Subcommand;
use consent_client::keystore::{self, OwnFeed};
use consent_client::wallet;
use consent_proto::ids::TypedFeedId;
use consent_proto::vocab::Role;
use serde_json::json;

use crate::ctx::{self, Global, emit, feed_arg};

/// Citizen wallet.
#[derive(Subcommand, Debug)]
pub enum Wallet {
    /// Create an encrypted wallet and print its recovery key (once).
    Init,
    /// Print the subject id to hand to a collector (your pairwise id for that collector only).
    Id {
        /// Collector id (col1...).
        collector: String,
    },
    /// Rotate keys to the pre-committed next keys (every feed of this keystore).
    Rotate,
    /// Compare what nodes hold of your feeds: alert on entries in your name this wallet did not
    /// sign, on a node lacking one of your revocations, on nodes that disagree (exit 1).
    Monitor(super::monitor::MonitorArgs),
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
        Wallet::Init => init(g),
        Wallet::Id { collector } => id(&collector, g),
        Wallet::Rotate => rotate(g).await,
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
    let master = *ks.master();
    let mut rotated = Vec::new();
    if ks.role() == Role::Citizen {
        let collectors: Vec<String> = ks.state.pairwise.keys().cloned().collect();
        for c in collectors {
            let collector = TypedFeedId::parse_role(&c, Role::Collector)?;
            let mut author = ctx::pairwise(&mut node, &mut ks, &collector).await?;
            let r = ks.state.pairwise.get(&c).map(|f| f.rotations).unwrap_or(0);
            let entry = author
                .rotate(
                    consent_client::time::now_ms(),
                    wallet::pairwise_key(&master, &collector, r + 2),
                )
                .map_err(anyhow::Error::msg)?;
            ctx::journal(&mut ks, &collector, &entry)?;
            ctx::submit(&mut node, &entry, "rotation").await?;
            ks.state.pairwise.entry(c.clone()).or_default().rotations = r + 1;
            ks.save()?;
            rotated.push(author.feed().typed(Role::Citizen).to_string());
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
            "Rotated {} feed(s) to their pre-committed next keys: {}",
            rotated.len(),
            rotated.join(", ")
        ),
        json!({"rotated": rotated}),
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
    let master = keystore::parse_recovery_key(&text).map_err(anyhow::Error::msg)?;
    let mut node = g.connect().await?;
    let mut ks = g.create(role, Some(master))?;
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
