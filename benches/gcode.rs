//! G-code writing and time estimation on a job of about a million moves: writing into
//! memory (MB/s of G-code), estimating from the plans, and estimating the written text.

/// The allocator the `lamina` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lamina::gcode::{GcodeJob, MachineConfig, estimate, estimate_gcode, write_gcode};
use lamina::geom::Point;
use lamina::path::Role;
use lamina::plan::{LayerPlan, Step};

/// Layers, loops per layer and points per loop: 100 × 100 × 100 = 1M extrusion moves.
const LAYERS: usize = 100;
const LOOPS: usize = 100;
const POINTS: usize = 100;

/// Circles of many radii around the bed centre, like the walls and infill of a part
/// with curved surfaces, with a retracted travel between loops.
fn plans() -> Vec<LayerPlan> {
    (0..LAYERS)
        .map(|l| {
            let mut steps = Vec::with_capacity(2 * LOOPS + 1);
            steps.push(Step::Fan(if l == 0 { 0 } else { 100 }));
            for k in 0..LOOPS {
                let r = 2.0 + 0.4 * k as f64 + 0.001 * l as f64;
                let pts: Vec<Point> = (0..=POINTS)
                    .map(|i| {
                        let a = std::f64::consts::TAU * i as f64 / POINTS as f64;
                        Point::from_mm(110.0 + r * a.cos(), 110.0 + r * a.sin())
                    })
                    .collect();
                steps.push(Step::Travel {
                    to: pts[0],
                    speed: 150.0,
                    retract: k % 4 == 0,
                    lift: false,
                });
                steps.push(Step::Extrude {
                    role: if k == LOOPS - 1 {
                        Role::ExternalPerimeter
                    } else {
                        Role::InternalInfill
                    },
                    points: pts,
                    width: 0.45,
                    height: 0.2,
                    speed: 40.0 + (k % 3) as f64 * 10.0,
                    flow: 1.0,
                });
            }
            LayerPlan {
                index: l,
                z: 0.2 * (l + 1) as f64,
                height: 0.2,
                steps,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let plans = plans();
    let job = GcodeJob {
        timestamp: Some("2024-01-01 at 00:00:00 UTC".into()),
        ..GcodeJob::default()
    };
    let est = estimate(&job, &plans).expect("estimate");
    let mut out = Vec::new();
    write_gcode(&mut out, &job, &plans, &est).expect("write");
    let bytes = out.len() as u64;

    let mut g = c.benchmark_group("gcode");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("write_1M_moves", |b| {
        let mut buf = Vec::with_capacity(out.len());
        b.iter(|| {
            buf.clear();
            write_gcode(&mut buf, &job, black_box(&plans), &est).expect("write");
            black_box(buf.len())
        })
    });
    g.bench_function("estimate_plans_1M_moves", |b| {
        b.iter(|| {
            estimate(&job, black_box(&plans))
                .expect("estimate")
                .total_time
        })
    });
    let machine = MachineConfig::default();
    g.bench_function("estimate_text_1M_moves", |b| {
        b.iter(|| {
            estimate_gcode(black_box(out.as_slice()), &machine, &[])
                .expect("estimate")
                .total_time
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
