//! Writing output files safely: never a half-written file at the destination.

use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Write a file through `write`, all or nothing.
///
/// The content goes to a temporary file in the destination's folder, which is renamed
/// over `path` only once `write` returned `Ok` and the data was flushed. On any error
/// the temporary file is removed and `path` is left as it was.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("hello.txt");
/// lamina::output::write_atomically(&path, |w| w.write_all(b"hello")).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
///
/// let failed = lamina::output::write_atomically(&path, |w| {
///     w.write_all(b"half")?;
///     Err(std::io::Error::other("interrupted"))
/// });
/// assert!(failed.is_err());
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// ```
pub fn write_atomically<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".lamina-")
        .suffix(".part")
        .tempfile_in(dir)?;
    {
        let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file());
        write(&mut out)?;
        out.flush()?;
    }
    tmp.as_file().sync_data()?;
    keep_permissions(tmp.path(), path)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Give the new file the permissions of the file it replaces, or the usual `rw-r--r--`
/// (temporary files are created private).
#[cfg(unix)]
fn keep_permissions(tmp: &Path, dest: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let perms = match std::fs::metadata(dest) {
        Ok(m) => m.permissions(),
        Err(_) => std::fs::Permissions::from_mode(0o644),
    };
    std::fs::set_permissions(tmp, perms)
}

#[cfg(not(unix))]
fn keep_permissions(_tmp: &Path, _dest: &Path) -> io::Result<()> {
    Ok(())
}
