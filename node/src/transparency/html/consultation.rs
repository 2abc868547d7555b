//! Public consultations as pages show them: one consultation's page (what the version changes,
//! its window, the stances by group and reason, the collector's answers, the registrar's
//! outcome), the open consultations on the front page, and a version's consultation note on its
//! collector's page.

use maud::{Markup, html};

use super::{Frame, Page, day, figure, layout, policy};
use crate::transparency::view::{
    ChangeView, ConsultationSummaryView, ConsultationView, PolicyConsultationView, TallyView,
};

/// A consultation's state for its collector's page: the state in words and a link to it.
pub(super) fn consultation_note(c: &PolicyConsultationView) -> Markup {
    html! {
        p {
            @if c.widening { "Draft put to public consultation (it widens what is collected): " }
            @else { "Put to public consultation (it widens nothing, so it applied at once): " }
            @match c.state {
                "approved" => span.ok { (c.state_text) },
                "open" | "awaiting-outcome" => strong { (c.state_text) },
                _ => span.bad { (c.state_text) },
            }
            ". " a href=(c.page) { "See the consultation" }
        }
    }
}

/// The counts of one group, by stance and by reason.
fn tally(label: &str, t: &TallyView) -> Markup {
    html! {
        section aria-label=(label) {
            h3 { (label) }
            dl {
                (figure("Support", t.support))
                (figure("Object", t.object))
                @for r in &t.reasons {
                    (figure(&format!("\u{2026} because {}", r.meaning), r.count))
                }
            }
        }
    }
}

/// One change, marked wider or narrower.
fn change(c: &ChangeView) -> Markup {
    html! {
        li {
            @match c.direction {
                "widens" => strong.bad { "Wider: " },
                "narrows" => strong.ok { "Narrower: " },
                _ => {},
            }
            (c.sentence)
        }
    }
}

/// The open consultations, on the front page.
pub(super) fn open_consultations(open: &[ConsultationSummaryView]) -> Markup {
    html! {
        section aria-labelledby="open-consultations" {
            h2 id="open-consultations" { "Open consultations" }
            p {
                "A collector that wants to collect more, or for more purposes, must first put the "
                "new version of its policy to public consultation: anyone may support it or object "
                "to it, it must answer the objections, and it applies only if a registrar approves "
                "it after the window."
            }
            @for c in open {
                article.card aria-labelledby=(format!("k-{}", c.draft)) {
                    h3 id=(format!("k-{}", c.draft)) {
                        a href=(c.page) { (c.name) ", version " (c.version) }
                    }
                    p {
                        "Closes " time datetime=(c.closes_at) { (day(&c.closes_at)) }
                        @if let Some(left) = &c.time_left { ", in " (left) }
                        "."
                    }
                    ul { @for item in &c.changes { (change(item)) } }
                    dl {
                        (figure("Support (people with a consent to it)", c.counts.affected.support))
                        (figure("Object (people with a consent to it)", c.counts.affected.object))
                        (figure("Support (others)", c.counts.others.support))
                        (figure("Object (others)", c.counts.others.object))
                    }
                }
            }
        }
    }
}

/// One consultation's page: what the version changes, its window, the stances by group and
/// reason, the collector's answers and the registrar's outcome.
pub(crate) fn consultation(frame: &Frame, c: &ConsultationView) -> Markup {
    let s = &c.summary;
    let title = format!("Consultation: {}, version {}", s.name, s.version);
    let body = html! {
        h1 { (title) }
        p {
            "Collector: " a href=(format!("/collectors/{}", s.collector)) { (s.name) }
            " " span.id { "(" (s.collector) ")" }
        }
        p role="note" class="card" { strong { (c.note) } }
        dl {
            dt { "State" } dd {
                @match s.state {
                    "approved" => span.ok { (s.state_text) },
                    "open" | "awaiting-outcome" => strong { (s.state_text) },
                    _ => span.bad { (s.state_text) },
                }
            }
            dt { "What it means" } dd {
                @if s.widening {
                    "This version widens what is collected: it is a draft, and takes effect only if a "
                    "registrar approves it after the window, once the collector has answered every "
                    "objection reason many people raised. Until then the version before it applies."
                } @else {
                    "This version widens nothing: it applied as soon as it was signed. The "
                    "consultation is voluntary; its outcome changes nothing on the ledger."
                }
            }
            dt { "Window" } dd {
                "from " time datetime=(s.opened_at) { (day(&s.opened_at)) }
                " to " time datetime=(s.closes_at) { (s.closes_at) }
                @if let Some(left) = &s.time_left { " (" (left) " left)" }
            }
            dt { "Version" } dd { (s.version) " " span.id { "(" (s.draft) ")" } }
        }
        h2 { "What changes" }
        @if c.compared.is_empty() { p { "It is the collector's first version." } }
        @for k in &c.compared {
            section aria-label=(format!("Compared with version {}", k.version)) {
                h3 {
                    "Compared with version " (k.version)
                    @if k.role == "base" { " (the last version that was not a draft)" }
                    @else { " (the version just before it)" }
                }
                ul { @for item in &k.items { (change(item)) } }
            }
        }
        h2 { "What people said" }
        p {
            "Each pseudonymous feed counts once, with its latest stance. Counts below "
            (frame.k) " are shown as \u{201c}< " (frame.k) "\u{201d}."
        }
        (tally("People with a consent to this collector", &s.counts.affected))
        (tally("Others", &s.counts.others))
        h2 { "The collector's answers" }
        @if c.responses.is_empty() { p { "No answer yet." } }
        @for r in &c.responses {
            section.card aria-label=(format!("Answer to: {}", r.meaning)) {
                h3 { "To \u{201c}" (r.meaning) "\u{201d}" }
                p { (r.text) }
                p.note {
                    "Signed " time datetime=(r.signed_at) { (day(&r.signed_at)) }
                    @if let Some(d) = &r.document_digest { " \u{b7} longer answer's digest: " span.id { (d) } }
                }
            }
        }
        h2 { "Outcome" }
        @if c.outcomes.is_empty() { p { "No registrar has recorded an outcome yet." } }
        @for o in &c.outcomes {
            section.card aria-label=(format!("Outcome {}", o.entry)) {
                h3 {
                    @if o.result == "approved" { span.ok { "Approved" } } @else { span.bad { "Changes required" } }
                    " by " (o.registrar_name.as_deref().unwrap_or("a registrar"))
                }
                p { (o.text) }
                p.note {
                    "Signed " time datetime=(o.signed_at) { (o.signed_at) }
                    " \u{b7} relied on " (o.responses.len()) " answers"
                    @if o.counts { " \u{b7} this is the outcome that counts" }
                    @else { " \u{b7} does not count (an earlier outcome, or a newer version, came first)" }
                }
            }
        }
        h2 { "The version in full" }
        (policy(&c.policy))
    };
    layout(frame, Page::Consultation, &title, body)
}
