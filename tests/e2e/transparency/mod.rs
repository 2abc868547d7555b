//! The public transparency site on real nodes: the register of collectors, a collector's page
//! with its policy history and answer times, the network page with checkpoints and who runs each
//! node, the rights page, and the JSON API — read in headless Chromium as a person would (at a
//! phone's width, with the keyboard), and over plain HTTP for the API and bad requests. A scoped
//! collector's zones, sensors, times and forms, with consents per zone and per form, and the SVG
//! map of its zones. Consents assistants and guardians signed in a person's name, counted apart.
//! The register saved at a stop and loaded at the next start.
//!
//! This file holds what several of the groups below use: a policy with a name, the site's
//! address, the reason a browser part is skipped and the contrast check run in the browser.

mod consultations;
mod delegated;
mod reading;
mod scoped;
mod serving;

use consent_proto::body::Body;
use consent_proto::fixtures;
use consent_tests::harness::TestNode;

fn policy(version: u32, name: &str, edit: impl FnOnce(&mut consent_proto::body::Policy)) -> Body {
    let Body::Policy(mut p) = fixtures::policy(version) else {
        panic!("fixtures::policy is a policy");
    };
    p.name = name.into();
    edit(&mut p);
    Body::Policy(p)
}

fn site_addr(node: &TestNode) -> String {
    let addr =
        std::fs::read_to_string(node.dir.join("transparency.addr")).expect("transparency.addr");
    addr.trim().to_string()
}

/// Why the browser part could not run here.
struct Skip(String);

/// The lowest contrast ratio between any text element's colour and the background behind it
/// (WCAG 2 relative luminance).
const CONTRAST: &str = r#"(() => {
  const rgb = s => (s.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const bg = el => { for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return rgb(c); }
    return [255, 255, 255]; };
  let worst = 21;
  for (const el of document.querySelectorAll('body *')) {
    if (!el.childNodes.length || ![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    if (el.offsetParent === null) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    worst = Math.min(worst, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05));
  }
  return worst;
})()"#;
