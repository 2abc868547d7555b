//! The connections a command sends on: each pairwise feed to its own node ([`feed_url`]), opened
//! when first needed ([`Nodes`]), and the one fallback to `--node` (a withdrawal).

use anyhow::bail;
use consent_client::keystore::Keystore;
use consent_client::node::{ClientError, NodeConnection};
use consent_client::privacy::schedule;
use consent_client::transport::TlsOptions;
use consent_proto::ids::FeedId;

/// The node (URL) the pairwise feed `feed` uses: its own among the wallet's nodes, else `main`
/// (`--node`).
pub fn feed_url(main: &str, ks: &Keystore, feed: &FeedId) -> String {
    let nodes: &[String] = ks
        .state
        .privacy
        .as_ref()
        .map_or(&[], |s| s.nodes.as_slice());
    match nodes.len() {
        0 => main.to_string(),
        n => nodes[schedule::node_for(ks.master(), feed, n)].clone(),
    }
}

/// Connections to the nodes a command sends to, opened when first needed.
pub struct Nodes {
    tls: TlsOptions,
    main: String,
    open: Vec<(String, NodeConnection)>,
    /// Every entry goes through the one connection held.
    pinned: bool,
}

impl Nodes {
    /// `main_url`: `--node`; `main`: the connection to it, when one is open.
    pub fn new(main_url: &str, tls: TlsOptions, main: Option<&NodeConnection>) -> Nodes {
        Nodes {
            tls,
            main: main_url.to_string(),
            open: main
                .map(|n| (main_url.to_string(), n.clone()))
                .into_iter()
                .collect(),
            pinned: false,
        }
    }

    /// `--node`.
    pub fn main(&self) -> &str {
        &self.main
    }

    /// Everything through `node`.
    pub(super) fn pinned(node: &NodeConnection) -> Nodes {
        Nodes {
            tls: node.tls().clone(),
            main: node.url().to_string(),
            open: vec![(node.url().to_string(), node.clone())],
            pinned: true,
        }
    }

    async fn get(&mut self, url: &str) -> Result<&mut NodeConnection, ClientError> {
        let at = if self.pinned {
            Some(0)
        } else {
            self.open.iter().position(|(u, _)| u == url)
        };
        let at = match at {
            Some(at) => at,
            None => {
                let c = NodeConnection::connect_with(url, &self.tls).await?;
                self.open.push((url.to_string(), c));
                self.open.len() - 1
            }
        };
        Ok(&mut self.open[at].1)
    }

    /// A connection to `url`. When it cannot be reached, a `withdrawal` (a revocation, an
    /// opt-out, an erasure or restriction request: withdrawing is never harder) goes to
    /// `--node` instead, said on stderr; anything else fails: a feed always talks to its own
    /// node (another would see it, and one that lags it could make the wallet fork it).
    pub async fn to(&mut self, url: &str, withdrawal: bool) -> anyhow::Result<NodeConnection> {
        let first = self.get(url).await.map(|c| c.clone());
        match first {
            Ok(c) => Ok(c),
            Err(e) if withdrawal && url != self.main => {
                eprintln!(
                    "consent: {url} cannot be reached ({e}); this withdrawal goes to {} instead \
                     (that node's operator sees it)",
                    self.main
                );
                let main = self.main.clone();
                Ok(self.get(&main).await?.clone())
            }
            Err(e) if url != self.main => bail!(
                "the node of this feed, {url}, cannot be reached ({e}); try again later (each of \
                 your feeds always uses its own node: consent wallet privacy lists them)"
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// The connection for the pairwise feed `feed` (its node, see [`feed_url`]; `withdrawal`:
    /// see [`Nodes::to`]). For a withdrawal, a node that takes the connection but cannot answer
    /// for the feed (it stalls, or fails) counts as one that cannot be reached: `--node` instead
    /// (re-review H1).
    pub async fn for_feed(
        &mut self,
        ks: &Keystore,
        feed: &FeedId,
        withdrawal: bool,
    ) -> anyhow::Result<NodeConnection> {
        let url = feed_url(&self.main, ks, feed);
        let mut conn = self.to(&url, withdrawal).await?;
        if withdrawal
            && conn.url() != consent_client::node::node_url(&self.main)
            && let Err(e) = conn.head(feed).await
        {
            eprintln!(
                "consent: {} cannot answer for your feed ({e}); this withdrawal goes to {} \
                 instead (that node's operator sees it)",
                conn.url(),
                self.main
            );
            let main = self.main.clone();
            return Ok(self.get(&main).await?.clone());
        }
        Ok(conn)
    }
}
