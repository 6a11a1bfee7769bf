//! Readers against files built here with known content.

use std::io::Write;

use super::*;
use crate::mesh::shapes::cuboid;

/// The unit cube's 12 triangles as corner positions.
fn cube_triangles() -> Vec<[[f32; 3]; 3]> {
    let m = cuboid([0.0; 3], [1.0; 3]);
    m.faces
        .iter()
        .map(|f| f.map(|i| m.vertices[i as usize]))
        .collect()
}

fn binary_stl(header: &[u8], tris: &[[[f32; 3]; 3]]) -> Vec<u8> {
    let mut out = vec![0u8; 80];
    out[..header.len()].copy_from_slice(header);
    out.extend_from_slice(&(tris.len() as u32).to_le_bytes());
    for t in tris {
        out.extend_from_slice(&[0u8; 12]);
        for v in t {
            for c in v {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        out.extend_from_slice(&[0u8; 2]);
    }
    out
}

fn ascii_stl(tris: &[[[f32; 3]; 3]]) -> String {
    let mut s = String::from("solid cube\n");
    for t in tris {
        s += "  facet normal 0 0 0\n    outer loop\n";
        for v in t {
            s += &format!("      vertex {} {} {}\n", v[0], v[1], v[2]);
        }
        s += "    endloop\n  endfacet\n";
    }
    s + "endsolid cube\n"
}

fn assert_unit_cube(objects: &[Object], scale: f64, offset: [f64; 3]) {
    assert_eq!(objects.len(), 1);
    let m = &objects[0].mesh;
    assert_eq!(m.vertices.len(), 8);
    assert_eq!(m.faces.len(), 12);
    let bb = m.bounding_box().unwrap();
    for ((lo, hi), o) in bb.min.iter().zip(bb.max).zip(offset) {
        assert!((lo - o).abs() < 1e-5, "{bb:?}");
        assert!((hi - o - scale).abs() < 1e-5, "{bb:?}");
    }
}

#[test]
fn binary_stl_reads_and_welds() {
    let bytes = binary_stl(b"exported by a CT workstation", &cube_triangles());
    assert_eq!(
        detect(&bytes, bytes.len() as u64, None),
        Some(Format::StlBinary)
    );
    assert_unit_cube(&read(&bytes, "cube", None).unwrap(), 1.0, [0.0; 3]);
}

#[test]
fn binary_stl_with_a_solid_header_is_still_binary() {
    let bytes = binary_stl(b"solid cube exported as binary", &cube_triangles());
    assert_eq!(
        detect(&bytes, bytes.len() as u64, Some("stl")),
        Some(Format::StlBinary)
    );
    assert_unit_cube(&read(&bytes, "cube", Some("stl")).unwrap(), 1.0, [0.0; 3]);
}

#[test]
fn ascii_stl_reads() {
    let text = ascii_stl(&cube_triangles());
    assert_eq!(
        detect(text.as_bytes(), text.len() as u64, None),
        Some(Format::StlAscii)
    );
    assert_unit_cube(&read(text.as_bytes(), "cube", None).unwrap(), 1.0, [0.0; 3]);
}

#[test]
fn obj_with_quads_and_negative_indices() {
    let text = "mtllib cube.mtl\no cube\n\
        v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n\
        vn 0 0 1\nusemtl bone\ns off\n\
        f -8 -5 -6 -7\nf 5 6 7 8\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 4/1 1/1 5/1 8/1\n";
    let objs = read(text.as_bytes(), "file", None).unwrap();
    assert_eq!(objs[0].name, "cube");
    assert_unit_cube(&objs, 1.0, [0.0; 3]);
}

fn three_mf(model: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", opts).unwrap();
    zip.write_all(b"<?xml version=\"1.0\"?><Types/>").unwrap();
    zip.start_file("_rels/.rels", opts).unwrap();
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Target="/3D/model.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>"#,
    )
    .unwrap();
    zip.start_file("3D/model.model", opts).unwrap();
    zip.write_all(model.as_bytes()).unwrap();
    for (name, content) in extra {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn cube_mesh_xml() -> String {
    let m = cuboid([0.0; 3], [1.0; 3]);
    let mut s = String::from("<mesh><vertices>");
    for v in &m.vertices {
        s += &format!("<vertex x=\"{}\" y=\"{}\" z=\"{}\"/>", v[0], v[1], v[2]);
    }
    s += "</vertices><triangles>";
    for f in &m.faces {
        s += &format!(
            "<triangle v1=\"{}\" v2=\"{}\" v3=\"{}\"/>",
            f[0], f[1], f[2]
        );
    }
    s + "</triangles></mesh>"
}

#[test]
fn three_mf_with_components_items_and_units() {
    let model = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<model unit="centimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">
 <resources>
  <object id="1" name="cube" type="model">{}</object>
  <object id="2" name="assembly" type="model">
   <components><component objectid="1" transform="2 0 0 0 2 0 0 0 2 5 0 0"/></components>
  </object>
 </resources>
 <build>
  <item objectid="1"/>
  <item objectid="2" transform="1 0 0 0 1 0 0 0 1 0 10 0"/>
 </build>
</model>"#,
        cube_mesh_xml()
    );
    let bytes = three_mf(
        &model,
        &[(
            "Metadata/Slic3r_PE_model.config",
            r#"<config><object id="2"><metadata type="object" key="extruder" value="2"/></object></config>"#,
        )],
    );
    let objs = read(&bytes, "pkg", None).unwrap();
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[0].name, "cube");
    // 1 cm cube at the origin.
    assert_unit_cube(&objs[..1], 10.0, [0.0; 3]);
    // Scaled 2x, moved 5 cm in X by the component and 10 cm in Y by the item.
    assert_eq!(objs[1].name, "assembly");
    assert_unit_cube(&objs[1..], 20.0, [50.0, 100.0, 0.0]);
    assert_eq!(objs[1].tool, Some(1));
    assert_eq!(objs[0].tool, None);
}

#[test]
fn written_stl_reads_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.stl");
    let mesh = crate::mesh::shapes::uv_sphere([1.0, 2.0, 3.0], 5.0, 12, 24);
    write_stl(&path, &mesh).unwrap();
    let back = load(&path).unwrap();
    let m = &back[0].mesh;
    assert_eq!(back[0].name, "out");
    assert_eq!(m.faces.len(), mesh.faces.len());
    assert_eq!(m.vertices.len(), mesh.vertices.len());
    assert!((0..m.faces.len()).all(|f| m.triangle(f) == mesh.triangle(f)));
}

#[test]
fn bad_inputs_give_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let cube = binary_stl(b"x", &cube_triangles());
    let cases: Vec<(PathBuf, &str)> = vec![
        (write("empty.stl", b""), "the file is empty"),
        (
            write("cut.stl", &cube[..cube.len() - 20]),
            "binary STL is truncated: the header says 12 triangles (684 bytes) but the file has 664 bytes",
        ),
        (
            write(
                "nan.stl",
                ascii_stl(&[[[f32::NAN, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]).as_bytes(),
            ),
            "line 4 has a coordinate that is not a finite number",
        ),
        (
            write("broken.obj", b"v 0 0 0\nv 1 0 0\nf 1 2 x\n"),
            "line 3: 'x' is not a vertex index",
        ),
        (
            write("photo.png", b"\x89PNG\r\n\x1a\n0000000000"),
            "unknown mesh format",
        ),
        (
            write("zip.3mf", b"PK\x03\x04garbage"),
            "not a valid 3MF file",
        ),
        (
            write("nomodel.3mf", &three_mf("<notamodel/>", &[])),
            "not a valid 3MF file: the model part has no <model> element",
        ),
    ];
    for (path, expected) in cases {
        let e = load(&path).unwrap_err().to_string();
        let file = path.file_name().unwrap().to_string_lossy();
        assert!(e.contains(&*file), "{e}");
        assert!(e.contains(expected), "{file}: {e}");
    }
    let missing = load(&dir.path().join("nope.stl")).unwrap_err().to_string();
    assert!(
        missing.starts_with("cannot open '") && missing.contains("nope.stl"),
        "{missing}"
    );
}

#[test]
fn package_without_model_part() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"hello").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let e = read(&bytes, "x", Some("3mf")).unwrap_err().to_string();
    assert_eq!(e, "not a valid 3MF file: no 3D model part in the package");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<Vec<u8>> {
        let tris = cube_triangles();
        let model = format!(
            r#"<model unit="millimeter"><resources><object id="1">{}</object></resources><build><item objectid="1"/></build></model>"#,
            cube_mesh_xml()
        );
        vec![
            binary_stl(b"solid x", &tris),
            ascii_stl(&tris).into_bytes(),
            b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf -1 -2 -3\n".to_vec(),
            three_mf(&model, &[]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                    ext in prop_oneof![Just(None), Just(Some("stl")), Just(Some("obj")), Just(Some("3mf"))]) {
            let _ = read(&bytes, "fuzz", ext);
        }

        #[test]
        fn mutated_files_never_panic(which in 0usize..4,
                                     edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
                                     cut in any::<prop::sample::Index>(),
                                     truncate in any::<bool>()) {
            let mut bytes = samples()[which].clone();
            for (at, v) in edits {
                let i = at.index(bytes.len());
                bytes[i] = v;
            }
            if truncate {
                let n = cut.index(bytes.len());
                bytes.truncate(n);
            }
            let _ = read(&bytes, "fuzz", None);
        }

        #[test]
        fn lying_header_does_not_allocate_wildly(n in any::<u32>()) {
            let mut bytes = binary_stl(b"", &cube_triangles());
            bytes[80..84].copy_from_slice(&n.to_le_bytes());
            let r = read(&bytes, "fuzz", Some("stl"));
            if n != 12 {
                prop_assert!(r.is_err() || n < 12);
            }
        }
    }
}
