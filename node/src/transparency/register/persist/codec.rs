//! The file's bytes for a saved form and back ([`encode`], [`decode`]): the header (magic,
//! version of the form, version of the counting rules), the MAC keyed with [`FileKey`], and the
//! postcard encoding of [`Saved`].

use super::super::RULES_VERSION;
use super::{FileKey, HEADER, LABEL, MAGIC, MAX_FILE_BYTES, Saved, VERSION};

/// The file's bytes for `saved`, its MAC keyed with `key`; `Err` when they cannot be made or
/// would be more than [`MAX_FILE_BYTES`] (such a file could never be loaded).
pub(in super::super) fn encode(saved: &Saved, key: &FileKey) -> Result<Vec<u8>, Unsaved> {
    let body =
        postcard::to_stdvec(saved).map_err(|e| Unsaved::Other(format!("cannot encode: {e}")))?;
    let len = (HEADER + body.len()) as u64;
    if len > MAX_FILE_BYTES {
        return Err(Unsaved::TooLarge(len));
    }
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&RULES_VERSION.to_be_bytes());
    let mac = key.mac(&out[..LABEL], &body);
    out.extend_from_slice(mac.as_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Why a register was not saved.
#[derive(Debug)]
pub(in super::super) enum Unsaved {
    /// Its form would be this many bytes, more than [`MAX_FILE_BYTES`]: no save can be loaded.
    TooLarge(u64),
    /// Anything else (why).
    Other(String),
}

impl std::fmt::Display for Unsaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsaved::TooLarge(len) => write!(
                f,
                "its saved form would be {len} bytes, more than the {MAX_FILE_BYTES} a start reads"
            ),
            Unsaved::Other(why) => f.write_str(why),
        }
    }
}

/// The state a file's bytes hold, if `key` wrote them under this release's form and counting
/// rules; `Err` says why they cannot be used.
pub(in super::super) fn decode(bytes: &[u8], key: &FileKey) -> Result<Saved, String> {
    if bytes.len() < HEADER || !bytes.starts_with(MAGIC) {
        return Err("it is not a saved register".into());
    }
    let word = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u32::from_be_bytes(w)
    };
    let version = word(8);
    if version != VERSION {
        return Err(format!(
            "it is of version {version}; this release reads {VERSION}"
        ));
    }
    let rules = word(12);
    if rules != RULES_VERSION {
        return Err(format!(
            "it was counted under rules version {rules}; this release counts under {RULES_VERSION}"
        ));
    }
    let body = &bytes[HEADER..];
    let mut stored = [0u8; 32];
    stored.copy_from_slice(&bytes[LABEL..HEADER]);
    // `Hash` compares in constant time.
    if key.mac(&bytes[..LABEL], body) != blake3::Hash::from(stored) {
        return Err(
            "its checksum does not match: damaged, or not written with this node's key".into(),
        );
    }
    postcard::from_bytes(body).map_err(|e| format!("it does not decode: {e}"))
}
