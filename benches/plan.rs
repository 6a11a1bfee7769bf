//! Planning speed: many small islands (walls and infill), and one island with tens of
//! thousands of infill lines, planned end to end (order, seams, combing, cooling).

/// The allocator the `lamina` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use lamina::geom::{ExPolygon, Point, Polygon, Polyline, scaled};
use lamina::layer::{IslandPaths, LayerRegions};
use lamina::path::{ExtrusionPath, Role};
use lamina::plan::{PlanParams, plan_layers};

const W: f64 = 0.45;
const H: f64 = 0.2;

/// A round island of radius `r` at `c` with a round hole, two walls around each and
/// infill lines across: 4 loops + about 2r/0.45·density lines.
fn island(c: Point, r: f64, lines: usize) -> IslandPaths {
    let ring = |radius: f64, ccw: bool| {
        let mut p = Polygon::circle(c, scaled(radius), 48);
        if !ccw {
            p.reverse();
        }
        p
    };
    let hole_r = r * 0.3;
    let boundary = ExPolygon {
        contour: ring(r, true),
        holes: vec![ring(hole_r, false)],
    };
    let perimeters = vec![
        ExtrusionPath::from_loop(Role::Perimeter, ring(r - 0.65, true), W, H),
        ExtrusionPath::from_loop(Role::ExternalPerimeter, ring(r - 0.225, true), W, H),
        ExtrusionPath::from_loop(Role::Perimeter, ring(hole_r + 0.65, false), W, H),
        ExtrusionPath::from_loop(Role::ExternalPerimeter, ring(hole_r + 0.225, false), W, H),
    ];
    // Vertical lines between the walls, split by the hole: left and right of it.
    let inner = r - 0.9;
    let mut infill = Vec::new();
    for k in 0..lines {
        let x = -inner + 2.0 * inner * (k as f64 + 0.5) / lines as f64;
        let half = (inner * inner - x * x).max(0.0).sqrt();
        let (cx, cy) = c.to_mm();
        let hole = hole_r + 0.9;
        if x.abs() < hole {
            let h = (hole * hole - x * x).sqrt();
            for (a, b) in [(-half, -h), (h, half)] {
                infill.push(ExtrusionPath::open(
                    Role::InternalInfill,
                    Polyline::new(vec![
                        Point::from_mm(cx + x, cy + a),
                        Point::from_mm(cx + x, cy + b),
                    ]),
                    W,
                    H,
                ));
            }
        } else {
            infill.push(ExtrusionPath::open(
                Role::InternalInfill,
                Polyline::new(vec![
                    Point::from_mm(cx + x, cy - half),
                    Point::from_mm(cx + x, cy + half),
                ]),
                W,
                H,
            ));
        }
    }
    IslandPaths {
        boundary,
        tool: 0,
        object: 0,
        perimeters,
        thin: Vec::new(),
        infill,
    }
}

/// `layers` layers of `n` x `n` islands: about 20 paths each.
fn many_islands(layers: usize, n: usize) -> Vec<LayerRegions> {
    (0..layers)
        .map(|l| LayerRegions {
            index: l,
            z: H * (l + 1) as f64,
            height: H,
            islands: (0..n * n)
                .map(|k| {
                    island(
                        Point::from_mm(5.0 + 8.0 * (k % n) as f64, 5.0 + 8.0 * (k / n) as f64),
                        3.5,
                        12,
                    )
                })
                .collect(),
            support: Vec::new(),
            support_areas: Vec::new(),
        })
        .collect()
}

fn paths(layers: &[LayerRegions]) -> usize {
    layers
        .iter()
        .flat_map(|l| &l.islands)
        .map(|i| i.perimeters.len() + i.thin.len() + i.infill.len())
        .sum()
}

fn bench(c: &mut Criterion) {
    let params = PlanParams::default();
    let layers = many_islands(10, 22);
    eprintln!(
        "many islands: {} layers, {} islands, {} paths",
        layers.len(),
        10 * 22 * 22,
        paths(&layers)
    );
    let mut g = c.benchmark_group("plan");
    g.sample_size(10);
    g.bench_function("100k paths in 4840 small islands", |b| {
        b.iter(|| black_box(plan_layers(black_box(&layers), &params)))
    });
    let big: Vec<LayerRegions> = (0..2)
        .map(|l| LayerRegions {
            index: l + 5,
            z: 1.0,
            height: H,
            islands: vec![island(Point::from_mm(100.0, 100.0), 95.0, 25_000)],
            support: Vec::new(),
            support_areas: Vec::new(),
        })
        .collect();
    eprintln!("big island: {} paths", paths(&big));
    g.bench_function("50k lines in one island with a hole", |b| {
        b.iter(|| black_box(plan_layers(black_box(&big), &params)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
