//! The transparency pages as server-rendered HTML (maud escapes every value): the register of
//! collectors with the open consultations, one page per collector, one per consultation, the
//! network, "your rights", and the API's description.
//! One small stylesheet; no script. Readable on a phone (one column, no wide tables), and
//! accessible: a skip link, landmarks, captions and labelled figures, visible focus, and
//! contrast above WCAG AA.

use maud::{DOCTYPE, Markup, html};

use super::network::NetworkView;
use super::view::{
    ChangeView, CollectorView, ConsultationSummaryView, ConsultationView, Count,
    PolicyConsultationView, PolicyView, ScopeView, StandingView, TallyView, Vocabulary,
};

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

/// Which page of the register a listing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    /// This page, from 1.
    pub page: usize,
    /// Pages in all (at least 1).
    pub pages: usize,
    /// Collectors in all.
    pub total: usize,
}

/// A consultation's state for its collector's page: the state in words and a link to it.
fn consultation_note(c: &PolicyConsultationView) -> Markup {
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
fn open_consultations(open: &[ConsultationSummaryView]) -> Markup {
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

/// The register: one page of collectors, what each does with data, and its consent figures;
/// the open consultations above them (first page).
pub(crate) fn register(
    frame: &Frame,
    collectors: &[CollectorView],
    paging: Paging,
    open: &[ConsultationSummaryView],
) -> Markup {
    let pages = html! {
        @if paging.pages > 1 {
            nav aria-label="Pages of the register" {
                p {
                    "Page " (paging.page) " of " (paging.pages) " (" (paging.total) " collectors). "
                    @if paging.page > 1 {
                        a href=(format!("/?page={}", paging.page - 1)) rel="prev" { "Previous page" }
                        " "
                    }
                    @if paging.page < paging.pages {
                        a href=(format!("/?page={}", paging.page + 1)) rel="next" { "Next page" }
                    }
                }
            }
        }
    };
    let body = html! {
        h1 { "Who collects data about people in this city" }
        p {
            "Every organisation below must check your consent on this ledger before it stores "
            "data about you. You decide, and you can change your mind at any time."
        }
        @if !open.is_empty() { (open_consultations(open)) }
        @if paging.total == 0 { p { "No collector has registered yet." } }
        @else if collectors.is_empty() {
            p { "There is no such page. " a href="/" { "See the first page" } }
        }
        (pages)
        @for c in collectors {
            article.card aria-labelledby=(format!("c-{}", c.id)) {
                h2 id=(format!("c-{}", c.id)) {
                    a href=(format!("/collectors/{}", c.id)) {
                        (c.name.as_deref().unwrap_or("Unnamed collector"))
                    }
                }
                (standing(&c.standing, c.frozen))
                @match &c.policy {
                    Some(p) => dl {
                        dt { "Uses your data for" } dd { (terms(&p.purposes)) }
                        dt { "Collects" } dd { (terms(&p.categories)) }
                        dt { "Keeps it for" } dd { "up to " (p.retention_days) " days" }
                        (figure("Consents in force", c.grants_in_force))
                        (figure("Consents withdrawn", c.revocations))
                    },
                    None => p { "Has not published a policy, so it cannot receive consent." },
                }
            }
        }
        (pages)
    };
    layout(frame, Page::Register, "Who collects data", body)
}

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

/// The date part of an RFC 3339 time, for people (the `datetime` attribute keeps the time).
fn day(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
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

/// The network page.
pub(crate) fn network(frame: &Frame, n: &NetworkView) -> Markup {
    let body = html! {
        h1 { "The network that keeps the ledger" }
        p {
            "Several independent organisations each run a node. Every node keeps the whole log "
            "and signs a checkpoint of it; the others check and cosign it, so no single operator "
            "can rewrite history unnoticed."
        }
        dl {
            dt { "Network" } dd { code { (n.network_id) } }
            dt { "Genesis digest" } dd { span.id { (n.genesis_digest) } }
            dt { "Peers connected to this node" } dd { (n.peers_connected) }
        }
        h2 { "Proof of misbehaviour" }
        @if n.forks.is_empty() {
            p.ok { "None: no node has been caught showing two different histories." }
        }
        @if n.equivocations.is_empty() {
            p.ok { "No collector or registrar has been caught signing two different histories." }
        }
        @for e in &n.equivocations {
            section.card aria-label=(format!("Equivocation by {}", e.feed)) {
                h3.bad {
                    (e.name.as_deref().unwrap_or("An organisation"))
                    " signed two different statements at position " (e.seq)
                }
                p { "Its statements are frozen: checks that depend on it answer deny." }
                dl {
                    dt { "Feed" } dd.id { (e.feed) }
                    dt { "Statement held" } dd.id { (e.held) }
                    dt { "Conflicting statement" } dd.id { (e.conflicting) }
                }
            }
        }
        p { "Citizens' feeds frozen for signing two histories: " (n.frozen_citizen_feeds) }
        @for f in &n.forks {
            section.card aria-label=(format!("Fork by {}", f.node)) {
                h3.bad { (f.operator.as_deref().unwrap_or("A node")) " signed two different histories" }
                p { "Node " span.id { (f.node) } }
                pre { (f.first_note) }
                pre { (f.second_note) }
            }
        }
        h2 { "Nodes" }
        @for node in &n.nodes {
            section.card aria-label=(format!("Node {}", node.id)) {
                h3 {
                    (node.operator.as_deref().unwrap_or("Operator not named"))
                    @if node.serving_this_page { " (this node)" }
                }
                p.id { (node.id) }
                @match &node.checkpoint {
                    Some(c) => dl {
                        dt { "Latest checkpoint" } dd { (c.size) " entries" }
                        dt { "Signed" } dd { time datetime=(c.signed_at) { (c.signed_at) } }
                        dt { "Root" } dd { span.id { (c.root) } }
                        @if node.serving_this_page {
                            dt { "Cosigned by" } dd {
                                @if c.cosigned_by.is_empty() { "no other node yet" }
                                @else { ul.terms { @for w in &c.cosigned_by { li.id { (w) } } } }
                            }
                        } @else {
                            dt { "Checked" } dd { "cosigned by this node" }
                        }
                    },
                    None => p.note { "No checkpoint seen from it yet." },
                }
            }
        }
    };
    layout(frame, Page::Network, "The network", body)
}

/// "Your rights and how to use them", from the vocabulary.
pub(crate) fn rights(frame: &Frame, v: &Vocabulary) -> Markup {
    let body = html! {
        h1 { "Your rights and how to use them" }
        p {
            "My data, my choice: an organisation on this network may store data about you only "
            "for the purposes and the kinds of data you agreed to, for as long as you agreed, "
            "and only while your consent stands."
        }
        h2 { "How to give, withdraw and ask" }
        p { "You sign with the " code { "consent" } " wallet; nobody can sign for you." }
        dl {
            dt { "Start" } dd { code { "consent wallet init" } " creates your keys, protected by a passphrase." }
            dt { "Read a policy" } dd { code { "consent policy COLLECTOR" } }
            dt { "Give consent" } dd {
                code { "consent grant COLLECTOR --purpose service-provision --category location" }
            }
            dt { "Consent to less" } dd {
                "Only some of its zones, sensors or hours, or only in a more protective form: "
                code { "consent grant COLLECTOR --purpose billing --category vehicle --zone 1 --hours 08:00-18:00 --form billing=pseudonymised --replace" }
                ". A check is allowed when any of your grants allows it, so a wider grant you "
                "signed before keeps allowing all it did: "
                code { "--replace" }
                " revokes it in the same step (the whole of it), or revoke it yourself with "
                code { "consent revoke GRANT" }
                "."
            }
            dt { "See your consents" } dd { code { "consent list" } }
            dt { "Withdraw it" } dd { code { "consent revoke GRANT" } ", takes effect at once on every node." }
            dt { "Withdraw and erase" } dd { code { "consent revoke GRANT --erase" } }
            dt { "Ask for something" } dd { code { "consent request COLLECTOR erasure" } }
        }
        h2 { "Someone to help you, and children" }
        p {
            "You can let someone you trust sign some statements in your name: they run "
            code { "consent wallet delegate-offer --name YOU" }
            " and give you the code it prints; you run "
            code { "consent wallet delegate --to CODE --can grant,revoke" }
            ". They then sign in their own feed, naming you: "
            code { "consent --as YOU grant COLLECTOR …" }
            ". You can still do everything yourself, revoke anything they signed, and end the "
            "delegation at any time with "
            code { "consent wallet undelegate --all" }
            " (or one delegation by its id); what they sign afterwards does not count. A parent "
            "keeps a child's wallet ("
            code { "consent wallet init --child --comes-of-age DATE --name CHILD" }
            ") until the child comes of age; from that moment on, only the child signs."
        }
        p {
            "The collector must answer a request with a signed acknowledgement; how fast each "
            "one answers is public on its page."
        }
        h2 { "What you can ask for" }
        dl { @for t in &v.requests { dt { (t.name) } dd { (t.meaning) } } }
        h2 { "Purposes a collector may ask consent for" }
        dl { @for t in &v.purposes { dt { (t.name) } dd { (t.meaning) } } }
        h2 { "Kinds of data" }
        dl { @for t in &v.categories { dt { (t.name) } dd { (t.meaning) } } }
    };
    layout(frame, Page::Rights, "Your rights", body)
}

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
    use crate::transparency::view::CollectorFacts;
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
