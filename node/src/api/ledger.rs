//! `consent.v1.Ledger`: submit entries, read entries, feeds and heads, and the delegations that
//! concern a feed. Submissions go through admission (`Ledger::submit_admitted`): a valid entry
//! this node refuses to take from a client (a grant on a draft under consultation, a late
//! stance, a second outcome, an approval that leaves raised objections unanswered, an entry
//! signed in someone's name more than 5 minutes ago) is FAILED_PRECONDITION, its reason as for
//! a rejection.

use std::pin::Pin;

use consent_proto::Entry;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::limits::{MAX_EQUIVOCATIONS_LISTED, MAX_FEED_STREAM, MAX_SUBMIT_BATCH};
use consent_proto::pb;
use consent_proto::receipt;
use consent_proto::validate::Missing;
use prost::bytes::Bytes;
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

use super::blocking::read;
use super::error::{self, id32, rejection, required};
use super::limits::{Sources, read_stream};
use super::receipts::{self, GroupSigner};
use crate::ledger::{Ledger, Outcome, Source};
use consent_proto::receipt::group::Kind;

/// The Ledger service.
pub(crate) struct LedgerService {
    ledger: Ledger,
    /// Signs receipts alone.
    node_key: SecretKey,
    /// Signs receipts in groups, for calls that ask for it.
    group_signer: GroupSigner,
    /// Bounds the `GetLog`/`GetFeed` streams per source address and on the node.
    sources: Sources,
}

impl LedgerService {
    /// Serves `ledger`, signing receipts with `node_key` (alone, or in groups through
    /// `group_signer`), its streams bounded by `sources`.
    pub(crate) fn new(
        ledger: Ledger,
        node_key: SecretKey,
        group_signer: GroupSigner,
        sources: Sources,
    ) -> Self {
        Self {
            ledger,
            node_key,
            group_signer,
            sources,
        }
    }

    /// Signs the receipts of `responses` (built unsigned by [`Self::response`]): in one group
    /// when the call asked for it, else each alone.
    async fn seal(
        &self,
        responses: &mut [&mut pb::SubmitResponse],
        grouped: bool,
    ) -> Result<(), Status> {
        let mut receipts: Vec<&mut pb::Receipt> = responses
            .iter_mut()
            .filter_map(|r| r.receipt.as_mut())
            .collect();
        if !grouped {
            for r in receipts {
                *r = receipt::seal(&self.node_key, std::mem::take(&mut r.payload));
            }
            return Ok(());
        }
        let payloads: Vec<&[u8]> = receipts.iter().map(|r| r.payload.as_ref()).collect();
        match self.group_signer.sign(Kind::Entry, &payloads).await {
            Some(signed) => {
                for (r, place) in receipts.iter_mut().zip(signed.places) {
                    r.signature = signed.signature.clone();
                    r.group = Some(place);
                }
            }
            // No group to be had now: signed alone, which a client that asks must accept.
            None => {
                for r in receipts {
                    *r = receipt::seal(&self.node_key, std::mem::take(&mut r.payload));
                }
            }
        }
        Ok(())
    }

    fn response(&self, outcome: &Outcome) -> Result<pb::SubmitResponse, Status> {
        let b = |id: &EntryId| Bytes::copy_from_slice(&id.0);
        match outcome {
            Outcome::Accepted { id, index } | Outcome::Duplicate { id, index } => {
                Ok(pb::SubmitResponse {
                    status: if matches!(outcome, Outcome::Accepted { .. }) {
                        pb::SubmitStatus::Accepted
                    } else {
                        pb::SubmitStatus::Duplicate
                    } as i32,
                    entry_id: b(id),
                    // Signed by `seal`, alone or in a group.
                    receipt: Some(pb::Receipt {
                        payload: receipt::payload(
                            &self.node_key.public(),
                            *id,
                            *index,
                            self.ledger.now_ms(),
                        ),
                        ..Default::default()
                    }),
                    missing: Bytes::new(),
                })
            }
            Outcome::Pending { id, missing } => {
                let missing = match missing {
                    Missing::Seq(feed, _) | Missing::Feed(feed) => feed.0,
                    Missing::Entry(entry) => entry.0,
                };
                Ok(pb::SubmitResponse {
                    status: pb::SubmitStatus::Pending as i32,
                    entry_id: b(id),
                    receipt: None,
                    missing: Bytes::copy_from_slice(&missing),
                })
            }
            Outcome::Rejected { rejection: r, .. } => Err(rejection(r)),
            Outcome::Equivocation { feed, seq, .. } => Err(error::equivocation(feed, *seq)),
            Outcome::PendingFull { .. } => Err(error::pending_full()),
            Outcome::Refused { refusal, .. } => Err(error::admission(refusal)),
        }
    }
}

/// Who sent a request, as the pending space counts it: the client address the per-source limits
/// use (every connection from one address is one source; an IPv6 client's /48 network is one
/// source; behind a trusted proxy, the address it forwarded).
fn source<T>(sources: &Sources, request: &Request<T>) -> Source {
    Source::client(sources.source(request).ip())
}

fn decode(signed: &pb::SignedEntry) -> Result<Entry, Status> {
    Entry::from_signed(signed).map_err(|r| rejection(&r))
}

type FeedStream = Pin<Box<dyn Stream<Item = Result<pb::FeedEntry, Status>> + Send>>;

fn feed_entry(index: u64, entry: &Entry) -> pb::FeedEntry {
    pb::FeedEntry {
        entry: Some(entry.to_signed()),
        id: Bytes::copy_from_slice(&entry.id.0),
        index,
        feed: Bytes::copy_from_slice(&entry.feed.0),
        seq: entry.seq,
    }
}

fn delegation_info(d: crate::ledger::DelegationListing) -> pb::DelegationInfo {
    pb::DelegationInfo {
        entry: Some(feed_entry(d.index, &d.entry)),
        end_ms: d.end_ms,
        undelegations: d
            .undelegations
            .iter()
            .map(|u| Bytes::copy_from_slice(&u.0))
            .collect(),
    }
}

#[tonic::async_trait]
impl pb::ledger_server::Ledger for LedgerService {
    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let from = source(&self.sources, &request);
        let grouped = receipts::wants_group(request.metadata());
        let signed = required("entry", request.into_inner().entry)?;
        let entry = decode(&signed)?;
        let outcomes = self.ledger.submit_admitted(from, vec![entry]).await?;
        let outcome = outcomes.first().ok_or_else(error::no_outcome)?;
        let mut response = self.response(outcome)?;
        self.seal(&mut [&mut response], grouped).await?;
        Ok(Response::new(response))
    }

    async fn submit_batch(
        &self,
        request: Request<pb::SubmitBatchRequest>,
    ) -> Result<Response<pb::SubmitBatchResponse>, Status> {
        let from = source(&self.sources, &request);
        let grouped = receipts::wants_group(request.metadata());
        let signed = request.into_inner().entries;
        if signed.is_empty() || signed.len() > MAX_SUBMIT_BATCH {
            return Err(error::submit_batch_size(signed.len()));
        }
        // Entries that do not even decode get their error; the rest go to the ledger in order.
        let mut results: Vec<Option<pb::SubmitResult>> = Vec::with_capacity(signed.len());
        let mut entries = Vec::new();
        for s in &signed {
            match Entry::from_signed(s) {
                Ok(e) => {
                    entries.push(e);
                    results.push(None);
                }
                Err(r) => results.push(Some(error_result(&rejection(&r), r.code()))),
            }
        }
        let mut outcomes = self
            .ledger
            .submit_admitted(from, entries)
            .await?
            .into_iter();
        let mut results: Vec<pb::SubmitResult> = results
            .into_iter()
            .map(|slot| match slot {
                Some(result) => result,
                None => match outcomes.next() {
                    Some(outcome) => match self.response(&outcome) {
                        Ok(response) => pb::SubmitResult {
                            response: Some(response),
                            ..Default::default()
                        },
                        Err(status) => {
                            let reason = match &outcome {
                                Outcome::Rejected { rejection, .. } => rejection.code(),
                                Outcome::Equivocation { .. } => "equivocation",
                                Outcome::PendingFull { .. } => "pending-full",
                                Outcome::Refused { refusal, .. } => refusal.code(),
                                _ => "error",
                            };
                            error_result(&status, reason)
                        }
                    },
                    None => error_result(&error::missing_outcome(), "internal"),
                },
            })
            .collect();
        let mut responses: Vec<&mut pb::SubmitResponse> = results
            .iter_mut()
            .filter_map(|r| r.response.as_mut())
            .collect();
        self.seal(&mut responses, grouped).await?;
        Ok(Response::new(pb::SubmitBatchResponse { results }))
    }

    async fn get_entry(
        &self,
        request: Request<pb::GetEntryRequest>,
    ) -> Result<Response<pb::GetEntryResponse>, Status> {
        let id = EntryId(id32("id", &request.into_inner().id)?);
        let ledger = self.ledger.clone();
        match read(move || ledger.entry(&id).map_err(Status::from)).await? {
            Some((index, entry)) => Ok(Response::new(pb::GetEntryResponse {
                entry: Some(feed_entry(index, &entry)),
            })),
            None => Err(error::entry_not_held(&id)),
        }
    }

    type GetFeedStream = FeedStream;
    type GetLogStream = FeedStream;
    type ListDelegatedStream = FeedStream;

    async fn get_log(
        &self,
        request: Request<pb::GetLogRequest>,
    ) -> Result<Response<FeedStream>, Status> {
        let slot = self.sources.open_stream(&request)?;
        let request = request.into_inner();
        if request.limit > MAX_FEED_STREAM {
            return Err(error::stream_limit("from_index"));
        }
        let limit = match request.limit {
            0 => MAX_FEED_STREAM,
            n => n,
        } as u64;
        let ledger = self.ledger.clone();
        let (mut tx, rx) = read_stream(slot, "from_index");
        tokio::spawn(async move {
            const PAGE: u64 = 512;
            let mut next = request.from_index;
            let end = request.from_index.saturating_add(limit);
            while next < end {
                let (reader, count) = (ledger.clone(), PAGE.min(end - next) as usize);
                let page =
                    match read(move || reader.log_range(next, count).map_err(Status::from)).await {
                        Ok(page) => page,
                        Err(status) => {
                            let _ = tx.send(Err(status)).await;
                            return;
                        }
                    };
                if page.is_empty() {
                    return;
                }
                for (index, id, signed) in page {
                    next = index + 1;
                    let decoded = signed.as_ref().and_then(|s| Entry::from_signed(s).ok());
                    let item = pb::FeedEntry {
                        entry: signed,
                        id: Bytes::copy_from_slice(&id.0),
                        index,
                        feed: decoded
                            .as_ref()
                            .map(|e| Bytes::copy_from_slice(&e.feed.0))
                            .unwrap_or_default(),
                        seq: decoded.map_or(0, |e| e.seq),
                    };
                    if !tx.send(Ok(item)).await {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(rx)))
    }

    async fn get_feed(
        &self,
        request: Request<pb::GetFeedRequest>,
    ) -> Result<Response<FeedStream>, Status> {
        let slot = self.sources.open_stream(&request)?;
        let request = request.into_inner();
        let feed = FeedId(id32("feed", &request.feed)?);
        if request.limit > MAX_FEED_STREAM {
            return Err(error::stream_limit("from_seq"));
        }
        let limit = if request.limit == 0 {
            MAX_FEED_STREAM
        } else {
            request.limit
        } as u64;
        let ledger = self.ledger.clone();
        if read(move || ledger.head(&feed).map_err(Status::from))
            .await?
            .is_none()
        {
            return Err(error::unknown_feed(&feed));
        }
        let ledger = self.ledger.clone();
        let (mut tx, rx) = read_stream(slot, "from_seq");
        tokio::spawn(async move {
            const PAGE: u64 = 256;
            let mut next = request.from_seq;
            let end = request.from_seq.saturating_add(limit);
            while next < end {
                let (reader, count) = (ledger.clone(), PAGE.min(end - next) as usize);
                let page = match read(move || {
                    reader
                        .feed_entries(&feed, next, count)
                        .map_err(Status::from)
                })
                .await
                {
                    Ok(page) => page,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                if page.is_empty() {
                    return;
                }
                for (index, entry) in &page {
                    next = entry.seq + 1;
                    if !tx.send(Ok(feed_entry(*index, entry))).await {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(rx)))
    }

    async fn get_head(
        &self,
        request: Request<pb::GetHeadRequest>,
    ) -> Result<Response<pb::GetHeadResponse>, Status> {
        let request = request.into_inner();
        let feed = FeedId(id32("feed", &request.feed)?);
        let (ledger, with_grants) = (self.ledger.clone(), request.with_grants);
        let (state, grants) = read(move || {
            let Some(state) = ledger.head(&feed)? else {
                return Ok(None);
            };
            let grants = if with_grants {
                ledger.grants_of(&feed)?
            } else {
                Vec::new()
            };
            Ok(Some((state, grants)))
        })
        .await?
        .ok_or_else(|| error::unknown_feed(&feed))?;
        Ok(Response::new(pb::GetHeadResponse {
            feed: Bytes::copy_from_slice(&feed.0),
            role: state.role as i32,
            seq: state.head_seq,
            head: Bytes::copy_from_slice(&state.head_id.0),
            frozen: state.frozen,
            signing_key: Bytes::copy_from_slice(&state.signing_key),
            grants: grants
                .into_iter()
                .map(|(collector, _, grant, revoked)| pb::GrantState {
                    grant: Bytes::copy_from_slice(&grant.0),
                    collector: Bytes::copy_from_slice(&collector.0),
                    revoked,
                })
                .collect(),
        }))
    }

    async fn get_equivocation(
        &self,
        request: Request<pb::GetEquivocationRequest>,
    ) -> Result<Response<pb::GetEquivocationResponse>, Status> {
        let feed = FeedId(id32("feed", &request.into_inner().feed)?);
        let ledger = self.ledger.clone();
        let (frozen, proofs) = read(move || {
            let Some(state) = ledger.head(&feed)? else {
                return Ok(None);
            };
            Ok(Some((state.frozen, ledger.proofs(&feed)?)))
        })
        .await?
        .ok_or_else(|| error::unknown_feed(&feed))?;
        let mut equivocations = Vec::new();
        for [held, conflicting] in proofs.into_iter().take(MAX_EQUIVOCATIONS_LISTED) {
            let (Ok(held), Ok(conflicting)) = (Entry::decode(&held), Entry::decode(&conflicting))
            else {
                return Err(error::proof_undecodable(&feed));
            };
            equivocations.push(pb::Equivocation {
                seq: held.seq,
                held: Some(held.to_signed()),
                conflicting: Some(conflicting.to_signed()),
            });
        }
        Ok(Response::new(pb::GetEquivocationResponse {
            feed: Bytes::copy_from_slice(&feed.0),
            frozen,
            equivocations,
        }))
    }

    async fn list_delegations(
        &self,
        request: Request<pb::ListDelegationsRequest>,
    ) -> Result<Response<pb::ListDelegationsResponse>, Status> {
        let feed = FeedId(id32("feed", &request.into_inner().feed)?);
        let ledger = self.ledger.clone();
        let delegations = read(move || ledger.delegations(&feed).map_err(Status::from)).await?;
        Ok(Response::new(pb::ListDelegationsResponse {
            delegations: delegations.into_iter().map(delegation_info).collect(),
        }))
    }

    async fn list_delegated(
        &self,
        request: Request<pb::ListDelegatedRequest>,
    ) -> Result<Response<FeedStream>, Status> {
        let slot = self.sources.open_stream(&request)?;
        let request = request.into_inner();
        let person = FeedId(id32("person", &request.person)?);
        if request.limit > MAX_FEED_STREAM {
            return Err(error::stream_limit("after"));
        }
        let limit = match request.limit {
            0 => MAX_FEED_STREAM,
            n => n,
        } as usize;
        let ledger = self.ledger.clone();
        let (mut tx, rx) = read_stream(slot, "after");
        tokio::spawn(async move {
            const PAGE: usize = 256;
            let mut after = request.after;
            let mut left = limit;
            while left > 0 {
                let (reader, count) = (ledger.clone(), PAGE.min(left));
                let page = match read(move || {
                    reader
                        .delegated_entries(&person, after, count)
                        .map_err(Status::from)
                })
                .await
                {
                    Ok(page) => page,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                let full = page.len() == count;
                for (index, entry) in &page {
                    after = *index;
                    left -= 1;
                    if !tx.send(Ok(feed_entry(*index, entry))).await {
                        return;
                    }
                }
                if !full {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(rx)))
    }
}

fn error_result(status: &Status, reason: &str) -> pb::SubmitResult {
    let code: Code = status.code();
    pb::SubmitResult {
        response: None,
        error_code: code as u32,
        error_reason: reason.to_string(),
        error_message: status.message().to_string(),
        // The reason the status carries (none for an internal failure).
        rejection_reason: consent_proto::reasons::from_status(status) as i32,
    }
}
