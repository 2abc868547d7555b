//! `consent.v1.Consent`: collector sessions and consent checks. A deny is an answer, never an
//! error; a check without a session, or about another collector, is refused.
//!
//! A check may carry the context of its observation (sensor and its kind, H3 cell, time, form:
//! consent scoped by a policy and narrowed by a grant). A context the node cannot read (a cell that
//! is no H3 cell index, an unknown form or sensor kind, a sensor kind without a sensor) is
//! INVALID_ARGUMENT, in a batch naming the check; a missing context a scoped grant needs (a sensor
//! without its kind is a missing sensor) is a deny naming what is missing. The answer names the
//! form the data must be kept in for the grant it names (`required_form`), and a receipt signs the
//! context with its digest (`context_digest`), the handle a collector keeps beside each record.
//! When the grant it names was signed by a delegate in the subject's name, the answer and the
//! receipt's signed payload say which delegation it rests on (`delegated`), and the receipt
//! carries the Delegation's inclusion proof.
//!
//! Checks stay off the async threads: a unary check whose facts are cached, with no receipt to
//! sign here, is answered inline (no store read, bounded work, and only if the view is free:
//! [`Ledger::check_cached`]); so is one asking for a receipt in a group when its evidence is
//! kept too (the group's signature is the signing thread's: [`super::receipts`]); anything else —
//! a cache miss, a batch, a receipt signed alone, a revocation to look for — runs on a
//! blocking thread, each check of a batch from a view of its own ([`Ledger::check`]). That
//! blocking work is bounded node-wide and per collector, and stops between two checks (or two
//! receipts) once its request is dropped: see [`super::blocking`].

use std::collections::HashMap;
use std::sync::Arc;

use consent_proto::decide::{self, Outcome, Query};
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::limits::MAX_CHECK_BATCH;
use consent_proto::pb;
use consent_proto::receipt::group;
use consent_proto::scope::Context;
use consent_proto::vocab::{DataCategory, Purpose};
use prost::bytes::Bytes;
use tonic::{Request, Response, Status};

use super::auth::{Session, Sessions};
use super::blocking::{Cancel, Limiter};
use super::error::{self, id32};
use super::limits::Sources;
use super::receipts::{self, GroupSigner};
use super::tls::Binding;
use super::{evidence, watch};
use crate::ledger::Ledger;
use crate::log::checkpoints::Checkpoints;

/// The Consent service.
pub(crate) struct ConsentService {
    sessions: Sessions,
    /// Bounds the blocking work of checks, receipts and session lookups.
    limiter: Limiter,
    /// Decides and signs; shared with the blocking tasks that run checks.
    decider: Arc<Decider>,
    /// Ends watch streams when the node shuts down.
    shutdown: tokio_util::sync::CancellationToken,
    /// Bounds `Authenticate` calls per source address.
    sources: Sources,
    /// Signs decision receipts in groups, for calls that ask for it.
    group_signer: GroupSigner,
}

/// What answering checks needs.
struct Decider {
    ledger: Ledger,
    /// Signs decision receipts.
    node_key: SecretKey,
    /// The log evidence receipts carry.
    evidence: evidence::Evidence,
}

impl ConsentService {
    /// Serves checks and watches from `ledger` to collectors with a session.
    pub(crate) fn new(
        ledger: Ledger,
        sessions: Sessions,
        node_key: SecretKey,
        group_signer: GroupSigner,
        checkpoints: Checkpoints,
        shutdown: tokio_util::sync::CancellationToken,
        sources: Sources,
    ) -> Self {
        Self {
            sessions,
            limiter: Limiter::for_this_machine(),
            decider: Arc::new(Decider {
                ledger,
                node_key,
                evidence: evidence::Evidence::new(checkpoints),
            }),
            shutdown,
            sources,
            group_signer,
        }
    }

    /// Signs, as one group, the receipts `answers` carry unsigned (built by [`Decider::sign`]
    /// for a call that asked for grouped receipts).
    async fn seal_group(
        &self,
        collector: FeedId,
        mut answers: Vec<pb::CheckResponse>,
    ) -> Result<Vec<pb::CheckResponse>, Status> {
        let mut receipts: Vec<&mut pb::DecisionReceipt> = answers
            .iter_mut()
            .filter_map(|a| a.receipt.as_mut())
            .collect();
        let payloads: Vec<&[u8]> = receipts.iter().map(|r| r.payload.as_ref()).collect();
        if let Some(signed) = self
            .group_signer
            .sign(group::Kind::Decision, &payloads)
            .await
        {
            for (r, place) in receipts.iter_mut().zip(signed.places) {
                r.signature = signed.signature.clone();
                r.group = Some(place);
            }
            return Ok(answers);
        }
        // No group to be had now: signed alone (which a client that asks must accept), on a
        // blocking thread under this collector's limit, as receipts signed alone always are.
        let decider = Arc::clone(&self.decider);
        self.limiter
            .run(collector, move |cancel| {
                for receipt in answers.iter_mut().filter_map(|a| a.receipt.as_mut()) {
                    cancel.check()?;
                    consent_proto::receipt::seal_decision(&decider.node_key, receipt);
                }
                Ok(answers)
            })
            .await
    }

    fn ledger(&self) -> &Ledger {
        &self.decider.ledger
    }

    /// The session `request` presents, over its connection's client certificate (see
    /// [`Sessions::session`]).
    async fn session<T>(&self, request: &Request<T>) -> Result<Session, Status> {
        let chain = request.peer_certs();
        self.sessions
            .session(
                self.ledger(),
                &self.limiter,
                request.metadata(),
                Binding::of(chain.as_deref().map(Vec::as_slice)),
                self.ledger().now_ms(),
            )
            .await
    }
}

impl Decider {
    /// Decides `queries` in order, each from a view of its own (views follow each other: a
    /// commit may land between two checks, never go back), and answers `requests` (the same
    /// checks). Blocking: it reads the store on cache misses. Stops between two checks once
    /// `cancel` is set.
    fn decide(
        &self,
        requests: &[pb::CheckRequest],
        queries: &[Query],
        now: u64,
        cancel: &Cancel,
    ) -> Result<Vec<pb::CheckResponse>, Status> {
        let mut outcomes = Vec::with_capacity(queries.len());
        for query in queries {
            cancel.check()?;
            outcomes.push(self.ledger.check(query)?);
        }
        Ok(requests
            .iter()
            .zip(queries)
            .zip(&outcomes)
            .map(|((request, query), (outcome, log_size))| {
                self.answer(request, query, outcome, *log_size, now)
            })
            .collect())
    }

    /// The answer to `request` from the rule's `outcome` at log position `log_size`, denying
    /// (fail closed) when the caller's consistency or freshness demand is not met.
    fn answer(
        &self,
        request: &pb::CheckRequest,
        query: &Query,
        outcome: &Outcome,
        log_size: u64,
        now: u64,
    ) -> pb::CheckResponse {
        // The caller's freshness demand is part of the rule (consent_proto::decide::fresh).
        let peer_contact_ms = self.ledger.peer_contact_ms();
        let demand = consent_proto::decide::Demand {
            max_staleness_ms: request.max_staleness_ms,
            min_subject_seq: request.min_subject_seq,
        };
        let outcome =
            consent_proto::decide::with_freshness(*outcome, &demand, peer_contact_ms, now);
        let mut answer = response(&outcome, log_size, query.at_ms, now);
        answer.peer_contact_ms = peer_contact_ms;
        answer
    }

    /// Adds the receipt, with its log evidence, to each answer whose request asked for one:
    /// signed alone, or unsigned when `grouped` (for [`ConsentService::seal_group`]). Blocking:
    /// a signature each when alone, and store reads for the revocation and the proofs. Stops
    /// between two receipts (and while searching for a revocation) once `cancel` is set.
    fn sign(
        &self,
        requests: &[pb::CheckRequest],
        answers: &mut [pb::CheckResponse],
        now: u64,
        grouped: bool,
        cancel: &Cancel,
    ) -> Result<(), Status> {
        // A batch may name one revoked grant many times: its revocation is looked up once.
        let mut revocations: HashMap<EntryId, Option<(u64, EntryId)>> = HashMap::new();
        for (request, answer) in requests.iter().zip(answers.iter_mut()) {
            if !request.receipt {
                continue;
            }
            cancel.check()?;
            let revocation = if answer.reason() == pb::Reason::Revoked
                && let Ok(subject) = FeedId::from_slice(&request.subject)
                && let Ok(grant) = EntryId::from_slice(&answer.grant)
            {
                *revocations
                    .entry(grant)
                    .or_insert_with(|| evidence::revocation(&self.ledger, &subject, &grant, cancel))
            } else {
                None
            };
            // A search cut short by the cancel must not end in a receipt that omits it.
            cancel.check()?;
            let mut receipt = self.unsigned(request, answer, now, revocation);
            if !grouped {
                consent_proto::receipt::seal_decision(&self.node_key, &mut receipt);
            }
            self.evidence
                .attach(&self.ledger, answer, revocation, &mut receipt);
            answer.receipt = Some(receipt);
        }
        Ok(())
    }

    /// The receipt of an answer whose facts came from the caches, left unsigned for a group, if
    /// everything it carries is in memory too: no revocation to look for, its evidence kept
    /// ([`evidence::Evidence::attach_kept`]). `None`: build it on a blocking thread.
    fn unsigned_from_memory(
        &self,
        request: &pb::CheckRequest,
        answer: &pb::CheckResponse,
        now: u64,
    ) -> Option<pb::DecisionReceipt> {
        if answer.reason() == pb::Reason::Revoked {
            return None;
        }
        let mut receipt = self.unsigned(request, answer, now, None);
        self.evidence
            .attach_kept(answer, &mut receipt)
            .then_some(receipt)
    }

    /// The receipt of `answer` to `request`, unsigned, without its evidence.
    fn unsigned(
        &self,
        request: &pb::CheckRequest,
        answer: &pb::CheckResponse,
        now: u64,
        revocation: Option<(u64, EntryId)>,
    ) -> pb::DecisionReceipt {
        // As asked, with an at_ms left 0 set to the time decided.
        let question = consent_proto::receipt::signed_question(request, now);
        // Empty iff the question carries no context.
        let context_digest = question
            .context
            .as_ref()
            .map(|c| Bytes::copy_from_slice(&consent_proto::receipt::context_digest(c)))
            .unwrap_or_default();
        consent_proto::receipt::unsigned_decision(
            &self.node_key.public(),
            pb::DecisionPayload {
                node: Bytes::new(),
                question: Some(question),
                decision: answer.decision,
                reason: answer.reason,
                grant: answer.grant.clone(),
                subject_head: answer.subject_head.clone(),
                subject_head_seq: answer.subject_head_seq,
                log_size: answer.log_size,
                time_ms: now,
                at_ms: answer.at_ms,
                when: answer.when,
                revocation: revocation
                    .map(|(_, id)| Bytes::copy_from_slice(&id.0))
                    .unwrap_or_default(),
                context_digest,
                delegated: answer.delegated.clone(),
            },
        )
    }
}

/// The question `request` asks, if it is about the session's own collector (PERMISSION_DENIED
/// for another's).
fn question(session: &Session, request: &pb::CheckRequest, now: u64) -> Result<Query, Status> {
    let query = query(request, now)?;
    if query.collector != session.collector {
        return Err(error::other_collector());
    }
    Ok(query)
}

fn query(request: &pb::CheckRequest, now: u64) -> Result<Query, Status> {
    Ok(Query {
        subject: FeedId(id32("subject", &request.subject)?),
        collector: FeedId(id32("collector", &request.collector)?),
        purpose: Purpose::from_wire(request.purpose)
            .ok_or_else(|| error::unknown_purpose(request.purpose))?,
        category: DataCategory::from_wire(request.category)
            .ok_or_else(|| error::unknown_category(request.category))?,
        at_ms: decide::asked_at(request.at_ms, now),
        // A cell that is no H3 cell index, an unknown form or sensor kind, a sensor kind without
        // a sensor: INVALID_ARGUMENT. A sensor id or a time is never refused (the rule judges
        // them, the id with its kind).
        context: Context::from_wire(request.context.as_ref())
            .map_err(|e| error::bad_context(&e))?,
    })
}

fn response(outcome: &Outcome, log_size: u64, at_ms: u64, now: u64) -> pb::CheckResponse {
    pb::CheckResponse {
        decision: outcome.decision as i32,
        reason: outcome.reason as i32,
        grant: outcome
            .grant
            .map(|g| Bytes::copy_from_slice(&g.0))
            .unwrap_or_default(),
        subject_head: outcome
            .subject_head
            .map(|(_, id)| Bytes::copy_from_slice(&id.0))
            .unwrap_or_default(),
        subject_head_seq: outcome.subject_head.map(|(seq, _)| seq).unwrap_or_default(),
        log_size,
        at_ms,
        peer_contact_ms: 0,
        receipt: None,
        when: decide::question_time(at_ms, now) as i32,
        // For the grant the answer names; UNSPECIFIED when it is unscoped or none is named.
        required_form: outcome.required_form.map_or(0, |f| f as i32),
        // The delegation a delegate's grant rests on; unset for the subject's own.
        delegated: outcome.delegated.map(|d| d.to_wire()),
    }
}

#[tonic::async_trait]
impl pb::consent_server::Consent for ConsentService {
    async fn authenticate(
        &self,
        request: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        // Counted before any work: every call costs a key lookup and a signature check.
        self.sources.authenticate(&request)?;
        let r = request.get_ref();
        let collector = FeedId(id32("collector", &r.collector)?);
        let chain = request.peer_certs();
        let (token, expires_ms) = self
            .sessions
            .authenticate(
                self.ledger(),
                &self.limiter,
                collector,
                &r.node_key,
                r.time_ms,
                &r.signature,
                chain.as_deref().map(Vec::as_slice),
                self.ledger().now_ms(),
            )
            .await?;
        Ok(Response::new(pb::AuthenticateResponse {
            token,
            expires_ms,
        }))
    }

    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let session = self.session(&request).await?;
        let now = self.ledger().now_ms();
        let started = std::time::Instant::now();
        let grouped = receipts::wants_group(request.metadata());
        let request = request.into_inner();
        let query = question(&session, &request, now)?;
        // Inline from cached facts, with nothing to sign here (no receipt, or one for a group
        // whose evidence is kept too); otherwise on a blocking thread.
        let cached = if request.receipt && !grouped {
            None
        } else {
            self.ledger().check_cached(&query)
        };
        let inline = cached.and_then(|(outcome, log_size)| {
            let mut answer = self
                .decider
                .answer(&request, &query, &outcome, log_size, now);
            if request.receipt {
                answer.receipt = Some(self.decider.unsigned_from_memory(&request, &answer, now)?);
            }
            Some(answer)
        });
        let answer = match inline {
            Some(answer) if grouped => self
                .seal_group(session.collector, vec![answer])
                .await?
                .pop()
                .ok_or_else(error::unanswered)?,
            Some(answer) => answer,
            None => {
                let decider = Arc::clone(&self.decider);
                let mut answers = self
                    .limiter
                    .run(session.collector, move |cancel| {
                        let requests = [request];
                        let mut answers = decider.decide(&requests, &[query], now, cancel)?;
                        decider.sign(&requests, &mut answers, now, grouped, cancel)?;
                        Ok(answers)
                    })
                    .await?;
                if grouped {
                    answers = self.seal_group(session.collector, answers).await?;
                }
                answers.pop().ok_or_else(error::unanswered)?
            }
        };
        let metrics = self.ledger().metrics();
        metrics.check_time(started.elapsed());
        metrics.decision(&answer);
        Ok(Response::new(answer))
    }

    type WatchStream = watch::Events;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let session = self.session(&request).await?;
        let r = request.get_ref();
        let cursor = watch::Cursor::parse(&r.cursor)?;
        let heartbeat = watch::heartbeat(r.heartbeat_ms)?;
        let slot = self.sessions.admit_watch(&session)?;
        let (outbox, events) = watch::channel();
        let shutdown = self.shutdown.clone();
        let watching = self.ledger().metrics().watcher();
        let stream = watch::run(
            self.ledger().clone(),
            self.limiter.clone(),
            session,
            cursor,
            heartbeat,
            r.consultations,
            outbox,
        );
        tokio::spawn(async move {
            let (_watching, _slot) = (watching, slot);
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = stream => {}
            }
        });
        Ok(Response::new(events))
    }

    async fn check_batch(
        &self,
        request: Request<pb::CheckBatchRequest>,
    ) -> Result<Response<pb::CheckBatchResponse>, Status> {
        let session = self.session(&request).await?;
        let now = self.ledger().now_ms();
        let grouped = receipts::wants_group(request.metadata());
        let checks = request.into_inner().checks;
        if checks.is_empty() || checks.len() > MAX_CHECK_BATCH {
            return Err(error::check_batch_size(checks.len()));
        }
        let queries = checks
            .iter()
            .enumerate()
            .map(|(i, c)| question(&session, c, now).map_err(|s| error::in_batch(i, &s)))
            .collect::<Result<Vec<_>, _>>()?;
        // Each check from a view of its own (the writer never waits for a whole batch), then
        // the receipts, all on a blocking thread under the limiter (stopping early if this
        // request is dropped).
        let decider = Arc::clone(&self.decider);
        let mut decisions = self
            .limiter
            .run(session.collector, move |cancel| {
                let mut answers = decider.decide(&checks, &queries, now, cancel)?;
                decider.sign(&checks, &mut answers, now, grouped, cancel)?;
                Ok(answers)
            })
            .await?;
        if grouped {
            decisions = self.seal_group(session.collector, decisions).await?;
        }
        let metrics = self.ledger().metrics();
        for answer in &decisions {
            metrics.decision(answer);
        }
        Ok(Response::new(pb::CheckBatchResponse { decisions }))
    }
}
