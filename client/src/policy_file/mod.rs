//! The collector's policy file (TOML), turned into a `Policy` entry body.
//!
//! ```toml
//! name = "Riverside Parking - street parking"   # public name, 1..=120 bytes
//! purposes = ["service-provision", "billing"]   # names as in `consent vocab`
//! categories = ["vehicle", "location"]
//! retention_days = 90
//! recipients = ["Payment processor"]            # optional
//! jurisdiction = "EU/GDPR"
//! document_url = "https://parking.example/privacy/v1"
//! document = "privacy-policy.md"                # the full text; its BLAKE3 digest goes on the ledger
//! # document_digest = "<64 hex>"                # instead of `document`
//! contact = "dpo@parking.example"
//!
//! [scope]                                       # optional: where, which sensors, when, in what form
//! utc_offset = "+01:00"                         # fixed all year: no daylight saving time
//! sensors = [ { id = 1, kind = "number-plate-reader", zone = 1 } ]
//! windows = [ { days = "mon-sat", hours = "07:00-19:00" } ]
//! [[scope.zone]]
//! id = 1
//! name = "Oudegracht wharf"
//! resolution = 12
//! area = [[52.09190, 5.11935], [52.09196, 5.11975], [52.09050, 5.12060]]   # or cells = ["8c1f…"]
//! [scope.forms]
//! billing = ["raw", "pseudonymised"]
//! urban-planning = [ { form = "aggregated", interval = "1h", resolution = 8, k = 10 } ]
//! ```
//! The version is not in the file: `consent collector init` publishes version 1 and
//! `consent collector policy update` the next one. `client/examples/street-policy.toml`
//! documents every key of `[scope]`.
//!
//! An `area` (WGS84 `[lat, lng]` corners) becomes the H3 cells of the zone's resolution that
//! cover it ([`cover_area`]); the cells are what is signed and published. The text parsers
//! ([`parse_days`], [`parse_hours`], [`split_window`], [`parse_interval`], [`parse_utc_offset`])
//! are the ones `consent grant` uses for its flags.
//!
//! Layout: this module reads the file ([`load`]) and sizes its entry ([`entry_size`]); `scope.rs`
//! turns the `[scope]` table into a `PolicyScope`, `area.rs` covers an `area` with H3 cells, and
//! `text.rs` holds the text parsers.

use std::ops::Range;
use std::path::Path;

use consent_proto::body::{Body, Policy};
use consent_proto::ids::Digest;
use consent_proto::limits::MAX_ENTRY_BYTES;
use consent_proto::pb;
use consent_proto::vocab::{DataCategory, Purpose, PurposeSet};
use prost::Message as _;
use serde::Deserialize;

mod area;
mod scope;
mod text;

use self::scope::scope_of;

pub use self::area::{CELL_AREA_M2, cover_area};
pub use self::scope::{ScopeFile, SensorFile, WindowFile, ZoneFile};
pub use self::text::{
    parse_cell, parse_days, parse_hours, parse_interval, parse_utc_offset, split_window,
    utc_offset_text,
};

/// The file's fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Public name.
    pub name: String,
    /// Purpose names (with where they are in the file, for errors).
    pub purposes: Vec<toml::Spanned<String>>,
    /// Category names.
    pub categories: Vec<toml::Spanned<String>>,
    /// Retention, days.
    pub retention_days: u32,
    /// Recipients.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// URL of the document.
    pub document_url: String,
    /// Path of the document, relative to the policy file.
    pub document: Option<String>,
    /// Or its digest, hex.
    pub document_digest: Option<String>,
    /// DPO contact.
    pub contact: String,
    /// Where, with which sensors, when and in what form data is collected (optional).
    #[serde(default)]
    pub scope: Option<ScopeFile>,
}

/// Line and column (both from 1) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |n| before.len() - n - 1)
        + 1;
    (line, column)
}

/// Where errors point: the file and its text.
struct Loc<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Loc<'_> {
    /// `file:line:column`, or the file alone.
    fn at(&self, span: Option<Range<usize>>) -> String {
        match span {
            Some(span) => {
                let (line, column) = line_column(self.text, span.start);
                format!("{}:{line}:{column}", self.path.display())
            }
            None => self.path.display().to_string(),
        }
    }

    /// One line naming the place and what is wrong there.
    fn err(&self, span: Option<Range<usize>>, what: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("policy file {}: {what}", self.at(span))
    }
}

/// Reads a policy file into a `Policy` body with `version`, checking it as a node would.
pub fn load(path: &Path, version: u32) -> anyhow::Result<Body> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read policy file {}: {e}", path.display()))?;
    if text.len() > 64 * 1024 {
        anyhow::bail!("policy file {} is over 64 KiB", path.display());
    }
    // Every error is one line naming the file, line and column (toml's own are several lines).
    let loc = Loc { path, text: &text };
    let file: PolicyFile =
        toml::from_str(&text).map_err(|e| loc.err(e.span(), e.message().replace('\n', " ")))?;
    let digest = match (&file.document, &file.document_digest) {
        (Some(doc), None) => {
            let doc_path = path.parent().unwrap_or(Path::new(".")).join(doc);
            let bytes = std::fs::read(&doc_path).map_err(|e| {
                anyhow::anyhow!("cannot read policy document {}: {e}", doc_path.display())
            })?;
            Digest(*blake3::hash(&bytes).as_bytes())
        }
        (None, Some(hex_digest)) => {
            let mut d = [0u8; 32];
            hex::decode_to_slice(hex_digest.trim(), &mut d)
                .map_err(|_| anyhow::anyhow!("document_digest must be 64 hex digits"))?;
            Digest(d)
        }
        _ => anyhow::bail!(
            "policy file {}: give exactly one of `document` (a path) or `document_digest`",
            path.display()
        ),
    };
    let purposes: PurposeSet = file
        .purposes
        .iter()
        .map(|p| Purpose::from_name(p.get_ref()).map_err(|e| loc.err(Some(p.span()), e)))
        .collect::<Result<_, _>>()?;
    let categories = file
        .categories
        .iter()
        .map(|c| DataCategory::from_name(c.get_ref()).map_err(|e| loc.err(Some(c.span()), e)))
        .collect::<Result<_, _>>()?;
    let scope = file
        .scope
        .as_ref()
        .map(|s| scope_of(s, purposes, &loc))
        .transpose()?;
    let cells: usize = scope
        .as_ref()
        .map_or(0, |s| s.zones.iter().map(|z| z.cells.len()).sum());
    let body = Body::Policy(Policy {
        version,
        name: file.name,
        purposes,
        categories,
        retention_days: file.retention_days,
        recipients: file.recipients,
        jurisdiction: file.jurisdiction,
        document_digest: digest,
        document_url: file.document_url,
        contact: file.contact,
        scope,
        consultation: None,
    });
    // The same structural checks a node applies.
    Body::from_wire(&body.to_wire())
        .map_err(|e| anyhow::anyhow!("policy file {}: {e}", path.display()))?;
    size_fits(path, entry_size(&body), cells)?;
    Ok(body)
}

/// The encoded size of the signed entry that will carry `body` (with a seq and a time as large
/// as a real feed's), to compare with [`MAX_ENTRY_BYTES`] before signing.
pub fn entry_size(body: &Body) -> usize {
    let payload = pb::EntryPayload {
        feed: vec![0xff; 32].into(),
        seq: u64::from(u32::MAX),
        prev: vec![0xff; 32].into(),
        time_ms: 4_102_444_800_000, // 2100-01-01: as many varint bytes as any time until then
        body: Some(body.to_wire()),
    }
    .encoded_len();
    pb::SignedEntry {
        payload: vec![0xff; payload].into(),
        signature: vec![0xff; 64].into(),
    }
    .encoded_len()
}

/// Refuses a policy whose entry would be over the entry size limit, saying how big it is.
fn size_fits(path: &Path, size: usize, cells: usize) -> anyhow::Result<()> {
    if size > MAX_ENTRY_BYTES {
        anyhow::bail!(
            "policy file {}: the policy entry would be {size} bytes, over the limit of \
             {MAX_ENTRY_BYTES} bytes (8 KiB) for one entry; it declares {cells} cells (8 bytes \
             each): use fewer or coarser zones, fewer recipients or shorter texts",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
