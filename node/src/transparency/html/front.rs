//! The front page: the register of collectors, a page at a time, with what each does with data
//! and its consent figures, and the open consultations above them.

use maud::{Markup, html};

use super::consultation::open_consultations;
use super::{Frame, Page, figure, layout, standing, terms};
use crate::transparency::view::{CollectorView, ConsultationSummaryView};

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
