//! Reading G-code text: a file or bytes, line by line, into the interpreter.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::gcode::read::{Lines, RawLine};

use super::interp::Parser;
use super::{ParseOptions, Toolpath};

/// Lines looked at for signs of a binary file.
const SNIFF_LINES: u64 = 2000;
/// Characters of a line quoted in a message (enough to recognise it).
const EXCERPT_CHARS: usize = 40;

/// Why G-code could not be read (without the file name; see [`LoadError`]).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Nothing in the file.
    #[error("the file is empty")]
    Empty,
    /// PrusaSlicer's binary G-code.
    #[error("this is binary G-code (.bgcode); export plain text G-code instead")]
    BinaryGcode,
    /// Text without G-code commands.
    #[error("this is not G-code (no G or M commands found)")]
    NotGcode,
    /// Text mostly of lines that are no G-code: the first of them.
    #[error("this is not G-code: line {line} (`{text}`) is no G-code command, nor are most lines")]
    NotGcodeAt {
        /// The line, from 1.
        line: u64,
        /// Its beginning.
        text: String,
    },
    /// A line no reader of lamina's follows (a tool beyond the printer's, a value that
    /// is no usable number).
    #[error("line {line} is corrupt: {why}")]
    Corrupt {
        /// The line, from 1.
        line: u64,
        /// Why.
        why: crate::gcode::read::Corrupt,
    },
    /// Bytes no text holds.
    #[error("this is binary data, not G-code (line {line} holds a NUL byte)")]
    Binary {
        /// The line, from 1.
        line: u64,
    },
    /// G-code that extrudes nothing.
    #[error("the G-code has no extrusion moves (nothing would be printed)")]
    NoExtrusion,
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A G-code file could not be loaded: the path and the reason.
pub type LoadError = crate::input::LoadError<ParseError>;

/// Read a G-code file.
///
/// ```no_run
/// use lamina::preview::toolpath::{read_file, ParseOptions};
/// let tp = read_file("part.gcode".as_ref(), &ParseOptions::default()).unwrap();
/// println!("{} layers", tp.layers.len());
/// ```
pub fn read_file(path: &Path, opts: &ParseOptions) -> Result<Toolpath, LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(LoadError::Open {
            path: path.to_path_buf(),
            source: std::io::Error::other("it is a directory"),
        });
    }
    parse(BufReader::with_capacity(1 << 20, file), opts).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Read G-code held in memory.
///
/// ```
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"G90\nM83\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\nG1 Z0.2\nG1 X0 Y0\n;TYPE:External perimeter\n;WIDTH:0.45\nG1 X20 E1 F1800\nG1 Y20 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// assert_eq!(tp.layers.len(), 1);
/// assert_eq!(tp.layers[0].segments.len(), 2);
/// assert_eq!(tp.layers[0].segments[1].width, 0.45);
/// ```
pub fn parse_bytes(data: &[u8], opts: &ParseOptions) -> Result<Toolpath, ParseError> {
    parse(data, opts)
}

/// Read G-code from any buffered reader, line by line.
pub fn parse<R: BufRead>(reader: R, opts: &ParseOptions) -> Result<Toolpath, ParseError> {
    let mut p = Parser::new(opts);
    let mut lines = Lines::new(reader);
    let mut any_bytes = false;
    let mut first_junk: Option<(u64, String)> = None;
    while let Some((number, line)) = lines.next_line()? {
        let junk = p.junk_lines;
        let line = match line {
            RawLine::Text(line) => line,
            RawLine::Overlong => {
                // A line of a megabyte is no G-code.
                p.junk_lines += 1;
                any_bytes = true;
                first_junk.get_or_insert_with(|| (number, "...".to_string()));
                continue;
            }
        };
        if !any_bytes {
            if line.starts_with(b"GCDE") {
                return Err(ParseError::BinaryGcode);
            }
            any_bytes = true;
        }
        if number <= SNIFF_LINES && line.contains(&0) {
            return Err(ParseError::Binary { line: number });
        }
        p.line(line)
            .map_err(|why| ParseError::Corrupt { line: number, why })?;
        if p.junk_lines > junk && first_junk.is_none() {
            first_junk = Some((number, excerpt(line)));
        }
    }
    if !any_bytes || (p.code_lines == 0 && p.junk_lines == 0) {
        return Err(ParseError::Empty);
    }
    if p.code_lines == 0 || p.junk_lines > p.code_lines {
        return Err(match first_junk {
            Some((line, text)) => ParseError::NotGcodeAt { line, text },
            None => ParseError::NotGcode,
        });
    }
    p.finish()
}

/// The start of a line, for a message: at most [`EXCERPT_CHARS`] characters, trimmed.
fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line.trim_ascii());
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.into_owned(),
    }
}
