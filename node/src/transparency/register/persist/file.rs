//! The file itself in the data directory: read only if it is a regular file, up to
//! [`MAX_FILE_BYTES`] ([`read`]); replaced whole, never through a link ([`write`]).

use std::io::Write as _;
use std::path::Path;

use super::{FILE, MAX_FILE_BYTES, path};

/// Reads the file in `data_dir`: `Ok(None)` when there is none. Only a regular file is read
/// (not a link, a FIFO or a device: checked before it is opened, and the file opened checked
/// to be the one looked at), and only up to [`MAX_FILE_BYTES`].
pub(in super::super) fn read(data_dir: &Path) -> Result<Option<Vec<u8>>, String> {
    let path = path(data_dir);
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let looked = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    if !looked.file_type().is_file() {
        return Err(format!(
            "{} is not a regular file (a link, a FIFO or a device is never read)",
            path.display()
        ));
    }
    if looked.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let file =
        std::fs::File::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let opened = file.metadata().map_err(cannot)?;
    if !opened.is_file() || !same_file(&looked, &opened) {
        return Err(format!(
            "{} was replaced while it was opened",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_BYTES), &mut bytes)
        .map_err(cannot)?;
    Ok(Some(bytes))
}

/// Whether two metadata describe the same file (its device and inode, on Unix).
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len()
}

/// Replaces the file in `data_dir` with `bytes`: a temporary file created anew (any left by a
/// crash is removed first; never opened through a link), mode 0600, synced, renamed over it
/// (a link in its place is replaced, never followed), the directory synced; a crash leaves the
/// old file or the new one.
pub(in super::super) fn write(data_dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let path = path(data_dir);
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    // The rename itself survives a crash once the directory is synced.
    std::fs::File::open(data_dir)?.sync_all()
}
