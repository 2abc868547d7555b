//! One collector's page: its accreditation, its policy in effect, where, when and in what form it
//! collects, its consent and request figures (and, apart, the consents delegates signed), how
//! fast it answers, and its policy history.

use maud::{Markup, html};

use super::consultation::consultation_note;
use super::{Frame, Page, day, figure, layout, policy, standing};
use crate::transparency::view::{CollectorView, ScopeView};

/// One collector's page.
pub(crate) fn collector(frame: &Frame, c: &CollectorView) -> Markup {
    let name = c.name.as_deref().unwrap_or("Unnamed collector");
    let body = html! {
        h1 { (name) }
        p { "Collector id: " span.id { (c.id) } }
        h2 { "Accreditation" }
        (standing(&c.standing, c.frozen))
        h2 { "Its policy, in plain words" }
        @match &c.policy {
            Some(p) => {
                @if let Some(k) = &p.consultation { (consultation_note(k)) }
                (policy(p))
            },
            None => p { "No version in effect: it cannot receive consent." },
        }
        @if let Some(scope) = &c.scope {
            (scope_section(scope))
        }
        h2 { "Consent and requests" }
        dl {
            (figure("Consents in force", c.grants_in_force))
            (figure("Consents ever given", c.grants_total))
            (figure("Consents withdrawn", c.revocations))
            (figure("… of which asking for erasure", c.erasure_revocations))
            @for (kind, n) in &c.requests {
                (figure(&format!("Requests for {}", request_plain(kind)), *n))
            }
        }
        @if let Some(d) = &c.delegated {
            h3 { "Consents signed in someone else's name" }
            p {
                "An assistant signs for an adult who asked for help; a guardian signs for a child "
                "until the child comes of age. These consents are counted here, apart from the "
                "figures above, which count what people signed themselves. A consent signed "
                "after its delegation was withdrawn, or one two guardians must sign that only "
                "one has signed, is not in force."
            }
            dl {
                (figure("Signed by assistants: in force", d.assistant.in_force))
                (figure("Signed by assistants: ever given", d.assistant.total))
                (figure("Signed by guardians: in force", d.guardian.in_force))
                (figure("Signed by guardians: ever given", d.guardian.total))
            }
        }
        @if let Some(a) = &c.answers {
            h2 { "How fast it answers" }
            p {
                "Time from a request (or a withdrawal asking for erasure) to the collector's signed "
                "answer. The law gives it " (a.deadline_days) " days. Times are as this node saw "
                "them: a date written more than 10 minutes before the entry reached this node is "
                "not believed."
            }
            dl {
                (figure("Requests received", a.received))
                (figure("Answered", a.answered))
                dt { "Median time to answer" }
                dd { (hours(a.median_hours, frame.k)) }
                dt { "95% answered within" }
                dd { (hours(a.p95_hours, frame.k)) }
                (figure("Overdue now", a.overdue))
                (figure("Answered late", a.answered_late))
            }
        }
        h2 { "Policy history" }
        @if c.history.is_empty() { p { "No earlier versions." } }
        @else {
            @if let Some(p) = &c.policy {
                section.card aria-label=(format!("Changes in version {}", p.version)) {
                    h3 { "Version " (p.version) " (current): what changed" }
                    ul { @for change in &p.changes { li { (change) } } }
                }
            }
            @for old in &c.history {
                details.card {
                    summary {
                        "Version " (old.version) ", signed " (day(&old.signed_at))
                        @if let Some(k) = &old.consultation { " \u{b7} consultation: " (k.state) }
                    }
                    @if let Some(k) = &old.consultation { (consultation_note(k)) }
                    @if !old.changes.is_empty() {
                        ul { @for change in &old.changes { li { (change) } } }
                    }
                    (policy(old))
                }
            }
            @if c.history_not_shown > 0 {
                p.note {
                    (c.history_not_shown) " older versions are not shown here; every version is "
                    "in the collector's signed feed on the ledger."
                }
            }
        }
    };
    layout(frame, Page::Collector, name, body)
}

/// Where, with which sensors, when and in what form a collector collects, with the consents
/// per zone and per form.
fn scope_section(s: &ScopeView) -> Markup {
    html! {
        h2 { "Where, when and in what form" }
        p {
            "Its policy limits collection to what is listed here; a citizen may consent to less "
            "(some zones, sensors or hours, or a more protective form). Times are in "
            (s.utc_offset) " all year: there is no daylight saving time on the ledger."
        }
        @if let Some(map) = &s.map {
            figure {
                img src=(map) width="640" alt=(format!(
                    "Map of the {} zones where it collects, drawn as the hexagonal cells the policy lists.",
                    s.zones.len()
                ));
                figcaption.note { "The zones' cells (H3). The cells are what the policy signs; the map is drawn from them." }
            }
        }
        h3 { "Zones" }
        @if s.zones.is_empty() { p { "None declared: it may collect anywhere its sensors are." } }
        @else {
            dl {
                @for z in &s.zones {
                    dt { "Zone " (z.id) ": " (z.name) }
                    dd {
                        (z.cells.len()) " cells of " (z.cell_area) " · consents covering it: " (z.consents)
                    }
                }
            }
        }
        h3 { "Sensors" }
        @if s.sensors.is_empty() { p { "None declared: any sensor." } }
        @else {
            ul.terms {
                @for sensor in &s.sensors {
                    li {
                        "Sensor " (sensor.id) ": " (sensor.kind_plain) " " span.note { "(" code { (sensor.kind) } ")" }
                        @if let Some(zone) = sensor.zone { ", in zone " (zone) }
                    }
                }
            }
        }
        h3 { "When" }
        @if s.windows.is_empty() { p { "At any time." } }
        @else { ul.terms { @for w in &s.windows { li { (w) " (" (s.utc_offset) ")" } } } }
        h3 { "In what form data is kept" }
        @if s.forms.is_empty() { p { "Any form, for every purpose." } }
        @for f in &s.forms {
            section aria-label=(format!("Forms for {}", f.purpose.name)) {
                p { "For " (f.purpose.meaning) ", only as:" }
                dl {
                    @for o in &f.offers {
                        dt { (o.form) }
                        dd {
                            (o.meaning)
                            br;
                            span.note { "Consents accepting nothing less protected: " } (o.consents)
                        }
                    }
                }
            }
        }
    }
}

/// What a request kind asks for, in plain words.
fn request_plain(name: &str) -> &'static str {
    consent_proto::vocab::RequestKind::from_name(name).map_or("something else", |k| k.plain())
}

fn hours(h: Option<f64>, k: u64) -> Markup {
    html! {
        @match h {
            Some(h) if h < 48.0 => (format!("{h} hours")),
            Some(h) => (format!("{:.1} days", h / 24.0)),
            None => span.note { "not published (fewer than " (k) " answers)" },
        }
    }
}
