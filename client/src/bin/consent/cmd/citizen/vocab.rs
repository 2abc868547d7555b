//! `consent vocab`: the purposes, sensor kinds, data categories, request kinds and forms, with
//! what each means.

use consent_proto::vocab::{DataCategory, Form, Purpose, RequestKind, SensorKind};
use serde_json::json;

use crate::ctx::{self, Global, emit};
use crate::describe;

/// `consent vocab`.
pub fn vocab(g: &Global) {
    // (kind, heading, [(name, meaning)])
    type List = (
        &'static str,
        &'static str,
        Vec<(&'static str, &'static str)>,
    );
    let lists: [List; 4] = [
        (
            "purpose",
            "purposes (--purpose)",
            Purpose::ALL.iter().map(|p| (p.name(), p.plain())).collect(),
        ),
        (
            "sensor-kind",
            "sensor kinds (--sensor-kind; a policy's sensors are of these kinds)",
            SensorKind::ALL
                .iter()
                .map(|k| (k.name(), k.plain()))
                .collect(),
        ),
        (
            "category",
            "data categories (--category)",
            DataCategory::ALL
                .iter()
                .map(|c| (c.name(), c.plain()))
                .collect(),
        ),
        (
            "request",
            "requests (consent request COLLECTOR KIND)",
            RequestKind::ALL
                .iter()
                .map(|k| (k.name(), k.plain()))
                .collect(),
        ),
    ];
    for (kind, heading, items) in lists {
        if !g.json {
            ctx::out(format!("{heading}:"));
        }
        for (name, plain) in items {
            emit(
                g.json,
                format!("  {name:<26} {plain}"),
                json!({"kind": kind, "name": name, "meaning": plain}),
            );
        }
    }
    if !g.json {
        ctx::out(
            "forms data is kept in, least to most protective (--form PURPOSE=FORM accepts that form and the more protective ones):",
        );
    }
    for form in Form::ALL {
        emit(
            g.json,
            format!(
                "  {:<26} {} (rank {}, {})",
                form.name(),
                describe::form_meaning(*form),
                form.rank(),
                form.dpv()
            ),
            json!({
                "kind": "form",
                "name": form.name(),
                "meaning": describe::form_meaning(*form),
                "rank": form.rank(),
                "dpv": form.dpv(),
            }),
        );
    }
}
