//! STL, binary and ASCII.

use std::io::{BufRead, Read, Write};

use super::weld::Welder;
use super::{Named, Progress, ReadError, normal};
use crate::mesh::Mesh;

/// Size of a binary STL header (80 bytes of text, then a 32-bit triangle count).
pub const HEADER: u64 = 84;
/// Size of one binary STL triangle record.
pub const RECORD: u64 = 50;

/// Whether `len` bytes starting with `prefix` are exactly a binary STL: the triangle
/// count in the header accounts for the file's size. This holds whatever the header
/// text says (many binary files start with `solid`).
pub fn is_exact_binary(prefix: &[u8], len: u64) -> bool {
    triangle_count(prefix).is_some_and(|n| HEADER + RECORD * u64::from(n) == len)
}

/// The triangle count a binary header claims.
pub fn triangle_count(prefix: &[u8]) -> Option<u32> {
    let b = prefix.get(80..84)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Read a binary STL of `len` bytes.
pub fn read_binary(
    r: &mut impl Read,
    len: u64,
    progress: &Progress<'_>,
) -> Result<Mesh, ReadError> {
    let mut header = [0u8; HEADER as usize];
    r.read_exact(&mut header)
        .map_err(|_| ReadError::TooShort { len })?;
    let n = triangle_count(&header).unwrap_or(0);
    let expected = HEADER + RECORD * u64::from(n);
    if expected > len {
        return Err(ReadError::Truncated {
            triangles: n,
            expected,
            actual: len,
        });
    }
    if n == 0 {
        return Err(ReadError::NoTriangles);
    }
    let mut welder = Welder::with_capacity(n as usize);
    const BATCH: usize = 4096;
    let mut buf = vec![0u8; BATCH * RECORD as usize];
    let mut done = 0usize;
    let total = n as usize;
    while done < total {
        let count = BATCH.min(total - done);
        let bytes = &mut buf[..count * RECORD as usize];
        r.read_exact(bytes)?;
        for (k, rec) in bytes.chunks_exact(RECORD as usize).enumerate() {
            let mut corners = [[0f32; 3]; 3];
            for (c, corner) in corners.iter_mut().enumerate() {
                for (a, v) in corner.iter_mut().enumerate() {
                    let o = 12 + c * 12 + a * 4;
                    *v = f32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]]);
                }
            }
            if corners.iter().flatten().any(|v| !v.is_finite()) {
                return Err(ReadError::NonFinite {
                    location: format!("triangle {}", done + k + 1),
                });
            }
            welder.triangle(corners);
        }
        done += count;
        progress(HEADER + RECORD * done as u64, len);
    }
    Ok(welder.finish())
}

/// Read an ASCII STL (one or more `solid` blocks).
pub fn read_ascii(
    r: &mut impl BufRead,
    len: u64,
    progress: &Progress<'_>,
) -> Result<Mesh, ReadError> {
    let mut welder = Welder::with_capacity((len / 250) as usize);
    let mut line = String::new();
    let mut line_no = 0usize;
    let mut read = 0u64;
    let mut corners: Vec<[f32; 3]> = Vec::with_capacity(3);
    let mut in_loop = false;
    let mut seen_solid = false;
    loop {
        line.clear();
        let n = r.read_line(&mut line).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                ReadError::Syntax {
                    line: line_no + 1,
                    message: "not text (invalid UTF-8)".into(),
                }
            } else {
                ReadError::Io(e)
            }
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        read += n as u64;
        if line_no % 65536 == 0 {
            progress(read, len);
        }
        let mut words = line.split_whitespace();
        let Some(word) = words.next() else { continue };
        let syntax = |message: String| ReadError::Syntax {
            line: line_no,
            message,
        };
        match word.to_ascii_lowercase().as_str() {
            "solid" => seen_solid = true,
            "endsolid" | "facet" | "endfacet" => {}
            "outer" => {
                if in_loop {
                    return Err(syntax("'outer loop' inside another loop".into()));
                }
                in_loop = true;
                corners.clear();
            }
            "vertex" => {
                if !in_loop {
                    return Err(syntax("'vertex' outside 'outer loop'".into()));
                }
                let v = super::parse_vertex(&mut words, line_no)?;
                corners.push(v);
            }
            "endloop" => {
                if !in_loop {
                    return Err(syntax("'endloop' without 'outer loop'".into()));
                }
                in_loop = false;
                if corners.len() < 3 {
                    return Err(syntax(format!(
                        "a facet needs three vertices, this one has {}",
                        corners.len()
                    )));
                }
                // Polygons are fan-triangulated.
                for k in 1..corners.len() - 1 {
                    welder.triangle([corners[0], corners[k], corners[k + 1]]);
                }
            }
            other => {
                if !seen_solid {
                    return Err(syntax("an ASCII STL must start with 'solid'".into()));
                }
                return Err(syntax(format!("unexpected '{other}'")));
            }
        }
    }
    if in_loop {
        return Err(ReadError::Syntax {
            line: line_no,
            message: "the file ends inside a facet".into(),
        });
    }
    progress(len, len);
    if welder.faces() == 0 {
        return Err(ReadError::NoTriangles);
    }
    Ok(welder.finish())
}

/// The text at the start of the binary STL files lamina writes (not `solid`, which
/// some readers take for ASCII).
const WRITER_HEADER: &[u8] = b"binary STL written by lamina";

/// Write named meshes as one binary STL (STL has no objects: all faces together), each
/// face with its unit normal.
pub fn write_binary(w: &mut dyn Write, objects: &[Named<'_>]) -> std::io::Result<()> {
    let count: usize = objects.iter().map(|(_, m)| m.faces.len()).sum();
    let count = u32::try_from(count).map_err(|_| {
        std::io::Error::other(format!(
            "{count} triangles are more than a binary STL can hold"
        ))
    })?;
    let mut header = [0u8; HEADER as usize];
    header[..WRITER_HEADER.len()].copy_from_slice(WRITER_HEADER);
    header[80..84].copy_from_slice(&count.to_le_bytes());
    w.write_all(&header)?;
    let mut record = [0u8; RECORD as usize];
    for &(_, m) in objects {
        for f in &m.faces {
            let [a, b, c] = f.map(|i| m.vertices[i as usize]);
            for (k, v) in [normal(a, b, c), a, b, c].iter().flatten().enumerate() {
                record[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
            }
            w.write_all(&record)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: u64, _: u64) {}

    #[test]
    fn ascii_with_odd_spacing_and_case() {
        let text = "solid  x\n  FACET normal 0 0 1\n outer loop\n\tvertex 0 0 0\nvertex 1 0 0\n vertex 0 1 0\n endloop\nendfacet\nendsolid x\n";
        let m = read_ascii(&mut text.as_bytes(), text.len() as u64, &none).unwrap();
        assert_eq!(m.faces.len(), 1);
        assert_eq!(m.vertices[1], [1.0, 0.0, 0.0]);
    }

    #[test]
    fn ascii_error_names_the_line() {
        let text = "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 zero 0\n";
        let e = read_ascii(&mut text.as_bytes(), text.len() as u64, &none).unwrap_err();
        assert_eq!(e.to_string(), "line 5: 'zero' is not a number");
    }
}
