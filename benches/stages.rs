//! Every stage of the pipeline on the benchmark brain (`lamina::mesh::phantom::brain`,
//! 1.3 million triangles, clean and watertight, made here so anyone can reproduce the
//! figures): reading its STL, welding, checking, slicing, and, on a band of layers
//! through its middle, walls and infill, support, planning, writing (with the
//! estimate) and the 3D viewer; and the search for the orientation needing the least
//! support (`lamina orient`).
//!
//! `cargo bench --bench stages`; `benches/compare.sh brain` times the whole command
//! against PrusaSlicer.

/// The allocator the `lamina` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lamina::gcode::GcodeStream;
use lamina::layer::{LayerRegions, build_regions};
use lamina::mesh::{Mesh, check, io, phantom};
use lamina::orient;
use lamina::pipeline::gcode_job;
use lamina::plan::{LayerPlan, PlanParams, plan_job};
use lamina::preview::html::{HtmlOptions, html_viewer};
use lamina::preview::toolpath::{ParseOptions, parse_bytes};
use lamina::profile::{ProfileSelection, Settings, resolve};
use lamina::slice::{Layer, SliceOptions, layer_specs, slice_mesh};
use lamina::support::add_support;

/// Layers of the band the per-layer stages run on: 6 mm through the middle of the
/// brain, where both hemispheres and their folds are cut.
const BAND: std::ops::Range<usize> = 280..310;

fn settings(support: &str) -> Settings {
    resolve(&ProfileSelection {
        overrides: vec![
            "layer_height=0.2".into(),
            "perimeters=2".into(),
            "fill_density=15".into(),
            format!("support_material={support}"),
        ],
        ..ProfileSelection::default()
    })
    .expect("the built-in profiles")
}

/// The brain standing on the bed.
fn brain() -> Mesh {
    let mut mesh = phantom::brain(phantom::BRAIN_STEP);
    let bb = mesh.bounding_box().expect("a brain has faces");
    for v in &mut mesh.vertices {
        v[2] -= bb.min[2] as f32;
    }
    mesh
}

/// A binary STL of `mesh` in memory.
fn stl(mesh: &Mesh) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("brain.stl");
    io::write_stl(&path, mesh).expect("writing the STL");
    std::fs::read(&path).expect("reading the STL back")
}

fn stages(c: &mut Criterion) {
    let mesh = brain();
    let bytes = stl(&mesh);
    let soup: Vec<[[f32; 3]; 3]> = (0..mesh.faces.len()).map(|f| mesh.triangle(f)).collect();
    let s = settings("none");
    let p = &s.print;
    let height = f64::from(mesh.vertices.iter().map(|v| v[2]).fold(0.0, f32::max));
    let specs = layer_specs(p.first_layer_height, p.layer_height, height);
    let options = SliceOptions {
        closing_radius: p.slice_closing_radius,
        min_area: p.slice_min_area,
        resolution: p.resolution,
    };
    let layers: Vec<Layer> = slice_mesh(&mesh, &specs, &options).0;
    let band: Vec<Layer> = layers[BAND].to_vec();
    let regions: Vec<LayerRegions> = build_regions(&band, &s, 0);
    let params = PlanParams::from_settings(&s);
    let plans: Vec<LayerPlan> = plan_job(&regions, &params).expect("no tower").0;
    let job = gcode_job(&s, vec!["brain".into()]).expect("the built-in templates");
    let mut gcode = Vec::new();
    write(&job, &plans, &mut gcode);

    let mut g = c.benchmark_group("stages of the 1.3M-triangle brain");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    g.bench_function("load (read and weld the STL)", |b| {
        b.iter(|| io::read(black_box(&bytes), "brain", Some("stl")).expect("an STL"))
    });
    g.bench_function("weld", |b| {
        b.iter(|| {
            let mut w = io::weld::Welder::with_capacity(soup.len());
            for t in &soup {
                w.triangle(*t);
            }
            w.finish()
        })
    });
    g.bench_function("check", |b| b.iter(|| check::check(black_box(&mesh))));
    g.bench_function("slice (every layer)", |b| {
        b.iter(|| slice_mesh(black_box(&mesh), &specs, &options))
    });
    g.bench_function("regions (30 layers)", |b| {
        b.iter(|| build_regions(black_box(&band), &s, 0))
    });
    let grid = settings("grid");
    g.bench_function("grid support (30 layers)", |b| {
        b.iter(|| {
            let mut r: Vec<LayerRegions> = (0..band.len())
                .map(|i| LayerRegions {
                    index: i,
                    ..LayerRegions::default()
                })
                .collect();
            add_support(std::slice::from_ref(&band), &[&mesh], &mut r, &grid)
        })
    });
    g.bench_function("plan (30 layers)", |b| {
        b.iter(|| plan_job(black_box(&regions), &params))
    });
    g.bench_function("write with the estimate (30 layers)", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(gcode.len());
            write(&job, &plans, &mut out);
            out
        })
    });
    g.bench_function("preview: 3D viewer (30 layers)", |b| {
        b.iter(|| {
            let tp = parse_bytes(black_box(&gcode), &ParseOptions::default()).expect("G-code");
            let mut page = Vec::new();
            html_viewer(&tp, &HtmlOptions::default(), &mut page).expect("in memory");
            page
        })
    });
    g.finish();

    let mut g = c.benchmark_group("orientation of the 1.3M-triangle brain");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    let orient = orient::Params::from_settings(&grid);
    g.bench_function("orient (search and measure)", |b| {
        b.iter(|| orient::search(black_box(&mesh), &orient))
    });
    g.finish();
}

/// Stream `plans` as G-code into `out`, as the pipeline does.
fn write(job: &lamina::gcode::GcodeJob, plans: &[LayerPlan], out: &mut Vec<u8>) {
    let spill = tempfile::tempfile().expect("a temporary file");
    let mut stream = GcodeStream::new(job, Some(spill), None).expect("a valid job");
    for p in plans {
        stream.layer(p).expect("writing to a temporary file");
    }
    let (estimate, body) = stream.finish().expect("writing to a temporary file");
    body.expect("a body")
        .write_to(out, job, &estimate)
        .expect("writing to memory");
}

criterion_group!(benches, stages);
criterion_main!(benches);
