//! Support speed: grid and tree support under a dome on a stem with a field of specks
//! round it, like the noise shells of an MRI segmentation (each speck's underside
//! needs a column of its own down to the bed or the model).

use criterion::{Criterion, criterion_group, criterion_main};
use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};
use std::hint::black_box;

use lamina::mesh::Mesh;
use lamina::mesh::shapes::{cuboid, cylinder, merge, uv_sphere};
use lamina::profile::{ProfileSelection, WidthRole, resolve};
use lamina::slice::{SliceOptions, layer_specs, slice_mesh};
use lamina::support::tree::{TreeParams, tree_support};
use lamina::support::{area_params, overhang, support_areas};

/// The allocator the `lamina` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A 40 mm dome on a 10 mm stem, and 300 specks of 0.6-1.2 mm placed round it.
fn model() -> Mesh {
    let mut parts = vec![
        cylinder([0.0, 0.0, 0.0], 5.0, 14.0, 48),
        uv_sphere([0.0, 0.0, 30.0], 20.0, 48, 96),
    ];
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut next = || rng.random::<f64>();
    for _ in 0..300 {
        let (x, y, z) = (
            next() * 60.0 - 30.0,
            next() * 60.0 - 30.0,
            2.0 + next() * 50.0,
        );
        let s = 0.6 + next() * 0.6;
        parts.push(cuboid([x, y, z], [x + s, y + s, z + s]));
    }
    merge(&parts)
}

fn support(c: &mut Criterion) {
    let settings = resolve(&ProfileSelection::default()).expect("the built-in profiles");
    let mesh = model();
    let specs = layer_specs(0.2, 0.2, 54.0);
    let layers = slice_mesh(&mesh, &specs, &SliceOptions::default()).0;
    let p = &settings.print;
    let width = settings.line_width(WidthRole::Support, p.support_tool, false);
    let overhangs = overhang::detect(
        &layers,
        Some(&mesh),
        p.support_threshold,
        p.support_min_area,
        p.support_bridges,
        width,
    );
    let points = overhang::surface_points(
        Some(&mesh),
        &layers,
        &overhangs,
        p.support_threshold,
        lamina::support::tree::SURFACE_SPACING,
    );
    let params = area_params(&settings);
    let tree = TreeParams::from_settings(&settings);
    let mut g = c.benchmark_group("support");
    g.sample_size(10);
    g.bench_function("grid, dome and 300 specks, 270 layers", |b| {
        b.iter(|| support_areas(black_box(&layers), &overhangs, &params))
    });
    g.bench_function("tree, dome and 300 specks, 270 layers", |b| {
        b.iter(|| tree_support(black_box(&layers), &points, &params, &tree))
    });
    g.finish();
}

criterion_group!(benches, support);
criterion_main!(benches);
