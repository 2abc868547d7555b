//! `consent check`: a collector asks the node whether a subject's consent covers a use.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use consent_client::collector::Collector as Session;
use consent_client::{policy_file, time};
use consent_proto::pb;
use consent_proto::vocab::{DataCategory, Form, Purpose, Role, SensorKind};
use prost::bytes::Bytes;
use serde_json::json;

use crate::ctx::{self, Global, emit, feed_arg};

/// `consent check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Subject id (cit1...): the citizen's pairwise id for this collector.
    #[arg(long)]
    pub subject: String,
    /// Collector id (col1...): optional, must be the keystore's own (a collector checks only
    /// for itself; the check runs in a session signed with the keystore's current key).
    #[arg(long)]
    pub collector: Option<String>,
    /// Purpose, e.g. service-provision.
    #[arg(long)]
    pub purpose: String,
    /// Data category, e.g. vehicle.
    #[arg(long)]
    pub category: String,
    /// The time asked about (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// Ask for the decision signed by the node, with its log evidence, and write it to this file
    /// (check it anywhere with `consent verify-receipt FILE`).
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
    /// The observation's context, which a scoped policy or grant needs: the sensor that made it
    /// (its id in the policy), with --sensor-kind.
    #[arg(long, value_name = "ID")]
    pub sensor: Option<u32>,
    /// The kind of that sensor, as the policy declares it (e.g. air-quality), with --sensor: a
    /// grant is judged in the policy version it names, where the id may be another kind of
    /// sensor, so the node allows only when the kinds agree.
    #[arg(long, value_name = "KIND")]
    pub sensor_kind: Option<String>,
    /// Where it was made: an H3 cell in hex, of any resolution at least the zone's.
    #[arg(long, value_name = "HEX")]
    pub cell: Option<String>,
    /// When it was made (2027-01-31T08:30:00Z, or now).
    #[arg(long, value_name = "TIME")]
    pub observed: Option<String>,
    /// The form the data will be kept in: raw, pseudonymised, binned or aggregated.
    #[arg(long, value_name = "FORM")]
    pub form: Option<String>,
}

/// The `--sensor/--sensor-kind/--cell/--observed/--form` flags as the check's context; `None`
/// when none is given (a check without context, as before scopes existed). A sensor is given
/// with its kind or not at all.
fn observation(a: &CheckArgs) -> anyhow::Result<Option<pb::ObservationContext>> {
    if a.sensor.is_none()
        && a.sensor_kind.is_none()
        && a.cell.is_none()
        && a.observed.is_none()
        && a.form.is_none()
    {
        return Ok(None);
    }
    if a.sensor == Some(0) {
        bail!("--sensor: sensor ids start at 1");
    }
    let sensor_kind = a
        .sensor_kind
        .as_deref()
        .map(SensorKind::from_name)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--sensor-kind: {e}"))?;
    match (a.sensor, sensor_kind) {
        (Some(id), None) => bail!(
            "--sensor {id} needs --sensor-kind, the kind of that sensor as your policy declares \
             it (a grant under another policy version may give id {id} to another kind)"
        ),
        (None, Some(kind)) => bail!("--sensor-kind {kind} needs --sensor, the sensor's id"),
        _ => {}
    }
    let cell = a
        .cell
        .as_deref()
        .map(policy_file::parse_cell)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--cell: {e}"))?;
    let observed_ms = match a.observed.as_deref().map(str::trim) {
        None => 0,
        Some("now") => time::now_ms(),
        Some(t) => time::parse(t).map_err(|e| anyhow::anyhow!("--observed: {e}"))?,
    };
    let form = a
        .form
        .as_deref()
        .map(Form::from_name)
        .transpose()?
        .map_or(0, |f| f as i32);
    Ok(Some(pb::ObservationContext {
        sensor: a.sensor.unwrap_or(0),
        sensor_kind: sensor_kind.map_or(0, |k| k as i32),
        cell: cell.map_or(0, |c| c.raw()),
        observed_ms,
        form,
    }))
}

pub async fn check(a: CheckArgs, g: &Global) -> anyhow::Result<()> {
    let subject = feed_arg("--subject", &a.subject, Role::Citizen)?;
    let context = observation(&a)?;
    let purpose = Purpose::from_name(&a.purpose)?;
    let category = DataCategory::from_name(&a.category)?;
    let at_ms =
        a.at.as_deref()
            .map(time::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?
            .unwrap_or(0);
    let mut ks = g.open(Role::Collector)?;
    let mut node = g.connect().await?;
    let author = ctx::own(&mut node, &mut ks).await?;
    let me = author.feed();
    if let Some(named) = &a.collector {
        let named = feed_arg("--collector", named, Role::Collector)?;
        if named != me {
            bail!(
                "this keystore is collector {}; a collector checks only for itself (use that collector's keystore)",
                me.typed(Role::Collector)
            );
        }
    }
    let mut collector =
        Session::connect_with(node.url(), author.key().clone(), me, node.tls()).await?;
    // A receipt for a file is signed alone: the file may go to a verifier that predates
    // receipt groups.
    let r = collector
        .check_signed_alone(pb::CheckRequest {
            subject: Bytes::copy_from_slice(&subject.0),
            collector: Bytes::copy_from_slice(&me.0),
            purpose: purpose as i32,
            category: category as i32,
            at_ms,
            receipt: a.receipt.is_some(),
            context,
            ..Default::default()
        })
        .await?;
    if let Some(path) = &a.receipt {
        let receipt = r
            .receipt
            .as_ref()
            .context("the node answered without the receipt it was asked for")?;
        let file = pb::ReceiptFile {
            receipt: Some(pb::receipt_file::Receipt::Decision(receipt.clone())),
        };
        std::fs::write(path, prost::Message::encode_to_vec(&file))
            .with_context(|| format!("cannot write the receipt to {}", path.display()))?;
    }
    let decision = match r.decision() {
        pb::Decision::Allow => "allow",
        _ => "deny",
    };
    let reason = r
        .reason()
        .as_str_name()
        .trim_start_matches("REASON_")
        .to_ascii_lowercase()
        .replace('_', "-");
    let grant = consent_proto::EntryId::from_slice(&r.grant)
        .ok()
        .map(|g| g.to_string());
    let head = consent_proto::EntryId::from_slice(&r.subject_head)
        .ok()
        .map(|g| g.to_string());
    let when = match r.when() {
        pb::QuestionTime::Past => format!(" about {}: a past question", time::format(r.at_ms)),
        pb::QuestionTime::Future => format!(" about {}: a future question", time::format(r.at_ms)),
        _ => String::new(),
    };
    // The form to transform the data to (then check again with it), when the grant names one.
    let required = Form::from_wire(r.required_form).map(|f| f.name());
    // A grant a delegate signed in the subject's name: the delegation it rests on.
    let delegated = r
        .delegated
        .as_ref()
        .and_then(consent_proto::delegation::DelegationUsed::from_wire);
    let delegated_json = delegated.map(|d| {
        json!({
            "delegation": d.delegation.to_string(),
            "delegate": d.delegate.typed(Role::Citizen).to_string(),
            "kind": d.kind.name(),
            "endorsement": d.endorsement.map(|e| e.to_string()),
        })
    });
    emit(
        g.json,
        format!(
            "{decision} ({reason}){}{when}{}{}",
            grant
                .as_ref()
                .map(|g| if r.decision() == pb::Decision::Allow {
                    format!(", grant {g}")
                } else {
                    // A deny names the grant closest to the question, which does not allow it.
                    format!(", nearest grant {g}")
                })
                .unwrap_or_default(),
            required
                .map(|f| format!("; required form: {f}"))
                .unwrap_or_default(),
            delegated
                .map(|d| format!(
                    "; signed by {} {} under delegation {}",
                    if d.kind == consent_proto::vocab::DelegationKind::Guardian {
                        "a guardian,"
                    } else {
                        "an assistant,"
                    },
                    d.delegate.typed(Role::Citizen),
                    d.delegation
                ))
                .unwrap_or_default()
        ),
        json!({
            "delegated": delegated_json,
            "decision": decision,
            "reason": reason,
            "grant": grant,
            "subject_head": head,
            "subject_head_seq": r.subject_head_seq,
            "log_size": r.log_size,
            "at": time::format(r.at_ms),
            "question_time": r
                .when()
                .as_str_name()
                .trim_start_matches("QUESTION_TIME_")
                .to_ascii_lowercase(),
            "required_form": required,
        }),
    );
    Ok(())
}
