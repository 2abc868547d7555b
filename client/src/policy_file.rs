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
//! ```
//! The version is not in the file: `consent collector init` publishes version 1 and
//! `consent collector policy update` the next one.

use std::path::Path;

use consent_proto::body::{Body, Policy};
use consent_proto::ids::Digest;
use consent_proto::vocab::{DataCategory, Purpose};
use serde::Deserialize;

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

/// Reads a policy file into a `Policy` body with `version`, checking it as a node would.
pub fn load(path: &Path, version: u32) -> anyhow::Result<Body> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read policy file {}: {e}", path.display()))?;
    if text.len() > 64 * 1024 {
        anyhow::bail!("policy file {} is over 64 KiB", path.display());
    }
    // Every error is one line naming the file, line and column (toml's own are several lines).
    let at = |span: Option<std::ops::Range<usize>>| match span {
        Some(span) => {
            let (line, column) = line_column(&text, span.start);
            format!("{}:{line}:{column}", path.display())
        }
        None => path.display().to_string(),
    };
    let file: PolicyFile = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "policy file {}: {}",
            at(e.span()),
            e.message().replace('\n', " ")
        )
    })?;
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
    let purposes = file
        .purposes
        .iter()
        .map(|p| {
            Purpose::from_name(p.get_ref())
                .map_err(|e| anyhow::anyhow!("policy file {}: {e}", at(Some(p.span()))))
        })
        .collect::<Result<_, _>>()?;
    let categories = file
        .categories
        .iter()
        .map(|c| {
            DataCategory::from_name(c.get_ref())
                .map_err(|e| anyhow::anyhow!("policy file {}: {e}", at(Some(c.span()))))
        })
        .collect::<Result<_, _>>()?;
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
        scope: None,
    });
    // The same structural checks a node applies.
    Body::from_wire(&body.to_wire())
        .map_err(|e| anyhow::anyhow!("policy file {}: {e}", path.display()))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("policy.toml");
        std::fs::write(&path, text).expect("write");
        path
    }

    const GOOD: &str = r#"name = "Riverside Parking"
purposes = ["service-provision"]
categories = ["vehicle"]
retention_days = 90
jurisdiction = "EU/GDPR"
document_url = "https://parking.example/privacy/v1"
document_digest = "0000000000000000000000000000000000000000000000000000000000000000"
contact = "dpo@parking.example"
"#;

    #[test]
    fn errors_are_one_line_naming_the_file_line_and_column() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(load(&write(dir.path(), GOOD), 1).is_ok());

        let unknown = GOOD.replace(
            "[\"service-provision\"]",
            "[\"service-provision\", \"spying\"]",
        );
        let err = load(&write(dir.path(), &unknown), 1).expect_err("unknown purpose");
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("policy.toml:2:"), "{text}");
        assert!(text.contains("unknown purpose \"spying\""), "{text}");

        let broken = GOOD.replace("retention_days = 90", "retention_days = ninety");
        let err = load(&write(dir.path(), &broken), 1).expect_err("bad toml");
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("policy.toml:4:"), "{text}");
    }
}
