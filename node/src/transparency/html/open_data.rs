//! The open-data page: the JSON API's endpoints and how counts are written.

use maud::{Markup, html};

use super::{Frame, Page, layout};

/// The API's description.
pub(crate) fn api(frame: &Frame) -> Markup {
    let endpoints = [
        (
            "/api/v1/collectors",
            "Every collector: policy, accreditation, consent figures.",
        ),
        (
            "/api/v1/collectors/{id}",
            "One collector (id col1…), with answer times, policy history, consents signed by \
             assistants and guardians in a person's name, and its scope (zones with their \
             cells, sensors, times, forms) with consents per zone and per form.",
        ),
        (
            "/collectors/{id}/map.svg",
            "The map of a collector's zones: their H3 cells as an SVG drawing.",
        ),
        (
            "/api/v1/consultations?open=1&collector={id}&page=N",
            "Public consultations on policy versions (open=1: open now, closing first; \
             collector=col1…: one collector's), 20 to a page: window, state, first changes, \
             stances by group.",
        ),
        (
            "/api/v1/consultations/{draft}",
            "One consultation (draft ent1…): every change with its direction (widens, narrows, \
             neutral), stances by group and objection reason, the collector's answers, the \
             registrar's outcomes.",
        ),
        (
            "/api/v1/network",
            "Nodes, operators, checkpoints, cosignatures, fork proofs.",
        ),
        (
            "/api/v1/vocabulary",
            "Purposes, data categories and request kinds.",
        ),
    ];
    let body = html! {
        h1 { "Open data" }
        p {
            "Everything on these pages is also served as JSON, for journalists and researchers. "
            "No key is needed. Counts are objects: " code { r#"{"exactly": 12}"# } " or, below "
            "the threshold, " code { (format!(r#"{{"fewer_than": {}}}"#, frame.k)) } "."
        }
        dl {
            @for (path, what) in endpoints {
                dt { code { (path) } }
                dd { (what) }
            }
        }
    };
    layout(frame, Page::Api, "Open data", body)
}
