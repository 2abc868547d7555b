//! What every subcommand shares: global options, the keystore, the node connection, parsing
//! of ids with messages that name the argument, and output.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use consent_client::keystore::{DEFAULT_MEMORY_KIB, Keystore};
use consent_client::node::NodeConnection;
use consent_client::transport::TlsOptions;
use consent_client::wallet;
use consent_proto::Entry;
use consent_proto::entry::Author;
use consent_proto::ids::{EntryId, FeedId, TypedFeedId};
use consent_proto::pb;
use consent_proto::vocab::Role;
use zeroize::Zeroizing;

/// Global options.
#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// Node to talk to: http://host:port, or https://host:port for TLS.
    #[arg(
        long,
        global = true,
        env = "CONSENT_NODE",
        default_value = "http://127.0.0.1:50051"
    )]
    pub node: String,
    /// For an https:// node: the CA certificate (PEM) that signed the node's certificate
    /// (default: the system's trusted roots).
    #[arg(long, global = true, env = "CONSENT_CA_CERT", value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,
    /// For a node that requires one (mutual TLS): the client certificate (PEM), with
    /// --client-key.
    #[arg(long, global = true, env = "CONSENT_CLIENT_CERT", value_name = "PATH")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, env = "CONSENT_CLIENT_KEY", value_name = "PATH")]
    pub client_key: Option<PathBuf>,
    /// Keystore file (default: $XDG_DATA_HOME/consent-ledger/keystore.json or ~/.local/share/...).
    #[arg(long, global = true, env = "CONSENT_KEYSTORE")]
    pub keystore: Option<PathBuf>,
    /// Machine output: one JSON object per result (field names are stable; see README).
    #[arg(long, global = true)]
    pub json: bool,
    /// Argon2id memory cost for new keystores, KiB (at least 8192). Lower it only for scripts
    /// and tests on small machines: it is what makes guessing the passphrase expensive.
    #[arg(long, global = true, default_value_t = DEFAULT_MEMORY_KIB)]
    pub kdf_memory_kib: u32,
    /// Act in someone else's name, inside the delegation they gave you (grant, revoke, request,
    /// endorse): the name you gave with `wallet delegate-offer --name`, a child you are guardian
    /// of (`wallet init --child --name`), or the person's feed id (cit1...).
    #[arg(long = "as", global = true, value_name = "PERSON")]
    pub as_person: Option<String>,
    /// Sign with exact times and send at once, whatever the wallet's privacy setting (`consent
    /// wallet privacy`; also CONSENT_NOW=1): a grant is then in force at once, but its time and
    /// its arrival can link it to your other feeds. For a consent needed right away, and for
    /// scripts that grant and check at once. It changes only what this command signs: entries
    /// already queued leave at their moments (`consent queue --send-now` sends them now);
    /// `wallet prepare` refuses it.
    #[arg(long, global = true)]
    pub now: bool,
}

impl Global {
    /// `--now`, or `CONSENT_NOW` set to anything but empty, 0, false, no or off.
    pub fn now(&self) -> bool {
        self.now
            || std::env::var("CONSENT_NOW").is_ok_and(|v| {
                !matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "" | "0" | "false" | "no" | "off"
                )
            })
    }

    pub fn keystore_path(&self) -> PathBuf {
        if let Some(p) = &self.keystore {
            return p.clone();
        }
        default_keystore(|name| std::env::var_os(name))
    }

    pub async fn connect(&self) -> anyhow::Result<NodeConnection> {
        Ok(NodeConnection::connect_with(&self.node, &self.tls()?).await?)
    }

    /// The TLS settings of --ca-cert, --client-cert and --client-key.
    pub fn tls(&self) -> anyhow::Result<TlsOptions> {
        let client_cert = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            (Some(_), None) => {
                bail!("--client-cert needs --client-key (the certificate's private key)")
            }
            (None, Some(_)) => bail!("--client-key needs --client-cert (the certificate)"),
        };
        Ok(TlsOptions {
            ca_cert: self.ca_cert.clone(),
            client_cert,
            domain: None,
        })
    }

    /// Opens the keystore, checking it was made for `role`.
    pub fn open(&self, role: Role) -> anyhow::Result<Keystore> {
        let path = self.keystore_path();
        if !path.exists() {
            let how = match role {
                Role::Collector => "consent collector init --policy FILE",
                Role::Registrar => "consent registrar init",
                _ => "consent wallet init",
            };
            bail!(
                "no keystore at {}; create one with `{how}` (or pass --keystore)",
                path.display()
            );
        }
        let passphrase = passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
        let ks = Keystore::open(&path, &passphrase)?;
        if ks.role() != role {
            bail!(
                "the keystore {} belongs to a {}, but this command needs a {} keystore; pass --keystore",
                path.display(),
                ks.role(),
                role
            );
        }
        Ok(ks)
    }

    /// Creates a keystore for `role`.
    pub fn create(
        &self,
        role: Role,
        master: Option<Zeroizing<[u8; 32]>>,
    ) -> anyhow::Result<Keystore> {
        let path = self.keystore_path();
        if path.exists() {
            bail!(
                "a keystore already exists at {}; pass another --keystore, or move it away first",
                path.display()
            );
        }
        let passphrase = passphrase(&format!("New passphrase for {}: ", path.display()), true)?;
        Ok(Keystore::create(
            &path,
            role,
            &passphrase,
            self.kdf_memory_kib,
            master,
        )?)
    }
}

/// `$XDG_DATA_HOME/consent-ledger/keystore.json`, else under `$HOME/.local/share`, else `./`.
/// Set but empty counts as unset (the XDG rule): it must not make the path relative.
fn default_keystore(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let base = set("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("consent-ledger/keystore.json")
}

/// The passphrase from `CONSENT_PASSPHRASE`, or a hidden prompt (asked twice when `confirm`).
pub fn passphrase(prompt: &str, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    passphrase_from("CONSENT_PASSPHRASE", prompt, confirm)
}

/// A passphrase from the variable `var` (e.g. `CONSENT_CHILD_PASSPHRASE` for a child's
/// keystore), or a hidden prompt (asked twice when `confirm`).
pub fn passphrase_from(
    var: &str,
    prompt: &str,
    confirm: bool,
) -> anyhow::Result<Zeroizing<String>> {
    if let Ok(p) = std::env::var(var) {
        return Ok(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: set {var}, or run in a terminal to be asked");
    }
    let first =
        Zeroizing::new(rpassword::prompt_password(prompt).context("cannot read the passphrase")?);
    if confirm {
        if first.chars().count() < 8 {
            bail!("choose a passphrase of at least 8 characters");
        }
        let again = Zeroizing::new(
            rpassword::prompt_password("Repeat it: ").context("cannot read the passphrase")?,
        );
        if *again != *first {
            bail!("the two passphrases differ; nothing was created");
        }
    }
    Ok(first)
}

/// Parses a feed id argument of one role, naming the argument in the error.
pub fn feed_arg(name: &str, text: &str, role: Role) -> anyhow::Result<FeedId> {
    TypedFeedId::parse_role(text, role).map_err(|e| {
        anyhow::anyhow!(
            "argument {name}: {e}; copy the whole id as it was printed (a {} id starts with {}1)",
            role,
            consent_proto::ids::role_prefix(role)
        )
    })
}

/// Parses an entry id argument.
pub fn entry_arg(name: &str, text: &str) -> anyhow::Result<EntryId> {
    text.parse::<EntryId>().map_err(|e| {
        anyhow::anyhow!(
            "argument {name}: {e}; copy the whole id as it was printed (an entry id starts with ent1; \
             `consent history` and `consent list` show yours)"
        )
    })
}

/// Submits and requires the node to hold the entry afterwards.
pub async fn submit(
    node: &mut NodeConnection,
    entry: &Entry,
    what: &str,
) -> anyhow::Result<pb::SubmitResponse> {
    let r = node.submit(entry, what).await?;
    match r.status() {
        pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate => Ok(r),
        pb::SubmitStatus::Pending => bail!(
            "the node holds the {what} as pending: it does not yet know an entry it depends on ({}); \
             check the ids, or retry once that entry has reached the node",
            hex::encode(&r.missing)
        ),
        pb::SubmitStatus::Unspecified => bail!("the node gave no status for the {what}"),
    }
}

/// Loads the pairwise feed for `collector` at its head on the node, creating it (submitting its
/// inception) when the node does not know it. Finds the current key after a recovery.
pub async fn pairwise(
    node: &mut NodeConnection,
    ks: &mut Keystore,
    collector: &FeedId,
) -> anyhow::Result<Author> {
    pairwise_for(node, ks, collector, false).await
}

/// [`pairwise`] for a command that signs a `withdrawal` (a revocation, an opt-out, an erasure or
/// restriction request): queued entries held for a conflict do not stop it.
pub async fn pairwise_for(
    node: &mut NodeConnection,
    ks: &mut Keystore,
    collector: &FeedId,
    withdrawal: bool,
) -> anyhow::Result<Author> {
    // Queued entries of this feed go first, to this node; a node behind what this wallet had
    // accepted is brought up to date, or refused (signing on its head would fork the feed).
    crate::send::before_signing(node, ks, collector, withdrawal).await?;
    let master = *ks.master();
    let key = TypedFeedId {
        role: Role::Collector,
        id: *collector,
    }
    .to_string();
    let rotations = ks
        .state
        .pairwise
        .get(&key)
        .map(|f| f.rotations)
        .unwrap_or(0);
    let recorded_successor = ks.state.pairwise.get(&key).and_then(|f| f.successor_from);
    let successor = ks.successor().copied();
    let (_, inception) =
        wallet::pairwise_inception(&master, collector).map_err(anyhow::Error::msg)?;
    let mut known = node.head(&inception.feed).await?;
    // Never a new start of a feed a node accepted entries of (a fork once the nodes meet): the
    // node is brought up to date, or nothing is signed.
    if known.is_none() && crate::send::unknown_feed(node, ks, collector, &inception.feed).await? {
        known = node.head(&inception.feed).await?;
    }
    let head = match known {
        Some(h) => h,
        None => {
            let state = ks.state.pairwise.entry(key.clone()).or_default();
            state.journal_from.get_or_insert(0);
            if !state.signed.contains(&inception.id.to_string()) {
                state.signed.push(inception.id.to_string());
            }
            ks.save()?;
            crate::send::submit_recorded(node, ks, collector, &[(&inception, "feed inception")])
                .await?;
            node.head(&inception.feed)
                .await?
                .context("the node lost the inception it just accepted")?
        }
    };
    // Which master secret signs now: the one recorded, else the other (after a recovery).
    let on = |secret: [u8; 32], from: u32| {
        current_rotation(&head.signing_key, from, |n| {
            wallet::pairwise_key(&secret, collector, n)
                .public()
                .to_bytes()
        })
    };
    let found = match (successor, recorded_successor) {
        (Some(s), Some(_)) => on(s, rotations).map(|n| (Some(s), n)),
        _ => on(master, rotations).map(|n| (None, n)),
    }
    .or_else(|| successor.and_then(|s| on(s, 0).map(|n| (Some(s), n))))
    .or_else(|| on(master, 0).map(|n| (None, n)));
    let (signer, rotations) = found.context(
        "this wallet does not hold the current key of that feed (was it rotated elsewhere?)",
    )?;
    let successor_from = match (signer, recorded_successor) {
        (None, _) => None,
        (Some(_), Some(from)) => Some(from),
        // Recovered with a v2 key: the first master's keys are those before the successor's.
        (Some(_), None) => {
            let entries = node.feed(&inception.feed).await?;
            let rotated = entries
                .iter()
                .filter(|e| matches!(e.body, consent_proto::body::Body::Rotation(_)))
                .count() as u32;
            Some(rotated.saturating_sub(rotations + 1))
        }
    };
    let state = ks.state.pairwise.entry(key).or_default();
    state.rotations = rotations;
    state.successor_from = successor_from;
    // Journal what this keystore signs from here on (the monitor tells its entries apart).
    state.journal_from.get_or_insert(head.seq + 1);
    let head_id = EntryId::from_slice(&head.head).context("the node sent a malformed head")?;
    let secret = signer.unwrap_or(master);
    Ok(Author::resume(
        Role::Citizen,
        wallet::pairwise_key(&secret, collector, rotations),
        wallet::pairwise_key(&secret, collector, rotations + 1),
        inception.feed,
        head.seq,
        head_id,
    ))
}

/// Key `n` of this keystore's pairwise feed for `collector`: derived from the successor master
/// secret once the feed was taken over (`consent wallet takeover`), else from the master secret.
pub fn pairwise_key(ks: &Keystore, collector: &FeedId, n: u32) -> consent_proto::keys::SecretKey {
    let taken_over = ks
        .state
        .pairwise
        .get(&collector.typed(Role::Collector).to_string())
        .is_some_and(|f| f.successor_from.is_some());
    match ks.successor() {
        Some(successor) if taken_over => wallet::pairwise_key(successor, collector, n),
        _ => wallet::pairwise_key(ks.master(), collector, n),
    }
}

/// Records, before it is submitted, that this keystore signed `entry` in its pairwise feed with
/// `collector` (see `consent wallet monitor`).
pub fn journal(
    ks: &mut Keystore,
    collector: &FeedId,
    entry: &consent_proto::Entry,
) -> anyhow::Result<()> {
    let key = collector.typed(Role::Collector).to_string();
    ks.state
        .pairwise
        .entry(key)
        .or_default()
        .signed
        .push(entry.id.to_string());
    Ok(ks.save()?)
}

/// Which key number signs now: the recorded one, or a later one (after a recovery).
pub fn current_rotation(
    signing_key: &[u8],
    recorded: u32,
    key: impl Fn(u32) -> [u8; 32],
) -> Option<u32> {
    (recorded..recorded + 64)
        .chain(0..recorded)
        .find(|n| key(*n).as_slice() == signing_key)
}

/// Loads a collector's or registrar's own feed at its head.
pub async fn own(node: &mut NodeConnection, ks: &mut Keystore) -> anyhow::Result<Author> {
    let role = ks.role();
    let own = ks
        .state
        .own
        .clone()
        .context("this keystore has no feed yet")?;
    let feed = TypedFeedId::parse_role(&own.feed, role)?;
    let head = node.head(&feed).await?.with_context(|| {
        format!(
            "the node at {} does not know {}; was it created on another network?",
            node.url(),
            own.feed
        )
    })?;
    let rotations = current_rotation(&head.signing_key, own.rotations, |n| {
        own_key(ks, n).map_or([0; 32], |k| k.public().to_bytes())
    })
    .context("this keystore does not hold the feed's current key")?;
    if let Some(o) = ks.state.own.as_mut() {
        o.rotations = rotations;
    }
    let head_id = EntryId::from_slice(&head.head).context("the node sent a malformed head")?;
    Ok(Author::resume(
        role,
        own_key(ks, rotations)?,
        own_key(ks, rotations + 1)?,
        feed,
        head.seq,
        head_id,
    ))
}

/// Key `n` of the keystore's own feed: derived from its secret, or, for the built-in dev
/// network's registrar, one of its two public keys.
pub fn own_key(ks: &Keystore, n: u32) -> anyhow::Result<consent_proto::keys::SecretKey> {
    if ks.state.own.as_ref().is_some_and(|o| o.dev_registrar) {
        return consent_proto::dev::registrar_key(n).context(
            "the dev registrar's keys are public and fixed: it cannot rotate (it exists only on a \
             node run without --genesis)",
        );
    }
    Ok(wallet::own_key(ks.master(), ks.role(), n))
}

/// Asks "yes/no" on a terminal; without one, requires --yes.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("confirmation needed and there is no terminal: add --yes to confirm");
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Prints one result: a human sentence, or one JSON object.
pub fn emit(json: bool, human: impl std::fmt::Display, value: serde_json::Value) {
    if json { out(value) } else { out(human) }
}

/// Writes a line to standard output. A reader that went away (`consent history | head`) is not
/// an error: the command stops quietly with success.
pub fn out(line: impl std::fmt::Display) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("consent: cannot write output: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_flags_become_the_sdks_options() {
        let global = |ca: Option<&str>, cert: Option<&str>, key: Option<&str>| Global {
            node: "https://node.city:50051".into(),
            ca_cert: ca.map(PathBuf::from),
            client_cert: cert.map(PathBuf::from),
            client_key: key.map(PathBuf::from),
            keystore: None,
            json: false,
            kdf_memory_kib: DEFAULT_MEMORY_KIB,
            as_person: None,
            now: false,
        };
        assert_eq!(
            global(None, None, None).tls().expect("none"),
            TlsOptions::default()
        );
        assert_eq!(
            global(Some("ca.pem"), Some("c.pem"), Some("c.key"))
                .tls()
                .expect("all"),
            TlsOptions {
                ca_cert: Some("ca.pem".into()),
                client_cert: Some(("c.pem".into(), "c.key".into())),
                domain: None,
            }
        );
        let half = global(None, Some("c.pem"), None).tls().expect_err("no key");
        assert!(half.to_string().contains("--client-key"), "{half}");
        let half = global(None, None, Some("c.key"))
            .tls()
            .expect_err("no cert");
        assert!(half.to_string().contains("--client-cert"), "{half}");
    }

    #[test]
    fn an_empty_xdg_data_home_counts_as_unset() {
        let env = |xdg: &'static str| {
            move |name: &str| match name {
                "XDG_DATA_HOME" => Some(std::ffi::OsString::from(xdg)),
                "HOME" => Some(std::ffi::OsString::from("/home/ana")),
                _ => None,
            }
        };
        assert_eq!(
            default_keystore(env("")),
            PathBuf::from("/home/ana/.local/share/consent-ledger/keystore.json")
        );
        assert_eq!(
            default_keystore(env("/data")),
            PathBuf::from("/data/consent-ledger/keystore.json")
        );
    }
}
