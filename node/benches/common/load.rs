//! The load the node benchmark drives over gRPC (unary and batched checks, unary and batched
//! submissions, each by many concurrent callers for a phase) and the baseline it is compared
//! with: an empty tonic handler with the same message sizes.

use super::*;

/// Which receipts a check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receipts {
    /// None.
    No,
    /// Each signed alone (a client that does not ask for groups).
    Alone,
    /// Signed in groups (`consent-receipt-form: group`, as the SDK asks).
    Grouped,
}

pub(crate) async fn run_checks(
    channels: &[Channel],
    subjects: &[consent_proto::ids::FeedId],
    collector: consent_proto::ids::FeedId,
    bearer: &Bearer,
    receipts: Receipts,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let subjects = Arc::new(subjects.to_vec());
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let mut bearer = bearer.clone();
        // The SDK's session asks for grouped receipts; a client that does not is measured too.
        let mut client = pb::consent_client::ConsentClient::with_interceptor(
            channels[i % channels.len()].clone(),
            move |request| {
                let mut request = tonic::service::Interceptor::call(&mut bearer, request)?;
                if receipts == Receipts::Alone {
                    request
                        .metadata_mut()
                        .remove(consent_proto::receipt::group::FORM_KEY);
                }
                Ok(request)
            },
        );
        let stop = Arc::clone(&stop);
        let subjects = Arc::clone(&subjects);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                let mut req = check_request(&subjects[n % subjects.len()], &collector);
                req.receipt = receipts != Receipts::No;
                n += CALLERS;
                let t = Instant::now();
                let r = client.check(req).await?.into_inner();
                anyhow::ensure!(
                    r.decision() == pb::Decision::Allow,
                    "unexpected deny: {:?}",
                    r.reason()
                );
                lat.push(t.elapsed().as_micros() as u32);
            }
            anyhow::Ok(lat)
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all.len() as f64 / start.elapsed().as_secs_f64(), all))
}

pub(crate) async fn run_check_batches(
    channels: &[Channel],
    subjects: &[consent_proto::ids::FeedId],
    collector: consent_proto::ids::FeedId,
    bearer: &Bearer,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let batch: Vec<pb::CheckRequest> = subjects
        .iter()
        .take(1000)
        .map(|s| check_request(s, &collector))
        .collect();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let mut client = pb::consent_client::ConsentClient::with_interceptor(
            channels[i % channels.len()].clone(),
            bearer.clone(),
        );
        let stop = Arc::clone(&stop);
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut decisions = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = client
                    .check_batch(pb::CheckBatchRequest {
                        checks: batch.clone(),
                    })
                    .await?
                    .into_inner();
                decisions += r.decisions.len();
                lat.push(t.elapsed().as_micros() as u32);
            }
            anyhow::Ok((decisions, lat))
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let (mut decisions, mut all) = (0, Vec::new());
    for t in tasks {
        let (d, l) = t.await??;
        decisions += d;
        all.extend(l);
    }
    Ok((decisions as f64 / start.elapsed().as_secs_f64(), all))
}

/// Unary checks of prebuilt `requests` (each must be allowed), [`CALLERS`] concurrent callers
/// taking them in turn: `(checks/s, latencies µs)`.
pub(crate) async fn run_requests(
    channels: &[Channel],
    requests: &[pb::CheckRequest],
    bearer: &Bearer,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    anyhow::ensure!(!requests.is_empty(), "no checks to run");
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(requests.to_vec());
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let mut client = pb::consent_client::ConsentClient::with_interceptor(
            channels[i % channels.len()].clone(),
            bearer.clone(),
        );
        let stop = Arc::clone(&stop);
        let requests = Arc::clone(&requests);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                let req = requests[n % requests.len()].clone();
                n += CALLERS;
                let t = Instant::now();
                let r = client.check(req).await?.into_inner();
                anyhow::ensure!(
                    r.decision() == pb::Decision::Allow,
                    "unexpected deny: {:?}",
                    r.reason()
                );
                lat.push(t.elapsed().as_micros() as u32);
            }
            anyhow::Ok(lat)
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((all.len() as f64 / start.elapsed().as_secs_f64(), all))
}

/// CheckBatch calls of the first 1,000 of `requests` (each must be allowed), 4 callers:
/// `(decisions/s, call latencies µs)`.
pub(crate) async fn run_request_batches(
    channels: &[Channel],
    requests: &[pb::CheckRequest],
    bearer: &Bearer,
    phase: Duration,
) -> anyhow::Result<(f64, Vec<u32>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let batch: Vec<pb::CheckRequest> = requests.iter().take(1000).cloned().collect();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let mut client = pb::consent_client::ConsentClient::with_interceptor(
            channels[i % channels.len()].clone(),
            bearer.clone(),
        );
        let stop = Arc::clone(&stop);
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut decisions = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = client
                    .check_batch(pb::CheckBatchRequest {
                        checks: batch.clone(),
                    })
                    .await?
                    .into_inner();
                anyhow::ensure!(
                    r.decisions
                        .iter()
                        .all(|d| d.decision() == pb::Decision::Allow),
                    "a check with context was denied"
                );
                decisions += r.decisions.len();
                lat.push(t.elapsed().as_micros() as u32);
            }
            anyhow::Ok((decisions, lat))
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(phase).await;
    stop.store(true, Ordering::Relaxed);
    let (mut decisions, mut all) = (0, Vec::new());
    for t in tasks {
        let (d, l) = t.await??;
        decisions += d;
        all.extend(l);
    }
    Ok((decisions as f64 / start.elapsed().as_secs_f64(), all))
}

/// A Consent service that answers every check with a fixed response of the real size.
pub(crate) struct EmptyConsent;

#[tonic::async_trait]
impl pb::consent_server::Consent for EmptyConsent {
    type WatchStream = tokio_stream::Empty<Result<pb::WatchEvent, tonic::Status>>;

    async fn watch(
        &self,
        _: tonic::Request<pb::WatchRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("baseline"))
    }

    async fn authenticate(
        &self,
        _: tonic::Request<pb::AuthenticateRequest>,
    ) -> Result<tonic::Response<pb::AuthenticateResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("baseline"))
    }

    async fn check(
        &self,
        _: tonic::Request<pb::CheckRequest>,
    ) -> Result<tonic::Response<pb::CheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(pb::CheckResponse {
            decision: pb::Decision::Allow as i32,
            reason: pb::Reason::Granted as i32,
            grant: Bytes::from_static(&[7; 32]),
            subject_head: Bytes::from_static(&[8; 32]),
            subject_head_seq: 1,
            log_size: 20_005,
            at_ms: 1_764_000_000_000,
            peer_contact_ms: 1_764_000_000_000,
            receipt: None,
            when: pb::QuestionTime::Current as i32,
            required_form: 0,
            delegated: None,
        }))
    }
    async fn check_batch(
        &self,
        _: tonic::Request<pb::CheckBatchRequest>,
    ) -> Result<tonic::Response<pb::CheckBatchResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("baseline"))
    }
}

pub(crate) struct EmptyServer {
    pub(crate) addr: SocketAddr,
    stop: tokio_util::sync::CancellationToken,
}

impl EmptyServer {
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stop = tokio_util::sync::CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .concurrency_limit_per_connection(256)
                .add_service(pb::consent_server::ConsentServer::new(EmptyConsent))
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown,
                )
                .await;
        });
        Ok(Self { addr, stop })
    }
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }
}
