//! Whether a file is a print at all, checked before the port is opened: a mesh, binary
//! data or text without a single motion command must never reach a printer.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::mesh::io::{Format, detect};

use crate::gcode::read::{self, Code};

use super::gcode::clean_line;

/// Why a file is not streamed.
#[derive(Debug, thiserror::Error)]
pub enum NotAPrint {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A mesh, not G-code.
    #[error(
        "{} looks like {what}, not G-code: slice it with `lamina slice` or use `lamina print`",
        path.display()
    )]
    Mesh {
        /// The file.
        path: PathBuf,
        /// What it looks like (`a binary STL`).
        what: &'static str,
    },
    /// Bytes that are not text.
    #[error("{} is binary data, not G-code (byte {offset} is {byte:#04x})", path.display())]
    Binary {
        /// The file.
        path: PathBuf,
        /// Where the first byte that no G-code holds is.
        offset: u64,
        /// That byte.
        byte: u8,
    },
    /// Text, but nothing in it moves the printer.
    #[error(
        "{} has no motion command (G0, G1, G2, G3 or G28) in its {commands} commands: \
         it is not a print",
        path.display()
    )]
    NoMotion {
        /// The file.
        path: PathBuf,
        /// Commands it has.
        commands: u64,
    },
    /// A corrupt line: it names a tool no printer has (following it would make the
    /// streamer keep state for billions of tools), or a value that is no usable number
    /// (`G1 XNaN`, `G1 X1e30`: a firmware would move to wherever its parser lands).
    #[error("{} line {line}: `{text}`: {why}: the file is corrupt", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: u64,
        /// The line's command.
        text: String,
        /// Why no reader of lamina's follows it.
        why: read::Corrupt,
    },
}

/// Bytes read to recognise a mesh file.
const SNIFF_BYTES: usize = 4096;

/// Check that `path` is G-code that moves the printer and that none of its lines is
/// corrupt ([`read::check`]: a tool beyond [`crate::gcode::MAX_TOOLS`], a value that
/// is no usable number). Reads the whole file.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let good = dir.path().join("a.gcode");
/// std::fs::write(&good, "; sliced\nM104 S210\nG28\nG1 X10 Y10\n").unwrap();
/// assert!(lamina::serial::check::check_file(&good).is_ok());
/// let bad = dir.path().join("b.gcode");
/// std::fs::write(&bad, "M104 S210\nM140 S60\n").unwrap();
/// assert!(lamina::serial::check::check_file(&bad).unwrap_err().to_string().contains("no motion"));
/// ```
pub fn check_file(path: &Path) -> Result<(), NotAPrint> {
    let read_err = |source| NotAPrint::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(read_err)?;
    let ext = path.extension().and_then(|e| e.to_str());
    let ext_says_gcode = ext.is_some_and(|e| {
        ["gcode", "gco", "g", "nc"]
            .iter()
            .any(|g| e.eq_ignore_ascii_case(g))
    });
    let mesh = detect(&head, len, if ext_says_gcode { None } else { ext });
    if let Some(format) = mesh {
        let what = match format {
            Format::StlBinary => "a binary STL",
            Format::StlAscii => "an ASCII STL",
            Format::Obj => "an OBJ mesh",
            Format::ThreeMf => "a 3MF package",
        };
        return Err(NotAPrint::Mesh {
            path: path.to_path_buf(),
            what,
        });
    }
    drop(head);
    let mut reader = BufReader::new(File::open(path).map_err(read_err)?);
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut commands = 0u64;
    let mut moves = false;
    for number in 1u64.. {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(read_err)?;
        if n == 0 {
            break;
        }
        if !moves && let Some(i) = line.iter().position(|&b| !is_text(b)) {
            return Err(NotAPrint::Binary {
                path: path.to_path_buf(),
                offset: offset + i as u64,
                byte: line[i],
            });
        }
        offset += n as u64;
        let lexed = read::lex(&line);
        let Some(code) = &lexed.code else {
            continue;
        };
        commands += 1;
        if let Err(why) = read::check(&lexed) {
            return Err(NotAPrint::Corrupt {
                path: path.to_path_buf(),
                line: number,
                // What the streamer would send.
                text: clean_line(&String::from_utf8_lossy(&line)).unwrap_or_default(),
                why,
            });
        }
        let Code::Command(c) = code else {
            continue;
        };
        moves |= c.letter == b'G' && matches!(c.code(), Some(0..=3 | 28));
    }
    if moves {
        Ok(())
    } else {
        Err(NotAPrint::NoMotion {
            path: path.to_path_buf(),
            commands,
        })
    }
}

/// Bytes G-code text holds: printable ASCII, tabs, line ends, and UTF-8 in comments.
fn is_text(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\r' | 0x0c) || (0x20..0x7f).contains(&b) || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meshes_and_binary_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stl = dir.path().join("aorta.stl");
        let mut bytes = vec![0u8; 80];
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 50]);
        std::fs::write(&stl, &bytes).expect("written");
        let e = check_file(&stl).expect_err("refused").to_string();
        assert!(e.contains("aorta.stl looks like a binary STL"), "{e}");
        assert!(e.contains("lamina print"), "{e}");
        // The same bytes named .gcode are still a mesh.
        let renamed = dir.path().join("aorta.gcode");
        std::fs::write(&renamed, &bytes).expect("written");
        assert!(
            check_file(&renamed)
                .expect_err("refused")
                .to_string()
                .contains("binary STL")
        );
        let ascii = dir.path().join("cube.stl");
        std::fs::write(&ascii, "solid cube\n facet normal 0 0 1\n").expect("written");
        assert!(
            check_file(&ascii)
                .expect_err("refused")
                .to_string()
                .contains("ASCII STL")
        );
        let blob = dir.path().join("photo.gcode");
        std::fs::write(&blob, b"G28\n\x00\x01\x02").expect("written");
        // Motion before the binary part: the first motion command is enough.
        assert!(check_file(&blob).is_ok());
        std::fs::write(&blob, b"M104 S200\n\x89PNG\x00\x01").expect("written");
        let e = check_file(&blob).expect_err("refused").to_string();
        assert!(e.contains("binary data"), "{e}");
    }

    #[test]
    fn corrupt_lines_are_refused_naming_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("print.gcode");
        let body = "G28\nG1 X10 Y10\nM104 T1 S200 ; second tool\nT1\n";
        std::fs::write(&f, body).expect("written");
        assert!(check_file(&f).is_ok(), "real tool numbers pass");
        for (bad, line) in [
            ("M104 T4000000000 S200", 5),
            ("T4000000000", 5),
            ("M109 T256 S200", 5),
            ("G10 P999999 S200", 5),
            ("M116 P300", 5),
            ("G1 XNaN Y10", 5),
            ("G1 X10 Y20000000000", 5),
            ("G1 X10 E1.2.3", 5),
            ("M104 Sinf", 5),
        ] {
            std::fs::write(&f, format!("{body}{bad}\nG1 X20\n")).expect("written");
            let e = check_file(&f).expect_err(bad).to_string();
            assert!(e.contains(&format!("line {line}: `{bad}`")), "{e}");
            assert!(e.contains("print.gcode"), "{e}");
        }
        // Before the first move too.
        std::fs::write(&f, "M104 T4000000000 S200\nG28\n").expect("written");
        assert!(
            check_file(&f)
                .expect_err("refused")
                .to_string()
                .contains("line 1:")
        );
    }
}
