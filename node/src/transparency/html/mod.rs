//! The transparency pages as server-rendered HTML (maud escapes every value): the register of
//! collectors with the open consultations, one page per collector, one per consultation, the
//! network, "your rights", and the API's description.
//! One small stylesheet; no script. Readable on a phone (one column, no wide tables), and
//! accessible: a skip link, landmarks, captions and labelled figures, visible focus, and
//! contrast above WCAG AA.
//!
//! This module holds the frame every page shares (stylesheet, header, navigation, footer) and
//! the fragments several pages show (a policy, a collector's standing, a figure); each page is
//! its own module:
//!
//! - [`front`]: the register of collectors, with the open consultations.
//! - [`collector`](mod@collector): one collector's page, with its scope and answer times.
//! - [`consultation`](mod@consultation): one consultation's page, and the fragments of
//!   consultations other pages show.
//! - [`network`](mod@network): the network page.
//! - [`rights`](mod@rights): "your rights".
//! - [`open_data`]: the API's description.

mod collector;
mod consultation;
mod front;
mod network;
mod open_data;
mod rights;

use maud::{DOCTYPE, Markup, html};

use super::view::{Count, PolicyView, StandingView};

pub(crate) use collector::collector;
pub(crate) use consultation::consultation;
pub(crate) use front::{Paging, register};
pub(crate) use network::network;
pub(crate) use open_data::api;
pub(crate) use rights::rights;

/// The stylesheet, served at `/style.css`.
pub(crate) const CSS: &str = r#"
:root { color-scheme: light; --ink: #1a1a1a; --muted: #4a4a4a; --line: #c8c8c8;
  --accent: #0b4f8a; --ok: #1d5e20; --bad: #8a1c1c; --paper: #fff; --soft: #f3f5f7; }
* { box-sizing: border-box; }
body { margin: 0; font: 1.0625rem/1.55 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: var(--paper); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--paper); padding: .5rem; z-index: 1; }
header, main, footer { max-width: 52rem; margin: 0 auto; padding: 0 1rem; }
header { border-bottom: 1px solid var(--line); }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; padding: 0; }
a { color: var(--accent); }
a:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
nav a[aria-current] { font-weight: 700; color: var(--ink); }
h1 { font-size: 1.6rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin-top: 2rem; }
.card { border: 1px solid var(--line); border-radius: .4rem; padding: .75rem 1rem;
  margin: 1rem 0; background: var(--soft); }
.card h2, .card h3 { margin: .2rem 0 .5rem; }
dl { display: grid; grid-template-columns: minmax(8rem, 14rem) 1fr; gap: .35rem 1rem; }
dt { font-weight: 600; color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 36rem) { dl { grid-template-columns: 1fr; } dd { margin-bottom: .5rem; } }
.ok { color: var(--ok); font-weight: 700; }
.bad { color: var(--bad); font-weight: 700; }
.id, code { font-family: ui-monospace, monospace; font-size: .9em; overflow-wrap: anywhere; }
.note { color: var(--muted); }
ul.terms { padding-left: 1.2rem; }
img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figure { margin: 1rem 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--soft); padding: .5rem; }
footer { border-top: 1px solid var(--line); margin-top: 2rem; padding-bottom: 2rem;
  color: var(--muted); font-size: .95rem; }
"#;

/// Which page is current, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// The register.
    Register,
    /// The network.
    Network,
    /// Your rights.
    Rights,
    /// The API.
    Api,
    /// A collector's page (under the register).
    Collector,
    /// A consultation's page (under the register).
    Consultation,
}

/// Facts every page shows in its header and footer.
pub(crate) struct Frame<'a> {
    /// The network's id.
    pub network_id: &'a str,
    /// The threshold below which counts are hidden.
    pub k: u64,
    /// Still reading the log: `Some((read, total))`.
    pub catching_up: Option<(u64, u64)>,
}

fn layout(frame: &Frame, page: Page, title: &str, body: Markup) -> Markup {
    let link = |href: &str, label: &str, this: Page| {
        let current = page == this
            || (this == Page::Register && matches!(page, Page::Collector | Page::Consultation));
        html! { li { a href=(href) aria-current=[current.then_some("page")] { (label) } } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · consent ledger · " (frame.network_id) }
                link rel="stylesheet" href="/style.css";
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header {
                    p { strong { "Consent ledger" } " · network " code { (frame.network_id) } }
                    nav aria-label="Pages" {
                        ul {
                            (link("/", "Who collects data", Page::Register))
                            (link("/network", "The network", Page::Network))
                            (link("/rights", "Your rights", Page::Rights))
                            (link("/api", "Open data (JSON)", Page::Api))
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    @if let Some((read, total)) = frame.catching_up {
                        p.note role="status" {
                            "This node is still reading its log (" (read) " of " (total)
                            " entries): figures are incomplete."
                        }
                    }
                    (body)
                }
                footer {
                    p {
                        "Counts below " (frame.k) " are shown as \u{201c}< " (frame.k)
                        "\u{201d}, so that a small number can never point at a person. "
                        "Every figure here is computed from the signed public log. Answer times "
                        "are this node's view: they count from when a request and its answer "
                        "reached this node, so nodes can differ slightly."
                    }
                }
            }
        }
    }
}

fn terms(items: &[super::view::Term]) -> Markup {
    html! {
        ul.terms {
            @for t in items { li { (t.meaning) " " span.note { "(" code { (t.name) } ")" } } }
        }
    }
}

fn standing(s: &[StandingView], frozen: bool) -> Markup {
    html! {
        @if frozen {
            p.bad {
                "Frozen: it signed two different histories of its statements. Until resolved, "
                "every check for it answers deny."
            }
        }
        @if s.is_empty() {
            span.bad { "Not accredited" } " by any of the network's registrars."
        }
        ul.terms {
            @for r in s {
                li {
                    @match r.status {
                        "accredited" => span.ok { "Accredited" },
                        "expired" => span.bad { "Accreditation expired" },
                        _ => span.bad { "Suspended" },
                    }
                    " by " (r.registrar_name.as_deref().unwrap_or("registrar"))
                    " " span.id { "(" (r.registrar) ")" }
                    @if let Some(until) = &r.until { " until " time datetime=(until) { (day(until)) } }
                    @if let Some(reason) = &r.reason { ": " (reason) }
                }
            }
        }
    }
}

fn policy(p: &PolicyView) -> Markup {
    html! {
        dl {
            dt { "Uses your data for" } dd { (terms(&p.purposes)) }
            dt { "Collects" } dd { (terms(&p.categories)) }
            dt { "Keeps it for" } dd { "up to " (p.retention_days) " days" }
            dt { "Shares it with" } dd {
                @if p.recipients.is_empty() { "nobody" }
                @else { ul.terms { @for r in &p.recipients { li { (r) } } } }
            }
            dt { "Law that applies" } dd { (p.jurisdiction) }
            dt { "Full policy" } dd {
                // The protocol accepts only http(s) URLs; checked again before making a link.
                @if p.document_url.starts_with("https://") || p.document_url.starts_with("http://") {
                    a href=(p.document_url) rel="nofollow noopener" { (p.document_url) }
                } @else { (p.document_url) }
                br; span.note { "Digest: " } span.id { (p.document_digest) }
            }
            dt { "Contact" } dd { (p.contact) }
            @if !p.scope.is_empty() {
                dt { "Where, when and how" } dd {
                    ul.terms { @for line in &p.scope { li { (line) } } }
                }
            }
            dt { "Version" } dd {
                (p.version) ", signed " time datetime=(p.signed_at) { (day(&p.signed_at)) }
            }
        }
    }
}

fn figure(label: &str, count: Count) -> Markup {
    html! { dt { (label) } dd { (count) } }
}

/// The date part of an RFC 3339 time, for people (the `datetime` attribute keeps the time).
fn day(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// A page that does not exist, or a collector that is not registered.
pub(crate) fn not_found(frame: &Frame, what: &str) -> Markup {
    let body = html! {
        h1 { "Not found" }
        p { (what) }
        p { a href="/" { "See every collector" } }
    };
    layout(frame, Page::Register, "Not found", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::AnswerStats;
    use crate::transparency::register::Register;
    use crate::transparency::view::{CollectorFacts, CollectorView};
    use consent_proto::body::Body;
    use consent_proto::fixtures::{self, T0};
    use consent_proto::vocab::Role;

    #[test]
    fn text_signed_by_a_collector_is_escaped_not_interpreted() {
        let (mut author, inception) = fixtures::author(Role::Collector, "x", T0);
        let Body::Policy(mut p) = fixtures::policy(1) else {
            panic!("a policy");
        };
        p.name = "<script>alert(1)</script>".into();
        p.contact = "\"><img src=x onerror=alert(1)>".into();
        let policy = fixtures::append(&mut author, T0, Body::Policy(p));
        let mut register = Register::new(Default::default());
        for e in [&inception, &policy] {
            register.apply(e, |_| None).expect("applies");
        }
        let names = Default::default();
        let held = &register.collectors[&author.feed()];
        let facts = CollectorFacts {
            feed: author.feed(),
            collector: held,
            now_ms: T0,
            k: 5,
            names: &names,
            frozen: false,
            current: held
                .policy()
                .map(|p| crate::transparency::register::Current {
                    version: p.clone(),
                    before: None,
                }),
        };
        let view = facts.detail(
            &AnswerStats::default(),
            std::time::Duration::from_secs(1),
            &[],
        );
        let frame = Frame {
            network_id: "t",
            k: 5,
            catching_up: None,
        };
        for page in [
            collector(&frame, &view).into_string(),
            register_page_of(&frame, &view),
        ] {
            assert!(!page.contains("<script>alert"), "{page}");
            assert!(!page.contains("<img"), "{page}");
            assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        }
    }

    #[test]
    fn a_consultation_page_escapes_what_organisations_signed_and_says_counts_are_signals() {
        use crate::ledger::{ConsultationRead, ConsultationSummary};
        use crate::transparency::view::{COUNTS_ARE_SIGNALS, consultation_view};
        use consent_proto::consultation::{Counts, DraftFacts, State};
        use consent_proto::fixtures::DAY;
        use consent_proto::vocab::ObjectionReason;

        let mut scene = fixtures::scene(T0);
        let Body::Policy(mut p) = fixtures::draft_policy(2, T0 + 20 * DAY) else {
            panic!("a policy");
        };
        p.name = "<b>Parking</b>".into();
        let draft = fixtures::append(&mut scene.collector, T0 + DAY, Body::Policy(p));
        let answer = fixtures::append(
            &mut scene.collector,
            T0 + 2 * DAY,
            fixtures::response(
                draft.id,
                ObjectionReason::Other,
                "<script>alert(1)</script>",
            ),
        );
        let v1 = scene
            .entries
            .iter()
            .find(|e| e.id == scene.policy)
            .cloned()
            .expect("the scene's policy");
        let facts = DraftFacts {
            id: draft.id,
            collector: scene.collector.feed(),
            version: 2,
            time_ms: T0 + DAY,
            closes_ms: T0 + 20 * DAY,
            gated: true,
            superseded_ms: None,
            first_approval: None,
            first_changes_required: None,
        };
        let read = ConsultationRead {
            summary: ConsultationSummary {
                facts,
                name: "<b>Parking</b>".into(),
                state: State::Open,
                counts: Counts::default(),
            },
            draft,
            compared: vec![v1],
            responses: vec![answer],
            outcomes: Vec::new(),
            log_size: 0,
        };
        let view = consultation_view(&read, T0 + 2 * DAY, 5, &Default::default()).expect("a view");
        assert_eq!(view.summary.counts.affected.support, Count::FewerThan(5));
        assert_eq!(view.summary.time_left.as_deref(), Some("18 days"));
        assert!(
            view.compared[0]
                .items
                .iter()
                .any(|i| i.direction == "widens" && i.code == "purposes"),
            "{:?}",
            view.compared
        );
        let frame = Frame {
            network_id: "t",
            k: 5,
            catching_up: None,
        };
        let page = consultation(&frame, &view).into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<b>Parking"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains(COUNTS_ARE_SIGNALS), "{page}");
        assert!(page.contains("Wider: "), "{page}");
    }

    #[test]
    fn a_collectors_page_shows_delegated_consents_apart_and_under_k() {
        use crate::transparency::view::delegated_view;

        let (author, inception) = fixtures::author(Role::Collector, "d", T0);
        let mut register = Register::new(Default::default());
        register.apply(&inception, |_| None).expect("applies");
        let names = Default::default();
        let facts = CollectorFacts {
            feed: author.feed(),
            collector: &register.collectors[&author.feed()],
            now_ms: T0,
            k: 5,
            names: &names,
            frozen: false,
            current: None,
        };
        let mut view = facts.detail(
            &AnswerStats::default(),
            std::time::Duration::from_secs(1),
            &[],
        );
        let frame = Frame {
            network_id: "t",
            k: 5,
            catching_up: None,
        };
        let without = collector(&frame, &view).into_string();
        assert!(!without.contains("Signed by assistants"), "{without}");
        view.delegated = Some(delegated_view((2, 7), (5, 5), 5));
        let page = collector(&frame, &view).into_string();
        for (label, figure) in [
            ("Signed by assistants: in force", "&lt; 5"),
            ("Signed by assistants: ever given", "7"),
            ("Signed by guardians: in force", "5"),
            ("Signed by guardians: ever given", "5"),
        ] {
            let shown = format!("<dt>{label}</dt><dd>{figure}</dd>");
            assert!(page.contains(&shown), "{shown} in {page}");
        }
        // The register's line does not read the ledger's delegated counts.
        assert!(!register_page_of(&frame, &view).contains("Signed by"));
    }

    fn register_page_of(frame: &Frame, view: &CollectorView) -> String {
        let paging = Paging {
            page: 1,
            pages: 1,
            total: 1,
        };
        register(frame, std::slice::from_ref(view), paging, &[]).into_string()
    }
}
