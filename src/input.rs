//! Reading input files: the error that names the file, for every kind of input
//! (meshes, G-code).

use std::path::{Path, PathBuf};

/// A file could not be loaded: the path and the reason (`E`: why its content is not
/// usable, without the file name).
#[derive(Debug, thiserror::Error)]
pub enum LoadError<E: std::error::Error + 'static> {
    /// The file could not be opened.
    #[error("cannot open '{}': {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The file was opened but its content is not usable.
    #[error("'{}': {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: E,
    },
}

impl<E: std::error::Error + 'static> LoadError<E> {
    /// The file the error is about.
    ///
    /// ```
    /// use lamina::input::LoadError;
    /// let e: LoadError<std::fmt::Error> = LoadError::Read {
    ///     path: "skull.stl".into(),
    ///     source: std::fmt::Error,
    /// };
    /// assert_eq!(e.path(), std::path::Path::new("skull.stl"));
    /// assert!(e.to_string().starts_with("'skull.stl': "));
    /// ```
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Open { path, .. } | LoadError::Read { path, .. } => path,
        }
    }
}
