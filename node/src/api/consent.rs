//! `consent.v1.Consent`: collector sessions and consent checks. A deny is an answer, never an
//! error; a check without a session, or about another collector, is refused.

use consent_proto::decide::{Outcome, Query};
use consent_proto::ids::FeedId;
use consent_proto::keys::SecretKey;
use consent_proto::limits::MAX_CHECK_BATCH;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory, Purpose};
use prost::bytes::Bytes;
use tonic::{Request, Response, Status};

use super::auth::{Session, Sessions};
use super::error::id32;
use super::{evidence, watch};
use crate::checkpoints::Checkpoints;
use crate::ledger::{Ledger, View, now_ms};

/// The Consent service.
pub struct ConsentService {
    ledger: Ledger,
    sessions: Sessions,
    /// Signs decision receipts.
    node_key: SecretKey,
    /// The checkpoints receipts carry.
    checkpoints: Checkpoints,
    /// Ends watch streams when the node shuts down.
    shutdown: tokio_util::sync::CancellationToken,
}

impl ConsentService {
    /// Serves checks and watches from `ledger` to collectors with a session.
    pub fn new(
        ledger: Ledger,
        sessions: Sessions,
        node_key: SecretKey,
        checkpoints: Checkpoints,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Self {
        Self {
            ledger,
            sessions,
            node_key,
            checkpoints,
            shutdown,
        }
    }

    /// Decides one check for the session's collector (PERMISSION_DENIED for another's) from
    /// `view`; the receipt, if asked for, is signed later by [`Self::sign`].
    fn decide(
        &self,
        view: &View<'_>,
        session: &Session,
        request: &pb::CheckRequest,
        now: u64,
    ) -> Result<pb::CheckResponse, Status> {
        let query = query(request, now)?;
        if query.collector != session.collector {
            return Err(Status::permission_denied(
                "a collector checks only for itself: this check names another collector",
            ));
        }
        let outcome = view.check(&query)?;
        let mut answer = response(&outcome, view.log_size(), query.at_ms);
        answer.peer_contact_ms = self.ledger.peer_contact_ms();
        // Fail closed when the caller's consistency or freshness demand is not met.
        let behind = request.min_subject_seq > 0
            && outcome
                .subject_head
                .is_none_or(|(seq, _)| seq < request.min_subject_seq);
        let stale = request.max_staleness_ms > 0
            && (answer.peer_contact_ms == 0
                || now.saturating_sub(answer.peer_contact_ms) > request.max_staleness_ms);
        if behind || stale {
            answer.decision = pb::Decision::Deny as i32;
            answer.reason = pb::Reason::NodeNotFresh as i32;
        }
        Ok(answer)
    }

    /// Adds the signed receipt, with its log evidence, to `answer` if `request` asked for one.
    fn sign(&self, request: &pb::CheckRequest, answer: &mut pb::CheckResponse, now: u64) {
        if request.receipt {
            let mut receipt = consent_proto::receipt::sign_decision(
                &self.node_key,
                pb::DecisionPayload {
                    node: Bytes::new(),
                    question: Some(request.clone()),
                    decision: answer.decision,
                    reason: answer.reason,
                    grant: answer.grant.clone(),
                    subject_head: answer.subject_head.clone(),
                    subject_head_seq: answer.subject_head_seq,
                    log_size: answer.log_size,
                    time_ms: now,
                },
            );
            evidence::attach(
                &self.ledger,
                &self.checkpoints,
                request,
                answer,
                &mut receipt,
            );
            answer.receipt = Some(receipt);
        }
    }
}

fn query(request: &pb::CheckRequest, now: u64) -> Result<Query, Status> {
    Ok(Query {
        subject: FeedId(id32("subject", &request.subject)?),
        collector: FeedId(id32("collector", &request.collector)?),
        purpose: Purpose::from_wire(request.purpose).ok_or_else(|| {
            Status::invalid_argument(format!(
                "purpose {} is not a known purpose",
                request.purpose
            ))
        })?,
        category: DataCategory::from_wire(request.category).ok_or_else(|| {
            Status::invalid_argument(format!(
                "category {} is not a known data category",
                request.category
            ))
        })?,
        at_ms: if request.at_ms == 0 {
            now
        } else {
            request.at_ms
        },
    })
}

fn response(outcome: &Outcome, log_size: u64, at_ms: u64) -> pb::CheckResponse {
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
    }
}

#[tonic::async_trait]
impl pb::consent_server::Consent for ConsentService {
    async fn authenticate(
        &self,
        request: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        let r = request.get_ref();
        let collector = FeedId(id32("collector", &r.collector)?);
        let (token, expires_ms) = self.sessions.authenticate(
            &self.ledger,
            collector,
            &r.node_key,
            r.time_ms,
            &r.signature,
            now_ms(),
        )?;
        Ok(Response::new(pb::AuthenticateResponse {
            token,
            expires_ms,
        }))
    }

    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let now = now_ms();
        let session = self
            .sessions
            .session(&self.ledger, request.metadata(), now)?;
        let started = std::time::Instant::now();
        let request = request.get_ref();
        let mut answer = self.decide(&self.ledger.view(), &session, request, now)?;
        let metrics = &self.ledger.metrics();
        metrics.check_time(started.elapsed());
        metrics.decision(&answer);
        self.sign(request, &mut answer, now);
        Ok(Response::new(answer))
    }

    type WatchStream = tokio_stream::wrappers::ReceiverStream<Result<pb::WatchEvent, Status>>;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let session = self
            .sessions
            .session(&self.ledger, request.metadata(), now_ms())?;
        let r = request.get_ref();
        let cursor = watch::Cursor::parse(&r.cursor)?;
        let heartbeat = watch::heartbeat(r.heartbeat_ms)?;
        let slot = self.sessions.admit_watch(&session)?;
        let (tx, rx) = tokio::sync::mpsc::channel(watch::BUFFER);
        let shutdown = self.shutdown.clone();
        let watching = self.ledger.metrics().watcher();
        let stream = watch::run(self.ledger.clone(), session, cursor, heartbeat, tx);
        tokio::spawn(async move {
            let (_watching, _slot) = (watching, slot);
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = stream => {}
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            rx,
        )))
    }

    async fn check_batch(
        &self,
        request: Request<pb::CheckBatchRequest>,
    ) -> Result<Response<pb::CheckBatchResponse>, Status> {
        let now = now_ms();
        let session = self
            .sessions
            .session(&self.ledger, request.metadata(), now)?;
        let checks = request.into_inner().checks;
        if checks.is_empty() || checks.len() > MAX_CHECK_BATCH {
            return Err(Status::resource_exhausted(format!(
                "a batch holds 1..={MAX_CHECK_BATCH} checks, got {}",
                checks.len()
            )));
        }
        // One view for the whole batch; receipts are signed after it is released.
        let view = self.ledger.view();
        let mut decisions = checks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.decide(&view, &session, c, now)
                    .map_err(|s| Status::new(s.code(), format!("check {i}: {}", s.message())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        drop(view);
        let metrics = &self.ledger.metrics();
        for (request, answer) in checks.iter().zip(&mut decisions) {
            metrics.decision(answer);
            self.sign(request, answer, now);
        }
        Ok(Response::new(pb::CheckBatchResponse { decisions }))
    }
}
