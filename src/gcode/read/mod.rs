//! Reading G-code: one lexer for every reader in lamina (the estimator, the preview,
//! the streamer), with one set of guards against corrupt lines (tool numbers beyond
//! [`MAX_TOOLS`], values that are not numbers or beyond [`MAX_VALUE`], lines beyond
//! [`MAX_LINE`] bytes).
//!
//! [`Lines`] hands out a file's lines, numbered from 1, with bounded memory; [`lex`]
//! takes one line apart into its [`Code`] and comment; [`check`] applies the guards
//! ([`Corrupt`]); [`modal::Modal`] follows the moves, modes and offsets of the
//! commands, for every reader alike.

mod lex;
pub mod modal;

use std::io::{self, BufRead, Read};

pub use lex::{
    Code, Command, Line, MAX_TOOLS, MAX_VALUE, NUMERIC_M_CODES, Words, first_number, lex, numbers,
    parse_number, trim,
};
use modal::Refusal;

/// Longest line read whole, bytes: a line of a megabyte is no G-code (binary data or a
/// mesh read as text), and a reader must not hold a line of any length in memory.
pub const MAX_LINE: usize = 1 << 20;

/// One line as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawLine<'a> {
    /// The line, with its line end.
    Text(&'a [u8]),
    /// A line longer than [`MAX_LINE`] (skipped to its end).
    Overlong,
}

/// Why a line is taken for corrupt: no reader follows it.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum Corrupt {
    /// Longer than [`MAX_LINE`]: binary data or a mesh read as text.
    #[error("it is longer than {MAX_LINE} bytes")]
    Overlong,
    /// A command the motion interpreter refuses (a tool beyond [`MAX_TOOLS`]).
    #[error("it {0}")]
    Refused(#[from] Refusal),
    /// A parameter written with a value that is no usable number (see
    /// [`Command::unusable`]).
    #[error(
        "its {} is not a usable number (not a number, infinite, or beyond {MAX_VALUE:e})",
        char::from(*.0)
    )]
    Unusable(u8),
}

/// The guards every reader applies to a line taken apart: a tool beyond [`MAX_TOOLS`],
/// a value that is no usable number.
///
/// ```
/// use lamina::gcode::read::{check, lex, Corrupt};
/// assert_eq!(check(&lex(b"G1 X10 Y5 E.5")), Ok(()));
/// assert_eq!(check(&lex(b"G1 XNaN Y5")), Err(Corrupt::Unusable(b'X')));
/// assert!(check(&lex(b"M104 T4000000000 S200")).is_err());
/// ```
pub fn check(line: &Line) -> Result<(), Corrupt> {
    let Some(Code::Command(c)) = &line.code else {
        return Ok(());
    };
    if let Some(t) = c.absurd_tool() {
        return Err(Refusal::AbsurdTool(t).into());
    }
    match c.unusable() {
        Some(letter) => Err(Corrupt::Unusable(letter)),
        None => Ok(()),
    }
}

/// The lines of G-code text, numbered from 1, read into one reused buffer.
///
/// ```
/// use lamina::gcode::read::{Lines, RawLine};
/// let mut lines = Lines::new(&b"G28\nG1 X1"[..]);
/// assert_eq!(lines.next_line().unwrap(), Some((1, RawLine::Text(b"G28\n"))));
/// assert_eq!(lines.next_line().unwrap(), Some((2, RawLine::Text(b"G1 X1"))));
/// assert_eq!(lines.next_line().unwrap(), None);
/// ```
pub struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> Self {
        Lines {
            reader,
            buf: Vec::with_capacity(256),
            number: 0,
        }
    }

    /// The next line and its number (from 1), `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, RawLine<'_>)>> {
        self.buf.clear();
        let read = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut self.buf)?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        if self.buf.len() >= MAX_LINE && self.buf.last() != Some(&b'\n') {
            // Skip the rest of the line without keeping it.
            loop {
                let chunk = self.reader.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.reader.consume(i + 1);
                        break;
                    }
                    None => {
                        let n = chunk.len();
                        self.reader.consume(n);
                    }
                }
            }
            return Ok(Some((self.number, RawLine::Overlong)));
        }
        Ok(Some((self.number, RawLine::Text(&self.buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_lines_are_skipped_whole() {
        let mut text = b"G28\n".to_vec();
        text.extend(std::iter::repeat_n(b'X', MAX_LINE + 10));
        text.extend_from_slice(b"\nG1 X1\n");
        let mut lines = Lines::new(std::io::BufReader::with_capacity(4096, &text[..]));
        assert_eq!(
            lines.next_line().unwrap(),
            Some((1, RawLine::Text(b"G28\n")))
        );
        assert_eq!(lines.next_line().unwrap(), Some((2, RawLine::Overlong)));
        assert_eq!(
            lines.next_line().unwrap(),
            Some((3, RawLine::Text(b"G1 X1\n")))
        );
        assert_eq!(lines.next_line().unwrap(), None);
    }
}
