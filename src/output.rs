//! Writing output files safely: checked before any work, written through symlinks to
//! their targets, never a half-written file at the destination, and no temporary file
//! left behind by an error or an interrupt.
//!
//! An output is opened as a [`PendingFile`] before the work that produces it starts:
//! that checks the destination (a missing or read-only folder, a directory, a named
//! pipe or a device is refused at once, naming the user's path) and creates the
//! temporary file beside the real destination. [`PendingFile::write`] fills it and
//! renames it over the destination. While a temporary file exists it is listed here, so
//! that [`ExitOnSignal`] can remove it when the user presses Ctrl-C.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};

/// Symlinks followed before giving up (the limit Linux applies to path lookups).
const MAX_SYMLINKS: usize = 40;

/// Write buffer for output files: large enough that G-code writing is not syscall-bound.
const WRITE_BUFFER: usize = 1 << 20;

/// What is wrong with an output path.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The folder the file would go in does not exist.
    #[error("the folder '{}' does not exist", .0.display())]
    NoFolder(PathBuf),
    /// The path's parent is not a folder.
    #[error("'{}' is not a folder", .0.display())]
    NotAFolder(PathBuf),
    /// The folder cannot be written to.
    #[error("the folder '{}' is not writable ({})", .0.display(), .1)]
    FolderNotWritable(PathBuf, io::Error),
    /// The path is a folder.
    #[error("it is a folder; give the name of a file in it")]
    IsFolder,
    /// The path is a named pipe.
    #[error(
        "it is a named pipe (FIFO), not a file; to send the output into a pipe use -o - and a shell redirection"
    )]
    Fifo,
    /// The path is a device node.
    #[error("it is a device, not a file; to discard the output use -o - > /dev/null")]
    Device,
    /// The path is a socket.
    #[error("it is a socket, not a file")]
    Socket,
    /// No file can be made in the folder for another reason.
    #[error("no file can be made in the folder '{}' ({})", .0.display(), .1)]
    CannotCreate(PathBuf, io::Error),
    /// Symlinks pointing at each other.
    #[error("too many levels of symbolic links")]
    SymlinkLoop,
    /// Any other failure while writing.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Problem {
    /// The matching I/O error kind, for callers that speak `io::Error`.
    fn kind(&self) -> io::ErrorKind {
        match self {
            Problem::NoFolder(_) => io::ErrorKind::NotFound,
            Problem::NotAFolder(_) => io::ErrorKind::NotADirectory,
            Problem::FolderNotWritable(_, e) | Problem::CannotCreate(_, e) | Problem::Io(e) => {
                e.kind()
            }
            Problem::IsFolder => io::ErrorKind::IsADirectory,
            Problem::Fifo | Problem::Device | Problem::Socket => io::ErrorKind::InvalidInput,
            Problem::SymlinkLoop => io::ErrorKind::InvalidInput,
        }
    }
}

/// An output file could not be written: the path the user gave and the problem.
#[derive(Debug, thiserror::Error)]
#[error("cannot write '{}': {problem}", path.display())]
pub struct OutputError {
    /// The path as the user gave it.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: Problem,
}

impl From<OutputError> for io::Error {
    /// The problem alone (callers of [`write_atomically`] name the path themselves).
    fn from(e: OutputError) -> io::Error {
        match e.problem {
            Problem::Io(e) => e,
            p => io::Error::new(p.kind(), p.to_string()),
        }
    }
}

/// Temporary files that exist right now, removed by [`remove_pending`].
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<PathBuf>> {
    // A panic while the list was held leaves it usable: it is a plain list of paths.
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remove every temporary output file that exists now; the number removed. Called on
/// an interrupt, just before the process ends.
pub fn remove_pending() -> usize {
    let mut list = pending();
    let n = list.len();
    for p in list.drain(..) {
        let _ = fs::remove_file(p);
    }
    n
}

/// The operating system's error inside one that the temporary file crate wrapped with
/// the temporary file's path.
fn without_path(e: io::Error) -> io::Error {
    let os = e
        .get_ref()
        .and_then(|inner| inner.source())
        .and_then(|s| s.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error)
        .or_else(|| e.raw_os_error());
    match os {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::from(e.kind()),
    }
}

/// The file a path finally names: symlinks followed (a dangling one to the file it
/// would create). Symlinks in the folders above are left to the file system.
fn follow_symlinks(path: &Path) -> Result<PathBuf, Problem> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p)?;
                p = if target.is_absolute() {
                    target
                } else {
                    folder_of(&p).join(target)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Problem::SymlinkLoop)
}

/// Check, before any work, that files can be written into the folder `dir` (made
/// later if missing): the nearest folder that exists above it must be a folder that
/// takes new files. Nothing is left behind by the check.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert!(lamina::output::check_folder(&dir.path().join("pictures/today")).is_ok());
/// let file = dir.path().join("notes.txt");
/// std::fs::write(&file, "x").unwrap();
/// assert!(lamina::output::check_folder(&file.join("pictures")).is_err());
/// ```
pub fn check_folder(dir: &Path) -> Result<(), OutputError> {
    let fail = |problem| OutputError {
        path: dir.to_path_buf(),
        problem,
    };
    let existing = dir
        .ancestors()
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| fs::symlink_metadata(a).is_ok())
        .unwrap_or(Path::new("."));
    match fs::metadata(existing) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(fail(Problem::NotAFolder(existing.to_path_buf()))),
        Err(e) => return Err(fail(Problem::Io(e))),
    }
    // An unnamed file: gone as soon as it is closed.
    tempfile::tempfile_in(existing)
        .map(drop)
        .map_err(|e| fail(creation_problem(existing, e)))
}

/// Why no file could be made in `dir`, without the temporary file's name that the
/// temporary file crate puts in its errors (the user never gave that name).
fn creation_problem(dir: &Path, e: io::Error) -> Problem {
    let e = without_path(e);
    match e.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            Problem::FolderNotWritable(dir.to_path_buf(), e)
        }
        _ => Problem::CannotCreate(dir.to_path_buf(), e),
    }
}

/// Whether two paths name the same existing file (through symlinks and hard links).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let (a, b) = (dir.path().join("a.stl"), dir.path().join("b.stl"));
/// std::fs::write(&a, "solid").unwrap();
/// assert!(lamina::output::same_file(&a, &dir.path().join(".").join("a.stl")));
/// assert!(!lamina::output::same_file(&a, &b)); // b does not exist
/// ```
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (ma.dev(), ma.ino()) == (mb.dev(), mb.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
    }
}

/// The folder a file path is in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Refuse anything at `target` that is not a regular file, and a missing folder.
fn check_target(target: &Path) -> Result<(), Problem> {
    match fs::metadata(target) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) if m.is_dir() => Err(Problem::IsFolder),
        Ok(m) => Err(special_file(&m)),
        // A file where a folder should be, somewhere above.
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Err(target
            .ancestors()
            .skip(1)
            .find(|a| fs::metadata(a).is_ok_and(|m| !m.is_dir()))
            .map_or(Problem::Io(e), |a| Problem::NotAFolder(a.to_path_buf()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = folder_of(target);
            match fs::metadata(dir) {
                Ok(d) if d.is_dir() => Ok(()),
                Ok(_) => Err(Problem::NotAFolder(dir.to_path_buf())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(Problem::NoFolder(dir.to_path_buf()))
                }
                Err(e) => Err(Problem::FolderNotWritable(dir.to_path_buf(), e)),
            }
        }
        Err(e) => Err(Problem::Io(e)),
    }
}

#[cfg(unix)]
fn special_file(m: &fs::Metadata) -> Problem {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_fifo() {
        Problem::Fifo
    } else if t.is_socket() {
        Problem::Socket
    } else {
        Problem::Device
    }
}

#[cfg(not(unix))]
fn special_file(_: &fs::Metadata) -> Problem {
    Problem::Device
}

/// An output file being made: the destination is checked and a temporary file waits
/// beside it. Dropping it without [`PendingFile::write`] removes the temporary file and
/// leaves the destination as it was.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("out.txt");
/// let out = lamina::output::PendingFile::create(&path).unwrap(); // checked before work
/// out.write(|w| w.write_all(b"done")).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"done");
///
/// let missing = dir.path().join("no/such/folder/out.txt");
/// let e = lamina::output::PendingFile::create(&missing).unwrap_err();
/// assert!(e.to_string().contains("does not exist"), "{e}");
/// ```
#[derive(Debug)]
pub struct PendingFile {
    /// The path the user gave.
    path: PathBuf,
    /// The file it names (symlinks followed), which the temporary file replaces.
    target: PathBuf,
    tmp: Option<tempfile::NamedTempFile>,
}

impl PendingFile {
    /// Check `path` and create the temporary file that will become it.
    pub fn create(path: &Path) -> Result<PendingFile, OutputError> {
        let fail = |problem| OutputError {
            path: path.to_path_buf(),
            problem,
        };
        let target = follow_symlinks(path).map_err(fail)?;
        check_target(&target).map_err(fail)?;
        let dir = folder_of(&target);
        // Listed under the lock, so an interrupt cannot fall between the creation and
        // the listing.
        let mut list = pending();
        let tmp = tempfile::Builder::new()
            .prefix(".lamina-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| fail(creation_problem(dir, e)))?;
        list.push(tmp.path().to_path_buf());
        drop(list);
        Ok(PendingFile {
            path: path.to_path_buf(),
            target,
            tmp: Some(tmp),
        })
    }

    /// The path the user gave.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fill the file through `write`, then put it in place of the destination. On any
    /// error the temporary file is removed and the destination left as it was.
    pub fn write<F>(mut self, write: F) -> Result<(), OutputError>
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()>,
    {
        let path = self.path.clone();
        let fail = |problem| OutputError {
            path: path.clone(),
            problem,
        };
        let Some(tmp) = self.tmp.as_ref() else {
            return Err(fail(Problem::Io(io::Error::other("already written"))));
        };
        {
            let mut out = BufWriter::with_capacity(WRITE_BUFFER, tmp.as_file());
            write(&mut out).map_err(|e| fail(Problem::Io(e)))?;
            out.flush().map_err(|e| fail(Problem::Io(e)))?;
        }
        tmp.as_file()
            .sync_data()
            .map_err(|e| fail(Problem::Io(e)))?;
        keep_permissions(tmp.path(), &self.target).map_err(|e| fail(Problem::Io(e)))?;
        // Renamed under the lock, so an interrupt sees either the temporary file (and
        // removes it) or the finished destination.
        let mut list = pending();
        let Some(tmp) = self.tmp.take() else {
            return Err(fail(Problem::Io(io::Error::other("already written"))));
        };
        let tmp_path = tmp.path().to_path_buf();
        let result = tmp.persist(&self.target);
        list.retain(|p| *p != tmp_path);
        drop(list);
        result.map(|_| ()).map_err(|e| fail(Problem::Io(e.error)))
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let mut list = pending();
            list.retain(|p| p != tmp.path());
            drop(tmp);
        }
    }
}

/// Write a file through `write`, all or nothing.
///
/// The content goes to a temporary file in the destination's folder (the folder of a
/// symlink's target), which is renamed over the destination only once `write` returned
/// `Ok` and the data was flushed. On any error the temporary file is removed and `path`
/// is left as it was. A folder, named pipe or device at `path` is refused untouched.
/// The error names no path: callers add it.
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
    PendingFile::create(path)?.write(write)?;
    Ok(())
}

/// Give the new file the permissions of the file it replaces, or the usual `rw-r--r--`
/// (temporary files are created private).
#[cfg(unix)]
fn keep_permissions(tmp: &Path, dest: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let perms = match fs::metadata(dest) {
        Ok(m) => m.permissions(),
        Err(_) => fs::Permissions::from_mode(0o644),
    };
    fs::set_permissions(tmp, perms)
}

#[cfg(not(unix))]
fn keep_permissions(_tmp: &Path, _dest: &Path) -> io::Result<()> {
    Ok(())
}

/// Signals that end the process after the temporary files are removed: Ctrl-C, `kill`,
/// a closed terminal.
#[cfg(unix)]
const ENDING_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// Processes ended by a signal exit with 128 plus its number, as shells report them
/// (130 for Ctrl-C).
const SIGNAL_EXIT_BASE: i32 = 128;

/// How many [`ExitOnSignal`] guards are alive: while any is, an ending signal removes
/// the temporary files and ends the process.
static EXIT_GUARDS: Mutex<usize> = Mutex::new(0);

/// While this guard lives, Ctrl-C, SIGTERM and SIGHUP remove every temporary output
/// file and end the process with status 128 + the signal number (130 for Ctrl-C).
///
/// Outside any guard the signals are left to whoever else handles them (the printer
/// streamer cancels a job gracefully on Ctrl-C), so a command that slices and then
/// streams holds a guard only while it slices. The signals are watched by a thread
/// started with the first guard; the process keeps its usual behaviour until then.
#[derive(Debug)]
pub struct ExitOnSignal(());

impl ExitOnSignal {
    /// Start exiting on signals (and watching them, the first time).
    pub fn new() -> ExitOnSignal {
        static WATCH: Once = Once::new();
        WATCH.call_once(watch_signals);
        *EXIT_GUARDS.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        ExitOnSignal(())
    }
}

impl Default for ExitOnSignal {
    fn default() -> Self {
        ExitOnSignal::new()
    }
}

impl Drop for ExitOnSignal {
    fn drop(&mut self) {
        let mut n = EXIT_GUARDS.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
    }
}

#[cfg(unix)]
fn watch_signals() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new(ENDING_SIGNALS) else {
        return;
    };
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let guarded = *EXIT_GUARDS.lock().unwrap_or_else(|e| e.into_inner()) > 0;
            if guarded {
                remove_pending();
                std::process::exit(SIGNAL_EXIT_BASE + signal);
            }
        }
    });
}

#[cfg(not(unix))]
fn watch_signals() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".part"))
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn writes_through_a_symlink_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let target = real.join("t.gcode");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.gcode");
        std::os::unix::fs::symlink("real/t.gcode", &link).unwrap();
        write_atomically(&link, |w| w.write_all(b"new")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty() && leftovers(&real).is_empty());
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling.gcode");
        std::os::unix::fs::symlink("real/new.gcode", &dangling).unwrap();
        write_atomically(&dangling, |w| w.write_all(b"x")).unwrap();
        assert_eq!(fs::read(real.join("new.gcode")).unwrap(), b"x");
        // A loop is refused.
        let a = dir.path().join("a");
        std::os::unix::fs::symlink("b", &a).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let e = PendingFile::create(&a).unwrap_err();
        assert!(matches!(e.problem, Problem::SymlinkLoop), "{e}");
    }

    #[test]
    fn refuses_a_folder_and_a_missing_folder_naming_the_users_path() {
        let dir = tempfile::tempdir().unwrap();
        let e = PendingFile::create(dir.path()).unwrap_err();
        assert!(matches!(e.problem, Problem::IsFolder), "{e}");
        let missing = dir.path().join("nope").join("x.gcode");
        let e = PendingFile::create(&missing).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("nope/x.gcode") && !text.contains(".part"),
            "{text}"
        );
        assert!(matches!(e.problem, Problem::NoFolder(_)), "{e}");
    }

    #[test]
    fn a_file_where_a_folder_should_be_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        fs::write(&file, "x").unwrap();
        for path in [file.join("x.gcode"), file.join("deeper/x.gcode")] {
            let e = PendingFile::create(&path).unwrap_err();
            assert!(
                matches!(&e.problem, Problem::NotAFolder(p) if *p == file),
                "{e}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_folder_no_file_can_be_made_in_is_named_not_the_temporary_file() {
        // /proc refuses new files to everyone, root included.
        let e = PendingFile::create(Path::new("/proc/x.gcode")).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("'/proc'") && !text.contains(".part") && !text.contains(".lamina-"),
            "{text}"
        );
    }

    #[test]
    fn a_dropped_pending_file_leaves_nothing_and_is_unlisted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gcode");
        let p = PendingFile::create(&path).unwrap();
        assert_eq!(leftovers(dir.path()).len(), 1);
        let tmp = p.tmp.as_ref().unwrap().path().to_path_buf();
        assert!(pending().contains(&tmp));
        drop(p);
        assert!(leftovers(dir.path()).is_empty() && !path.exists());
        assert!(!pending().contains(&tmp));
    }
}
