//! 3MF: a zip package of XML model parts. Objects hold meshes or components (other
//! objects, possibly in other parts, with transforms); each build item is one printable
//! object. The model's unit is honoured (everything is converted to millimetres).

use std::collections::HashMap;
use std::io::{Read, Seek, Write};

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::weld::Welder;
use super::{Named, ReadError};
use crate::mesh::Mesh;

/// Components may nest; deeper than this is taken for a cycle.
const MAX_DEPTH: usize = 32;

/// A 3×4 affine transform in 3MF's row-vector convention:
/// `[x y z 1] · M`, stored as m00 m01 m02 m10 m11 m12 m20 m21 m22 m30 m31 m32.
type Affine = [f64; 12];

const IDENTITY: Affine = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];

fn apply(m: &Affine, p: [f64; 3]) -> [f64; 3] {
    [
        p[0] * m[0] + p[1] * m[3] + p[2] * m[6] + m[9],
        p[0] * m[1] + p[1] * m[4] + p[2] * m[7] + m[10],
        p[0] * m[2] + p[1] * m[5] + p[2] * m[8] + m[11],
    ]
}

/// `a` then `b` (row vectors: p·A·B).
fn compose(a: &Affine, b: &Affine) -> Affine {
    let mut out = [0.0; 12];
    for r in 0..4 {
        for c in 0..3 {
            let mut v = if r == 3 { b[9 + c] } else { 0.0 };
            for k in 0..3 {
                v += a[r * 3 + k] * b[k * 3 + c];
            }
            out[r * 3 + c] = v;
        }
    }
    out
}

fn parse_transform(s: &str) -> Result<Affine, ReadError> {
    let vals: Vec<f64> = s
        .split_whitespace()
        .map(|v| v.parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| ReadError::ThreeMf(format!("transform '{s}' is not 12 numbers")))?;
    if vals.len() != 12 || vals.iter().any(|v| !v.is_finite()) {
        return Err(ReadError::ThreeMf(format!(
            "transform '{s}' is not 12 numbers"
        )));
    }
    let mut m = [0.0; 12];
    m.copy_from_slice(&vals);
    Ok(m)
}

/// One `<object>`: a mesh, or components.
#[derive(Default)]
struct ObjectDef {
    name: String,
    vertices: Vec<[f64; 3]>,
    triangles: Vec<[u32; 3]>,
    components: Vec<(String, u32, Affine)>,
}

/// A parsed model part.
struct Part {
    scale: f64,
    objects: HashMap<u32, ObjectDef>,
    build: Vec<(u32, Affine)>,
}

fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == name).then(|| {
            a.normalized_value(XmlVersion::default())
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.to_string())
        })
    })
}

fn num(e: &BytesStart, name: &str) -> Result<f64, ReadError> {
    let v = attr(e, name)
        .ok_or_else(|| ReadError::ThreeMf(format!("a <{}> has no '{name}'", tag(e))))?;
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| ReadError::ThreeMf(format!("'{v}' is not a number")))?;
    if !x.is_finite() {
        return Err(ReadError::NonFinite {
            location: format!("a <{}>", tag(e)),
        });
    }
    Ok(x)
}

fn index(e: &BytesStart, name: &str) -> Result<u32, ReadError> {
    let v = attr(e, name)
        .ok_or_else(|| ReadError::ThreeMf(format!("a <{}> has no '{name}'", tag(e))))?;
    v.trim()
        .parse()
        .map_err(|_| ReadError::ThreeMf(format!("'{v}' is not an index")))
}

fn tag(e: &BytesStart) -> String {
    e.local_name().as_ref().to_string()
}

fn unit_scale(unit: &str) -> Result<f64, ReadError> {
    Ok(match unit {
        "micron" => 0.001,
        "millimeter" => 1.0,
        "centimeter" => 10.0,
        "inch" => 25.4,
        "foot" => 304.8,
        "meter" => 1000.0,
        other => return Err(ReadError::ThreeMf(format!("unknown unit '{other}'"))),
    })
}

fn parse_part(xml: &str) -> Result<Part, ReadError> {
    let mut reader = Reader::from_str(xml);
    let mut part = Part {
        scale: 1.0,
        objects: HashMap::new(),
        build: Vec::new(),
    };
    let mut current: Option<(u32, ObjectDef)> = None;
    let mut saw_model = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| ReadError::ThreeMf(format!("bad XML: {e}")))?;
        match ev {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "model" => {
                    saw_model = true;
                    if let Some(u) = attr(&e, "unit") {
                        part.scale = unit_scale(&u)?;
                    }
                }
                "object" => {
                    let id = index(&e, "id")?;
                    let def = ObjectDef {
                        name: attr(&e, "name").unwrap_or_default(),
                        ..Default::default()
                    };
                    if let Some((pid, pdef)) = current.replace((id, def)) {
                        part.objects.insert(pid, pdef);
                    }
                }
                "vertex" => {
                    if let Some((_, def)) = current.as_mut() {
                        def.vertices
                            .push([num(&e, "x")?, num(&e, "y")?, num(&e, "z")?]);
                    }
                }
                "triangle" => {
                    if let Some((_, def)) = current.as_mut() {
                        def.triangles
                            .push([index(&e, "v1")?, index(&e, "v2")?, index(&e, "v3")?]);
                    }
                }
                "component" => {
                    if let Some((_, def)) = current.as_mut() {
                        let t = match attr(&e, "transform") {
                            Some(s) => parse_transform(&s)?,
                            None => IDENTITY,
                        };
                        let path = attr(&e, "path").unwrap_or_default();
                        def.components.push((path, index(&e, "objectid")?, t));
                    }
                }
                "item" => {
                    let t = match attr(&e, "transform") {
                        Some(s) => parse_transform(&s)?,
                        None => IDENTITY,
                    };
                    part.build.push((index(&e, "objectid")?, t));
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == "object" => {
                if let Some((id, def)) = current.take() {
                    part.objects.insert(id, def);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((id, def)) = current.take() {
        part.objects.insert(id, def);
    }
    if !saw_model {
        return Err(ReadError::ThreeMf(
            "the model part has no <model> element".into(),
        ));
    }
    Ok(part)
}

/// Read a 3MF package; returns (name, mesh, tool) for each build item.
pub fn read_3mf<R: Read + Seek>(r: R) -> Result<Vec<(String, Mesh, Option<usize>)>, ReadError> {
    let mut zip = zip::ZipArchive::new(r)
        .map_err(|e| ReadError::ThreeMf(format!("not a readable zip package ({e})")))?;
    let read_text =
        |zip: &mut zip::ZipArchive<R>, name: &str| -> Option<Result<String, ReadError>> {
            let name = name.trim_start_matches('/');
            let mut f = zip.by_name(name).ok()?;
            let mut s = String::new();
            Some(f.read_to_string(&mut s).map(|_| s).map_err(|e| {
                ReadError::ThreeMf(format!("cannot read '{name}' in the package ({e})"))
            }))
        };
    // The start part, from the package relationships.
    let mut start = "3D/3dmodel.model".to_string();
    if let Some(rels) = read_text(&mut zip, "_rels/.rels") {
        let rels = rels?;
        let mut reader = Reader::from_str(&rels);
        while let Ok(ev) = reader.read_event() {
            match ev {
                Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                    let is_model = attr(&e, "Type").is_some_and(|t| t.ends_with("/3dmodel"));
                    if let (true, Some(target)) = (is_model, attr(&e, "Target")) {
                        start = target.trim_start_matches('/').to_string();
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
    }
    let main_xml = read_text(&mut zip, &start)
        .ok_or_else(|| ReadError::ThreeMf("no 3D model part in the package".into()))??;
    let main = parse_part(&main_xml)?;

    // Other parts referenced by components (production extension), loaded on demand.
    let mut parts: HashMap<String, Part> = HashMap::new();
    let mut wanted: Vec<String> = main
        .objects
        .values()
        .flat_map(|o| o.components.iter().map(|c| c.0.clone()))
        .filter(|p| !p.is_empty() && p.trim_start_matches('/') != start)
        .collect();
    while let Some(path) = wanted.pop() {
        let key = path.trim_start_matches('/').to_string();
        if parts.contains_key(&key) {
            continue;
        }
        let xml = read_text(&mut zip, &key).ok_or_else(|| {
            ReadError::ThreeMf(format!(
                "a component refers to '{key}', which is not in the package"
            ))
        })??;
        let part = parse_part(&xml)?;
        wanted.extend(
            part.objects
                .values()
                .flat_map(|o| o.components.iter().map(|c| c.0.clone()))
                .filter(|p| !p.is_empty()),
        );
        parts.insert(key, part);
    }

    // Extruder assignments written by PrusaSlicer, when present.
    let tools = read_text(&mut zip, "Metadata/Slic3r_PE_model.config")
        .and_then(Result::ok)
        .map(|s| extruder_assignments(&s))
        .unwrap_or_default();

    if main.build.is_empty() {
        return Err(ReadError::ThreeMf("the model has no build items".into()));
    }
    let mut out = Vec::new();
    for (k, (id, item_t)) in main.build.iter().enumerate() {
        let mut welder = Welder::default();
        let scale = main.scale;
        let to_mm: Affine = [
            scale, 0.0, 0.0, 0.0, scale, 0.0, 0.0, 0.0, scale, 0.0, 0.0, 0.0,
        ];
        // Units scale the whole build: the item transform is in model units too.
        let t = compose(item_t, &to_mm);
        emit(&main, &parts, &start, *id, &t, &mut welder, 0)?;
        let name = main
            .objects
            .get(id)
            .map(|o| o.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_default();
        if welder.faces() == 0 {
            continue;
        }
        let tool = tools
            .get(id)
            .copied()
            .or_else(|| tools.get(&(k as u32 + 1)).copied());
        out.push((name, welder.finish(), tool));
    }
    if out.is_empty() {
        return Err(ReadError::NoTriangles);
    }
    Ok(out)
}

/// Add object `id` of `part` (and its components) to `welder`, transformed by `t`.
fn emit(
    part: &Part,
    parts: &HashMap<String, Part>,
    start: &str,
    id: u32,
    t: &Affine,
    welder: &mut Welder,
    depth: usize,
) -> Result<(), ReadError> {
    if depth > MAX_DEPTH {
        return Err(ReadError::ThreeMf(
            "components nest too deeply (a cycle?)".into(),
        ));
    }
    let obj = part
        .objects
        .get(&id)
        .ok_or_else(|| ReadError::ThreeMf(format!("object {id} is referenced but not defined")))?;
    let base: Vec<u32> = obj
        .vertices
        .iter()
        .map(|v| {
            let p = apply(t, *v);
            welder.vertex([p[0] as f32, p[1] as f32, p[2] as f32])
        })
        .collect();
    for tri in &obj.triangles {
        let f = tri.map(|i| base.get(i as usize).copied());
        match f {
            [Some(a), Some(b), Some(c)] => welder.face([a, b, c]),
            _ => {
                return Err(ReadError::ThreeMf(format!(
                    "object {id} has a triangle with a vertex index out of range (it has {} vertices)",
                    obj.vertices.len()
                )));
            }
        }
    }
    for (path, cid, ct) in &obj.components {
        let key = path.trim_start_matches('/');
        let target = if key.is_empty() || key == start {
            part
        } else {
            parts
                .get(key)
                .ok_or_else(|| ReadError::ThreeMf(format!("missing part '{key}'")))?
        };
        // Component transform first, then the parent's.
        let tt = compose(ct, t);
        emit(target, parts, start, *cid, &tt, welder, depth + 1)?;
    }
    Ok(())
}

/// `object id -> tool (0-based)` from PrusaSlicer's model config.
fn extruder_assignments(xml: &str) -> HashMap<u32, usize> {
    let mut out = HashMap::new();
    let mut reader = Reader::from_str(xml);
    let mut object: Option<u32> = None;
    while let Ok(ev) = reader.read_event() {
        match ev {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "object" => object = attr(&e, "id").and_then(|v| v.parse().ok()),
                "metadata" => {
                    let is_extruder = attr(&e, "key").as_deref() == Some("extruder")
                        && attr(&e, "type").as_deref() == Some("object");
                    if let (true, Some(o), Some(v)) = (
                        is_extruder,
                        object,
                        attr(&e, "value").and_then(|v| v.parse::<usize>().ok()),
                    ) {
                        if v > 0 {
                            out.insert(o, v - 1);
                        }
                    }
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == "object" => object = None,
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The 3MF core namespace.
const CORE_NS: &str = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02";

/// Write named meshes as a 3MF package: one mesh object and one build item per object,
/// in millimetres, coordinates written exactly (the shortest text that reads back as the
/// same `f32`). The package is streamed (no seeking), so any writer will do.
pub fn write_3mf(w: &mut dyn Write, objects: &[Named<'_>]) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new_stream(w);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", opts)?;
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>
</Types>
"#,
    )?;
    zip.start_file("_rels/.rels", opts)?;
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>
"#,
    )?;
    zip.start_file("3D/3dmodel.model", opts)?;
    {
        let mut x = std::io::BufWriter::new(&mut zip);
        writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            x,
            r#"<model unit="millimeter" xml:lang="en-US" xmlns="{CORE_NS}">"#
        )?;
        writeln!(x, "<resources>")?;
        for (id, &(name, mesh)) in objects.iter().enumerate() {
            let name = quick_xml::escape::escape(name);
            writeln!(x, r#"<object id="{}" type="model" name="{name}">"#, id + 1)?;
            writeln!(x, "<mesh><vertices>")?;
            for v in &mesh.vertices {
                writeln!(x, r#"<vertex x="{}" y="{}" z="{}"/>"#, v[0], v[1], v[2])?;
            }
            writeln!(x, "</vertices><triangles>")?;
            for f in &mesh.faces {
                writeln!(
                    x,
                    r#"<triangle v1="{}" v2="{}" v3="{}"/>"#,
                    f[0], f[1], f[2]
                )?;
            }
            writeln!(x, "</triangles></mesh>\n</object>")?;
        }
        writeln!(x, "</resources>\n<build>")?;
        for id in 1..=objects.len() {
            writeln!(x, r#"<item objectid="{id}"/>"#)?;
        }
        writeln!(x, "</build>\n</model>")?;
        x.flush()?;
    }
    zip.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_applies_left_then_right() {
        let scale2 = [2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0];
        let shift = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 10.0, 0.0, 0.0];
        // Scale then shift: (1,0,0) -> (2,0,0) -> (12,0,0).
        let m = compose(&scale2, &shift);
        assert_eq!(apply(&m, [1.0, 0.0, 0.0]), [12.0, 0.0, 0.0]);
        // Shift then scale: (1,0,0) -> (11,0,0) -> (22,0,0).
        let m = compose(&shift, &scale2);
        assert_eq!(apply(&m, [1.0, 0.0, 0.0]), [22.0, 0.0, 0.0]);
    }
}
