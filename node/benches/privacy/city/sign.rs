//! Every entry of the city signed in sending order, each feed with its own author, the way the
//! `consent` CLI signs it (`consent_client::wallet`), dated by the wallet's coarse-time rule.

use std::collections::HashMap;

use anyhow::Context;
use consent_client::wallet;
use consent_proto::body::{Body, Grant, Request, Revoke};
use consent_proto::entry::Author;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::validate::Rejection;

use super::{Attitude, Builder, Op, Planned, handling};
use crate::collectors::Collector;

impl Builder<'_> {
    /// Signs every entry in sending order, with each feed's own author.
    pub(super) fn sign(
        &self,
        collectors: &[Collector],
    ) -> anyhow::Result<(Vec<Planned>, HashMap<FeedId, u32>)> {
        struct Feed {
            author: Author,
            grant: Option<EntryId>,
            rotations: u32,
            /// The last entry's signed time: the floor of the next one's.
            last_ms: u64,
        }
        let m = &self.config.mitigations;
        let mut order: Vec<usize> = (0..self.intents.len()).collect();
        order.sort_by_key(|&i| (self.intents[i].send_ms, self.intents[i].signed_ms, i));
        let mut feeds: HashMap<(u32, usize), Feed> = HashMap::new();
        let mut owner = HashMap::new();
        let mut planned = Vec::with_capacity(order.len());
        for i in order {
            let it = &self.intents[i];
            let w = &self.wallets[it.person as usize];
            let col = &collectors[it.collector];
            let key = (it.person, it.collector);
            let entry = if let Op::Incept = it.op {
                let (author, entry) =
                    wallet::pairwise_inception(&w.master, &col.feed).map_err(invalid)?;
                owner.insert(entry.feed, it.person);
                feeds.insert(
                    key,
                    Feed {
                        author,
                        grant: None,
                        rotations: 0,
                        last_ms: entry.time_ms,
                    },
                );
                entry
            } else {
                let feed = feeds
                    .get_mut(&key)
                    .context("an entry planned before its feed's inception")?;
                // The wallet's coarse-time rule, as `privacy::handling` asks for this entry.
                let time_ms = m.time_ms(it.signed_ms, feed.last_ms, handling(it.op).exactness);
                let entry = match it.op {
                    Op::Incept => unreachable!("handled above"),
                    Op::Grant => {
                        let (purposes, categories) = match w.attitude {
                            Attitude::Least => (1, 1),
                            Attitude::Usual => (2, 2),
                            Attitude::Everything => (usize::MAX, usize::MAX),
                        };
                        let offer = col.offer;
                        let grant = Body::Grant(Grant {
                            collector: col.feed,
                            policy: col.policy,
                            purposes: offer.purposes.iter().copied().take(purposes).collect(),
                            categories: offer.categories.iter().copied().take(categories).collect(),
                            retention_days: offer.retention_days,
                            valid_from: m.valid_from(it.signed_ms, it.due_ms, time_ms),
                            valid_until: None,
                            scope: None,
                            on_behalf: None,
                        });
                        let e = feed.author.append(time_ms, grant).map_err(invalid)?;
                        feed.grant = Some(e.id);
                        e
                    }
                    Op::Revoke { erase } => {
                        let grant = feed.grant.take().context("a revocation without a grant")?;
                        let body = Body::Revoke(Revoke {
                            grant,
                            erase,
                            on_behalf: None,
                        });
                        feed.author.append(time_ms, body).map_err(invalid)?
                    }
                    Op::Rotate => {
                        let next = wallet::pairwise_key(&w.master, &col.feed, feed.rotations + 2);
                        feed.rotations += 1;
                        feed.author.rotate(time_ms, next).map_err(invalid)?
                    }
                    Op::Request(kind) => {
                        let body = Body::Request(Request {
                            collector: col.feed,
                            kind,
                            details_digest: None,
                            on_behalf: None,
                        });
                        feed.author.append(time_ms, body).map_err(invalid)?
                    }
                };
                feed.last_ms = entry.time_ms;
                entry
            };
            planned.push(Planned {
                send_ms: it.send_ms,
                node: it.node,
                entry,
            });
        }
        Ok((planned, owner))
    }
}

fn invalid(e: Rejection) -> anyhow::Error {
    anyhow::anyhow!("the simulator signed an entry that is not valid: {e}")
}
