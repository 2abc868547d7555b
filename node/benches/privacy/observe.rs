//! What the attacker of the linkage benchmark reads, and nothing else: every node's arrival log
//! (`Ledger.GetLog`: each entry as signed, with its index in that node's log) and the
//! transparency site's JSON (`/api/v1/collectors`: each collector's current policy). `GetFeed`
//! would add nothing: the log holds every entry of every feed, with its position. From the log
//! it learns which feeds are citizens' (their inception's role) and which collector each pairwise
//! feed is for (the collector its grants and requests name).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use consent_proto::Entry;
use consent_proto::body::{Body, Grant};
use consent_proto::ids::{FeedId, TypedFeedId};
use consent_proto::pb;
use consent_proto::vocab::{CategorySet, DataCategory, Purpose, PurposeSet, RequestKind, Role};
use tonic::transport::Channel;

/// What one kind of event is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Kind {
    /// seq 0.
    Inception,
    /// A grant.
    Grant,
    /// A revocation.
    Revoke,
    /// A key rotation.
    Rotation,
    /// A request, by its kind's wire number.
    Request(i32),
    /// A grant's `valid_from`: a second time the wallet signs, which gives the moment away if
    /// the wallet leaves it exact while its `time_ms` is coarse (timed only, never arrived).
    ValidFrom,
}

impl Kind {
    fn of(body: &Body) -> Option<Kind> {
        Some(match body {
            Body::Inception(_) => Kind::Inception,
            Body::Grant(_) => Kind::Grant,
            Body::Revoke(_) => Kind::Revoke,
            Body::Rotation(_) => Kind::Rotation,
            Body::Request(r) => Kind::Request(r.kind as i32),
            _ => return None,
        })
    }

    /// The kind of sitting it belongs to: an inception and a grant's `valid_from` to its sign-up
    /// (as its grant).
    pub fn sitting(self) -> Kind {
        match self {
            Kind::Inception | Kind::ValidFrom => Kind::Grant,
            other => other,
        }
    }

    /// Plural, for the table.
    pub fn name(self) -> String {
        match self {
            Kind::Inception => "inceptions".into(),
            Kind::Grant => "grants".into(),
            Kind::Revoke => "revocations".into(),
            Kind::Rotation => "rotations".into(),
            Kind::ValidFrom => "grants' valid_from".into(),
            Kind::Request(k) => format!(
                "{} requests",
                RequestKind::from_wire(k).map_or("other", RequestKind::name)
            ),
        }
    }
}

/// What the attacker read.
pub struct Observation {
    /// Citizen feeds that name a collector, in order of first appearance in the first node's log.
    pub feeds: Vec<FeedId>,
    /// Each feed's place in `feeds`.
    pub index: HashMap<FeedId, u32>,
    /// Each feed's collector (a small number).
    pub collector: Vec<u16>,
    /// The small number of each collector.
    pub collectors: HashMap<FeedId, u16>,
    /// What each feed's first grant consents to, relative to its collector's policy.
    pub choice: Vec<Option<u8>>,
    /// (kind, signed time, feed) of every citizen entry but inceptions, and (`ValidFrom`, its
    /// `valid_from`, feed) of every grant.
    pub timed: Vec<(Kind, u64, u32)>,
    /// Per node: (log index, kind, feed) of every citizen entry, in log order.
    pub arrivals: Vec<Vec<(u64, Kind, u32)>>,
    /// Entries read, all nodes together.
    pub entries_read: usize,
}

impl Observation {
    fn feed(&mut self, feed: FeedId, collector: FeedId) -> u32 {
        if let Some(&i) = self.index.get(&feed) {
            return i;
        }
        let next = self.collectors.len() as u16;
        let c = *self.collectors.entry(collector).or_insert(next);
        let i = self.feeds.len() as u32;
        self.feeds.push(feed);
        self.collector.push(c);
        self.choice.push(None);
        self.index.insert(feed, i);
        i
    }
}

/// Reads every node's log (`grpc`) and the collectors' policies from a transparency site.
pub async fn observe(grpc: &[SocketAddr], site: &str) -> anyhow::Result<Observation> {
    let policies = read_policies(site).await?;
    let mut logs = Vec::new();
    for addr in grpc {
        logs.push(read_log(*addr).await?);
    }
    let first = logs.first().context("no node to read")?;
    let mut obs = Observation {
        feeds: Vec::new(),
        index: HashMap::new(),
        collector: Vec::new(),
        collectors: HashMap::new(),
        choice: Vec::new(),
        timed: Vec::new(),
        arrivals: Vec::new(),
        entries_read: logs.iter().map(Vec::len).sum(),
    };
    // Which feeds are citizens', which collector each names, what its first grant chose.
    let mut citizens: HashSet<FeedId> = HashSet::new();
    for (_, e) in first {
        match &e.body {
            Body::Inception(i) if i.role == Role::Citizen => {
                citizens.insert(e.feed);
            }
            Body::Grant(g) if citizens.contains(&e.feed) => {
                let f = obs.feed(e.feed, g.collector) as usize;
                if obs.choice[f].is_none() {
                    obs.choice[f] = Some(choice(g, policies.get(&g.collector)));
                }
            }
            Body::Request(r) if citizens.contains(&e.feed) => {
                obs.feed(e.feed, r.collector);
            }
            _ => {}
        }
    }
    for (_, e) in first {
        if let (Some(&f), Some(kind)) = (obs.index.get(&e.feed), Kind::of(&e.body))
            && kind != Kind::Inception
        {
            obs.timed.push((kind, e.time_ms, f));
            // Every public field: a grant's valid_from is a time the wallet chose too.
            if let Body::Grant(g) = &e.body {
                obs.timed.push((Kind::ValidFrom, g.valid_from, f));
            }
        }
    }
    for log in &logs {
        let mut seq = Vec::new();
        for (at, e) in log {
            if let (Some(&f), Some(kind)) = (obs.index.get(&e.feed), Kind::of(&e.body)) {
                seq.push((*at, kind, f));
            }
        }
        obs.arrivals.push(seq);
    }
    Ok(obs)
}

/// One node's whole arrival log: (index, entry).
async fn read_log(addr: SocketAddr) -> anyhow::Result<Vec<(u64, Entry)>> {
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let mut client = pb::ledger_client::LedgerClient::new(channel);
    let mut out = Vec::new();
    loop {
        let before = out.len();
        let mut stream = client
            .get_log(pb::GetLogRequest {
                from_index: before as u64,
                limit: 0,
            })
            .await
            .with_context(|| format!("GetLog at {addr}"))?
            .into_inner();
        while let Some(item) = stream.message().await? {
            let signed = item
                .entry
                .as_ref()
                .context("a log item without its entry")?;
            let entry = Entry::from_signed(signed)
                .map_err(|e| anyhow::anyhow!("an entry of the log does not decode: {e}"))?;
            out.push((item.index, entry));
        }
        if out.len() == before {
            return Ok(out);
        }
    }
}

/// Each collector's current purposes and categories, from `/api/v1/collectors`.
async fn read_policies(site: &str) -> anyhow::Result<HashMap<FeedId, (PurposeSet, CategorySet)>> {
    let addr = site.to_string();
    let (head, body) =
        tokio::task::spawn_blocking(move || http_get(&addr, "/api/v1/collectors")).await??;
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "the transparency site answered {:?}",
        head.lines().next().unwrap_or("")
    );
    let v: serde_json::Value =
        serde_json::from_str(&body).context("the transparency site's JSON")?;
    let mut out = HashMap::new();
    for c in v["collectors"]
        .as_array()
        .context("no collectors in /api/v1/collectors")?
    {
        let id: TypedFeedId = c["id"]
            .as_str()
            .context("a collector without an id")?
            .parse()
            .map_err(|e| anyhow::anyhow!("a collector id: {e}"))?;
        let names = |field: &str| -> Vec<String> {
            c["policy"][field]
                .as_array()
                .map(|terms| {
                    terms
                        .iter()
                        .filter_map(|t| t["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let purposes: PurposeSet = names("purposes")
            .iter()
            .filter_map(|n| Purpose::from_name(n).ok())
            .collect();
        let categories: CategorySet = names("categories")
            .iter()
            .filter_map(|n| DataCategory::from_name(n).ok())
            .collect();
        out.insert(id.id, (purposes, categories));
    }
    Ok(out)
}

/// One plain HTTP/1.1 GET with `Connection: close`: (status line and headers, body).
fn http_get(addr: &str, path: &str) -> anyhow::Result<(String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.to_string(), body.to_string()))
}

/// A grant's choices relative to its collector's policy: one purpose, every purpose, one
/// category, every category (one bit each).
fn choice(g: &Grant, policy: Option<&(PurposeSet, CategorySet)>) -> u8 {
    let (all_p, all_c) = policy.map_or((usize::MAX, usize::MAX), |(p, c)| (p.len(), c.len()));
    let (p, c) = (g.purposes.len(), g.categories.len());
    u8::from(p == 1)
        | (u8::from(p >= all_p) << 1)
        | (u8::from(c == 1) << 2)
        | (u8::from(c >= all_c) << 3)
}
