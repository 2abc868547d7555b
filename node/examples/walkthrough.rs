//! The demo's scripted walk through the consent life cycle against a running node:
//! registrar accredits a collector, the collector publishes its policy, a citizen grants,
//! check = allow, the citizen revokes (asking for erasure), check = deny.
//! Exits non-zero if any step misbehaves. Usage: `walkthrough --node http://127.0.0.1:50051`.
//!
//! It signs as the development network's registrar, whose key is public: it only works on a
//! network whose genesis lists that registrar (`consentd genesis --dev-registrar`).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use consent_proto::Entry;
use consent_proto::body::{Accreditation, Body, Grant, Policy, Revoke};
use consent_proto::entry::Author;
use consent_proto::ids::Digest;
use consent_proto::keys::SecretKey;
use consent_proto::pb;
use consent_proto::pb::consent_client::ConsentClient;
use consent_proto::pb::ledger_client::LedgerClient;
use consent_proto::vocab::{DataCategory, Purpose, Role};
use prost::bytes::Bytes;
use tonic::transport::Channel;

fn now_ms() -> u64 {
    consent_node::ledger::now_ms()
}

fn fresh_key() -> anyhow::Result<SecretKey> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(SecretKey::from_seed(&seed))
}

async fn connect(url: &str) -> anyhow::Result<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Channel::from_shared(url.to_string())?.connect().await {
            Ok(c) => return Ok(c),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e).with_context(|| format!("node at {url} is unreachable")),
        }
    }
}

async fn submit(
    ledger: &mut LedgerClient<Channel>,
    entry: &Entry,
    what: &str,
) -> anyhow::Result<()> {
    let r = ledger
        .submit(pb::SubmitRequest {
            entry: Some(entry.to_signed()),
        })
        .await
        .with_context(|| format!("submitting {what}"))?
        .into_inner();
    match r.status() {
        pb::SubmitStatus::Accepted | pb::SubmitStatus::Duplicate => {
            let receipt = consent_proto::receipt::verify(&r.receipt.unwrap_or_default())?;
            println!(
                "    stored as entry {} at log index {} (receipt signed by {})",
                entry.id,
                receipt.index,
                receipt.node.to_text("node")
            );
            Ok(())
        }
        other => bail!("{what}: node answered {other:?}"),
    }
}

async fn check(
    consent: &mut ConsentClient<Channel>,
    subject: &Author,
    collector: &Author,
    expect: pb::Decision,
) -> anyhow::Result<pb::CheckResponse> {
    let r = consent
        .check(pb::CheckRequest {
            subject: Bytes::copy_from_slice(&subject.feed().0),
            collector: Bytes::copy_from_slice(&collector.feed().0),
            purpose: Purpose::ServiceProvision as i32,
            category: DataCategory::Vehicle as i32,
            at_ms: 0,
        })
        .await?
        .into_inner();
    let decision = r.decision();
    println!(
        "    decision: {} (reason: {})",
        decision.as_str_name(),
        r.reason().as_str_name()
    );
    if decision != expect {
        bail!(
            "expected {}, the node answered {}",
            expect.as_str_name(),
            decision.as_str_name()
        );
    }
    Ok(r)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = match (args.next().as_deref(), args.next()) {
        (Some("--node"), Some(url)) => url,
        _ => "http://127.0.0.1:50051".to_string(),
    };
    let channel = connect(&url).await?;
    let mut ledger = LedgerClient::new(channel.clone());
    let mut consent = ConsentClient::new(channel);
    let t = now_ms();

    println!("1. The registrar (the city's data office) accredits a collector");
    let (mut registrar, reg0) = consent_proto::dev::registrar().map_err(anyhow::Error::msg)?;
    submit(&mut ledger, &reg0, "registrar inception").await?;
    let head = ledger
        .get_head(pb::GetHeadRequest {
            feed: Bytes::copy_from_slice(&registrar.feed().0),
        })
        .await?
        .into_inner();
    // The dev registrar may have signed before (earlier demo runs): continue from the node's head.
    registrar = registrar.with_head(
        head.seq,
        consent_proto::EntryId(head.head.as_ref().try_into()?),
    );
    let (mut collector, col0) = Author::incept(Role::Collector, fresh_key()?, fresh_key()?, t)?;
    println!(
        "   collector id: {}",
        collector.feed().typed(Role::Collector)
    );
    submit(&mut ledger, &col0, "collector inception").await?;
    let acc = registrar.append(
        t,
        Body::Accreditation(Accreditation {
            collector: collector.feed(),
            valid_until: t + 365 * 86_400_000,
        }),
    )?;
    submit(&mut ledger, &acc, "accreditation").await?;

    println!("2. The collector (a parking operator) publishes its data policy");
    let policy = collector.append(
        t,
        Body::Policy(Policy {
            version: 1,
            name: "Riverside Parking - street parking".into(),
            purposes: [Purpose::ServiceProvision, Purpose::Billing]
                .into_iter()
                .collect(),
            categories: [DataCategory::Vehicle, DataCategory::Location]
                .into_iter()
                .collect(),
            retention_days: 90,
            recipients: vec!["Payment processor".into()],
            jurisdiction: "EU/GDPR".into(),
            document_digest: Digest(
                *blake3::hash(b"Riverside Parking privacy policy v1").as_bytes(),
            ),
            document_url: "https://parking.example/privacy/v1".into(),
            contact: "dpo@parking.example".into(),
        }),
    )?;
    submit(&mut ledger, &policy, "policy").await?;

    println!(
        "3. A citizen grants consent: vehicle data, for providing the parking service, 30 days"
    );
    let (mut citizen, cit0) = Author::incept(Role::Citizen, fresh_key()?, fresh_key()?, t)?;
    println!(
        "   subject id (pairwise, for this collector only): {}",
        citizen.feed().typed(Role::Citizen)
    );
    submit(&mut ledger, &cit0, "citizen inception").await?;
    let grant = citizen.append(
        t,
        Body::Grant(Grant {
            collector: collector.feed(),
            policy: policy.id,
            purposes: [Purpose::ServiceProvision].into_iter().collect(),
            categories: [DataCategory::Vehicle].into_iter().collect(),
            retention_days: 30,
            valid_from: t,
            valid_until: Some(t + 30 * 86_400_000),
        }),
    )?;
    submit(&mut ledger, &grant, "grant").await?;

    println!("4. Before storing a parking session, the collector checks consent");
    let allowed = check(&mut consent, &citizen, &collector, pb::Decision::Allow).await?;
    if allowed.grant.as_ref() != grant.id.0.as_slice() {
        bail!("the allow does not name the grant");
    }

    println!("5. The citizen withdraws consent and asks for erasure");
    let revoke = citizen.append(
        now_ms().max(t),
        Body::Revoke(Revoke {
            grant: grant.id,
            erase: true,
        }),
    )?;
    submit(&mut ledger, &revoke, "revocation").await?;

    println!("6. The collector checks again");
    let denied = check(&mut consent, &citizen, &collector, pb::Decision::Deny).await?;
    if denied.reason() != pb::Reason::Revoked {
        bail!(
            "expected reason REVOKED, got {}",
            denied.reason().as_str_name()
        );
    }
    println!("Done: grant -> allow, revoke -> deny. Every step was signed and stored durably.");
    Ok(())
}
