//! Wavefront OBJ: vertices and faces; `o` statements start new objects; everything else
//! (normals, texture coordinates, materials, groups, smoothing) is ignored.

use std::io::{BufRead, Write};

use super::weld::{FastMap, Welder};
use super::{Named, Progress, ReadError};
use crate::mesh::Mesh;

/// Read an OBJ file into one mesh per `o` object (a file without `o` is one object).
/// Returns (name, mesh) pairs; unnamed objects get an empty name.
pub fn read_obj(
    r: &mut impl BufRead,
    len: u64,
    progress: &Progress<'_>,
) -> Result<Vec<(String, Mesh)>, ReadError> {
    let mut positions: Vec<[f32; 3]> = Vec::new();
    let mut objects: Vec<(String, Mesh)> = Vec::new();
    let mut name = String::new();
    let mut welder = Welder::default();
    // File vertex index -> welded index in the current object.
    let mut local: FastMap<u32, u32> = FastMap::default();
    let mut line = String::new();
    let mut logical = String::new();
    let mut line_no = 0usize;
    let mut first_line_of_logical = 0usize;
    let mut read = 0u64;
    let mut face: Vec<u32> = Vec::with_capacity(8);
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
        if n == 0 && logical.is_empty() {
            break;
        }
        if n > 0 {
            line_no += 1;
            read += n as u64;
            if line_no % 65536 == 0 {
                progress(read, len);
            }
            if logical.is_empty() {
                first_line_of_logical = line_no;
            }
            let trimmed = line.trim_end_matches(['\r', '\n']);
            // A backslash at the end continues the statement on the next line.
            if let Some(head) = trimmed.strip_suffix('\\') {
                logical.push_str(head);
                logical.push(' ');
                continue;
            }
            logical.push_str(trimmed);
        }
        let at = first_line_of_logical;
        let syntax = |message: String| ReadError::Syntax { line: at, message };
        let statement = logical.split('#').next().unwrap_or("");
        let mut words = statement.split_whitespace();
        match words.next() {
            Some("v") => {
                let v = super::parse_vertex(&mut words, at)?;
                positions.push(v);
            }
            Some("f") => {
                face.clear();
                for w in words {
                    let idx = w.split('/').next().unwrap_or("");
                    let i: i64 = idx
                        .parse()
                        .map_err(|_| syntax(format!("'{w}' is not a vertex index")))?;
                    let count = positions.len() as i64;
                    let resolved = if i > 0 { i - 1 } else { count + i };
                    if i == 0 || resolved < 0 || resolved >= count {
                        return Err(syntax(format!(
                            "face index {i} is out of range (the file has {count} vertices so far)"
                        )));
                    }
                    let file_index = resolved as u32;
                    let id = match local.get(&file_index) {
                        Some(&id) => id,
                        None => {
                            let id = welder.vertex(positions[file_index as usize]);
                            local.insert(file_index, id);
                            id
                        }
                    };
                    face.push(id);
                }
                if face.len() < 3 {
                    return Err(syntax(format!(
                        "a face needs at least three vertices, this one has {}",
                        face.len()
                    )));
                }
                for k in 1..face.len() - 1 {
                    welder.face([face[0], face[k], face[k + 1]]);
                }
            }
            Some("o") => {
                if welder.faces() > 0 {
                    objects.push((
                        std::mem::take(&mut name),
                        std::mem::take(&mut welder).finish(),
                    ));
                    local.clear();
                }
                name = words.collect::<Vec<_>>().join(" ");
            }
            _ => {}
        }
        logical.clear();
        if n == 0 {
            break;
        }
    }
    if welder.faces() > 0 {
        objects.push((name, welder.finish()));
    }
    progress(len, len);
    if objects.is_empty() {
        return Err(ReadError::NoTriangles);
    }
    Ok(objects)
}

/// Write named meshes as OBJ: an `o` statement per object, then its vertices and faces
/// (indices count from 1 across the file). Coordinates are written exactly (the
/// shortest text that reads back as the same `f32`).
pub fn write_obj(w: &mut dyn Write, objects: &[Named<'_>]) -> std::io::Result<()> {
    writeln!(w, "# written by lamina")?;
    let mut base = 1u64;
    for &(name, mesh) in objects {
        // A name is the rest of the `o` line: keep it on one line.
        let name: String = name
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        writeln!(w, "o {}", name.trim())?;
        for v in &mesh.vertices {
            writeln!(w, "v {} {} {}", v[0], v[1], v[2])?;
        }
        for f in &mesh.faces {
            let [a, b, c] = f.map(|i| base + u64::from(i));
            writeln!(w, "f {a} {b} {c}")?;
        }
        base += mesh.vertices.len() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: u64, _: u64) {}

    fn read(text: &str) -> Result<Vec<(String, Mesh)>, ReadError> {
        read_obj(&mut text.as_bytes(), text.len() as u64, &none)
    }

    #[test]
    fn quads_negative_indices_and_slashes() {
        let text =
            "# a square\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvn 0 0 1\nf -4//1 -3//1 -2//1 -1//1\n";
        let objs = read(text).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].1.faces, vec![[0, 1, 2], [0, 2, 3]]);
    }

    #[test]
    fn objects_are_split() {
        let text = "o a\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\no b\nv 5 0 0\nf 2 4 3\n";
        let objs = read(text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].0, "b");
        assert_eq!(objs[1].1.vertices.len(), 3);
    }

    #[test]
    fn bad_index_names_the_line() {
        let e = read("v 0 0 0\nv 1 0 0\nv 0 1 0\n\nf 1 2 12\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 5: face index 12 is out of range (the file has 3 vertices so far)"
        );
    }

    #[test]
    fn continuation_lines_join() {
        let objs = read("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 \\\n 3\n").unwrap();
        assert_eq!(objs[0].1.faces.len(), 1);
    }
}
