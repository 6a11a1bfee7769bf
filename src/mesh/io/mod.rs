//! Reading and writing mesh files: STL (binary and ASCII), OBJ and 3MF.
//!
//! The format is decided by the content (a zip package is 3MF; a file whose size is
//! exactly what its binary STL header announces is binary STL, even if its header text
//! begins with `solid`; `solid ... facet` text is ASCII STL; `v`/`f` lines are OBJ), the
//! file extension only breaking ties. Vertices are welded by exact position into an
//! indexed [`Mesh`] as the file is read, without per-triangle allocation.
//!
//! ```
//! use lamina::mesh::io;
//! let stl = b"solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n";
//! let objects = io::read(stl, "t", Some("stl")).unwrap();
//! assert_eq!(objects[0].mesh.faces.len(), 1);
//! ```

mod obj;
mod stl;
mod threemf;
pub mod weld;

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Seek, Write};
use std::path::{Path, PathBuf};

use nalgebra::Vector3;

use super::{Mesh, Object};

/// Progress callback: (bytes done, bytes total).
pub type Progress<'a> = dyn Fn(u64, u64) + Sync + 'a;

/// Read buffer size for large files.
const BUFFER: usize = 1 << 20;

/// A mesh file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Binary STL.
    StlBinary,
    /// ASCII STL.
    StlAscii,
    /// Wavefront OBJ.
    Obj,
    /// 3D Manufacturing Format (zip package).
    ThreeMf,
}

/// Why a mesh could not be read (without the file name; see [`LoadError`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing in the file.
    #[error("the file is empty")]
    Empty,
    /// Too short to be any mesh.
    #[error("the file is too short to be a mesh ({len} bytes)")]
    TooShort {
        /// File size.
        len: u64,
    },
    /// A binary STL whose header promises more triangles than the file holds.
    #[error(
        "binary STL is truncated: the header says {triangles} triangles ({expected} bytes) but the file has {actual} bytes"
    )]
    Truncated {
        /// Triangles the header announces.
        triangles: u32,
        /// Bytes those need.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// A text format error.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// NaN or infinite coordinates.
    #[error("{location} has a coordinate that is not a finite number")]
    NonFinite {
        /// Where (a line, a triangle).
        location: String,
    },
    /// A 3MF package problem.
    #[error("not a valid 3MF file: {0}")]
    ThreeMf(String),
    /// The format could not be recognised.
    #[error("unknown mesh format (expected STL, OBJ or 3MF)")]
    UnknownFormat,
    /// The file is valid but has no triangles.
    #[error("the file has no triangles")]
    NoTriangles,
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The three coordinates of an ASCII vertex (OBJ `v`, STL `vertex`) from the words
/// after its keyword on line `line`: a syntax error if one is missing or not a number,
/// an error if one is not finite.
fn parse_vertex<'a>(
    words: &mut impl Iterator<Item = &'a str>,
    line: usize,
) -> Result<[f32; 3], ReadError> {
    let syntax = |message: String| ReadError::Syntax { line, message };
    let mut v = [0f32; 3];
    for c in &mut v {
        let w = words
            .next()
            .ok_or_else(|| syntax("a vertex needs three coordinates".into()))?;
        *c = w
            .parse()
            .map_err(|_| syntax(format!("'{w}' is not a number")))?;
        if !c.is_finite() {
            return Err(ReadError::NonFinite {
                location: format!("line {line}"),
            });
        }
    }
    Ok(v)
}

/// A mesh file could not be loaded: the path and the reason.
pub type LoadError = crate::input::LoadError<ReadError>;

/// A mesh file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write '{}': {source}", path.display())]
pub struct SaveError {
    /// The file.
    pub path: PathBuf,
    /// The reason.
    pub source: std::io::Error,
}

/// Guess the format from the first bytes, the file length and the extension.
pub fn detect(prefix: &[u8], len: u64, ext_hint: Option<&str>) -> Option<Format> {
    if prefix.starts_with(b"PK\x03\x04") {
        return Some(Format::ThreeMf);
    }
    if len >= stl::HEADER && stl::is_exact_binary(prefix, len) {
        return Some(Format::StlBinary);
    }
    let text = String::from_utf8_lossy(&prefix[..prefix.len().min(4096)]);
    let trimmed = text.trim_start();
    let lower = trimmed.to_ascii_lowercase();
    if lower.starts_with("solid") && (lower.contains("facet") || lower.contains("endsolid")) {
        return Some(Format::StlAscii);
    }
    let looks_obj = prefix.is_ascii()
        && trimmed.lines().take(50).any(|l| {
            let l = l.trim_start();
            l.starts_with("v ")
                || l.starts_with("f ")
                || l.starts_with("o ")
                || l.starts_with("mtllib")
        });
    if looks_obj {
        return Some(Format::Obj);
    }
    match ext_hint.map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("stl") if lower.starts_with("solid") && prefix.is_ascii() => Some(Format::StlAscii),
        Some("stl") if len >= stl::HEADER => Some(Format::StlBinary),
        Some("obj") if prefix.is_ascii() => Some(Format::Obj),
        Some("3mf") => Some(Format::ThreeMf),
        _ => None,
    }
}

/// Load every object of a mesh file.
pub fn load(path: &Path) -> Result<Vec<Object>, LoadError> {
    load_with_progress(path, &|_, _| {})
}

/// Load every object of a mesh file, reporting progress in bytes.
pub fn load_with_progress(path: &Path, progress: &Progress<'_>) -> Result<Vec<Object>, LoadError> {
    let _busy = crate::timing::enter(crate::timing::Stage::Load);
    let open_err = |source| LoadError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(open_err(std::io::Error::other("it is a directory")));
    }
    let name = stem(path);
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_owned);
    let mut reader = BufReader::with_capacity(BUFFER, file);
    read_from(&mut reader, meta.len(), &name, ext.as_deref(), progress).map_err(|source| {
        LoadError::Read {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Read a mesh from memory; `name` names objects that have none in the file.
pub fn read(bytes: &[u8], name: &str, ext_hint: Option<&str>) -> Result<Vec<Object>, ReadError> {
    let mut cur = Cursor::new(bytes);
    read_from(&mut cur, bytes.len() as u64, name, ext_hint, &|_, _| {})
}

fn read_from<R: BufRead + Seek>(
    r: &mut R,
    len: u64,
    name: &str,
    ext_hint: Option<&str>,
    progress: &Progress<'_>,
) -> Result<Vec<Object>, ReadError> {
    if len == 0 {
        return Err(ReadError::Empty);
    }
    let prefix = r.fill_buf()?.to_vec();
    let format = detect(&prefix, len, ext_hint).ok_or(ReadError::UnknownFormat)?;
    let named = |n: String| if n.is_empty() { name.to_string() } else { n };
    let single = |mesh: Mesh| {
        vec![Object {
            name: name.to_string(),
            mesh,
            tool: None,
            group: None,
        }]
    };
    match format {
        Format::StlBinary => {
            if len < stl::HEADER {
                return Err(ReadError::TooShort { len });
            }
            Ok(single(stl::read_binary(r, len, progress)?))
        }
        Format::StlAscii => Ok(single(stl::read_ascii(r, len, progress)?)),
        Format::Obj => {
            let objs = obj::read_obj(r, len, progress)?;
            let many = objs.len() > 1;
            Ok(objs
                .into_iter()
                .enumerate()
                .map(|(i, (n, mesh))| Object {
                    name: if n.is_empty() && many {
                        format!("{name} {}", i + 1)
                    } else {
                        named(n)
                    },
                    mesh,
                    tool: None,
                    group: None,
                })
                .collect())
        }
        Format::ThreeMf => {
            // The zip directory sits at the end: read the whole package.
            let mut bytes = Vec::with_capacity(len as usize);
            r.read_to_end(&mut bytes)?;
            let items = threemf::read_3mf(Cursor::new(bytes))?;
            let many = items.len() > 1;
            progress(len, len);
            Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, (n, mesh, tool))| Object {
                    name: if n.is_empty() && many {
                        format!("{name} {}", i + 1)
                    } else {
                        named(n)
                    },
                    mesh,
                    tool,
                    group: None,
                })
                .collect())
        }
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

/// A mesh file format lamina writes, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// Binary STL (all objects in one mesh: STL has no objects).
    Stl,
    /// Wavefront OBJ, an `o` statement per object.
    Obj,
    /// 3MF, an object and a build item per object, in millimetres.
    ThreeMf,
}

impl SaveFormat {
    /// The format an output path's extension names (any case), if lamina writes it.
    ///
    /// ```
    /// use lamina::mesh::io::SaveFormat;
    /// use std::path::Path;
    /// assert_eq!(SaveFormat::from_path(Path::new("a.OBJ")), Some(SaveFormat::Obj));
    /// assert_eq!(SaveFormat::from_path(Path::new("a.ply")), None);
    /// ```
    pub fn from_path(path: &Path) -> Option<SaveFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "stl" => Some(SaveFormat::Stl),
            "obj" => Some(SaveFormat::Obj),
            "3mf" => Some(SaveFormat::ThreeMf),
            _ => None,
        }
    }
}

/// A mesh to write and the name of its object.
pub type Named<'a> = (&'a str, &'a Mesh);

/// Write `objects` to `w` in `format`.
pub fn write_to(
    w: &mut dyn Write,
    objects: &[Named<'_>],
    format: SaveFormat,
) -> std::io::Result<()> {
    match format {
        SaveFormat::Stl => stl::write_binary(w, objects),
        SaveFormat::Obj => obj::write_obj(w, objects),
        SaveFormat::ThreeMf => threemf::write_3mf(w, objects),
    }
}

/// Write `objects` to `path` in `format` (through a temporary file renamed into place).
pub fn save(path: &Path, objects: &[Named<'_>], format: SaveFormat) -> Result<(), SaveError> {
    crate::output::write_atomically(path, |w| write_to(w, objects, format)).map_err(|source| {
        SaveError {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Write `mesh` as a binary STL (through a temporary file renamed into place).
pub fn write_stl(path: &Path, mesh: &Mesh) -> Result<(), SaveError> {
    save(path, &[(&stem(path), mesh)], SaveFormat::Stl)
}

/// Unit normal of a triangle (zero for a degenerate one).
fn normal(a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> [f32; 3] {
    let a = Vector3::from(a);
    let n = (Vector3::from(b) - a).cross(&(Vector3::from(c) - a));
    n.try_normalize(0.0).map_or([0.0; 3], Into::into)
}

#[cfg(test)]
mod tests;
