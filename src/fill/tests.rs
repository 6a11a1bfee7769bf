//! Fill patterns against known answers.

use super::*;
use crate::geom::{self, Point, Polygon};

fn square(size: f64) -> Vec<ExPolygon> {
    vec![ExPolygon::new(Polygon::rectangle(
        0,
        0,
        scaled(size),
        scaled(size),
    ))]
}

fn params(pattern: FillPattern, density: f64, layer: usize) -> FillParams {
    FillParams {
        pattern,
        density,
        spacing: 0.45,
        angle: 45.0,
        layer,
        z: 0.2 * (layer + 1) as f64,
        connect: false,
    }
}

fn total_mm(v: &[Polyline]) -> f64 {
    v.iter().map(Polyline::length).sum::<f64>() / geom::SCALE
}

fn all_inside(v: &[Polyline], area: &[ExPolygon]) -> bool {
    let grown = geom::offset(area, 10.0, geom::JoinType::Miter);
    v.iter().all(|l| {
        l.points
            .iter()
            .all(|p| grown.iter().any(|e| e.contains(*p)))
            && l.points.windows(2).all(|w| {
                let mid = w[0].lerp(w[1], 0.5);
                grown.iter().any(|e| e.contains(mid))
            })
    })
}

#[test]
fn solid_lines_cover_the_square() {
    let area = square(20.0);
    for pattern in [
        FillPattern::Rectilinear,
        FillPattern::Monotonic,
        FillPattern::Lines,
    ] {
        let lines = fill(&area, &params(pattern, 1.0, 0));
        let len = total_mm(&lines);
        // Straight lines: area / spacing, within one line (zig-zag joints add a little).
        assert!((len - 400.0 / 0.45).abs() < 45.0, "{pattern:?}: {len}");
        assert!(all_inside(&lines, &area), "{pattern:?}");
        // Coverage: the beads cover nearly all of the area.
        let covered = geom::offset_polylines(&lines, scaled(0.225) as f64 + 2000.0);
        let shrunk = geom::offset(&area, -scaled(0.3) as f64, geom::JoinType::Miter);
        let missed: f64 = geom::difference(&shrunk, &covered)
            .iter()
            .map(ExPolygon::area_mm2)
            .sum();
        assert!(missed < 0.01 * 400.0, "{pattern:?}: {missed} mm² missed");
    }
}

#[test]
fn sparse_density_scales_material() {
    let area = square(40.0);
    let solid = total_mm(&fill(&area, &params(FillPattern::Lines, 1.0, 0)));
    for pattern in [
        FillPattern::Lines,
        FillPattern::Grid,
        FillPattern::Triangles,
        FillPattern::Gyroid,
    ] {
        let len = total_mm(&fill(&area, &params(pattern, 0.2, 3)));
        let expected = 0.2 * solid;
        let tol = if pattern == FillPattern::Gyroid {
            0.12
        } else {
            0.05
        };
        assert!(
            (len - expected).abs() / expected < tol,
            "{pattern:?}: {len} vs {expected}"
        );
    }
}

#[test]
fn directions_alternate_and_lines_stack() {
    let area = square(20.0);
    let dir = |v: &[Polyline]| {
        let l = &v[0];
        let d = l.points[1] - l.points[0];
        (d.y as f64)
            .atan2(d.x as f64)
            .rem_euclid(std::f64::consts::PI)
    };
    let a = fill(&area, &params(FillPattern::Lines, 0.2, 0));
    let b = fill(&area, &params(FillPattern::Lines, 0.2, 1));
    let c = fill(&area, &params(FillPattern::Lines, 0.2, 2));
    assert!((dir(&a) - dir(&b)).abs() > 1.5);
    // Layers of the same parity put lines at the same places, even on another island.
    let other = vec![ExPolygon::new(Polygon::rectangle(
        scaled(5.0),
        scaled(3.0),
        scaled(15.0),
        scaled(17.0),
    ))];
    let d = fill(&other, &params(FillPattern::Lines, 0.2, 2));
    let offsets = |v: &[Polyline]| {
        let n = (-std::f64::consts::FRAC_PI_4).sin_cos();
        v.iter()
            .map(|l| {
                let p = l.points[0];
                ((p.x as f64 * n.0 + p.y as f64 * n.1) / 1000.0).round() as i64
            })
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (oc, od) = (offsets(&c), offsets(&d));
    assert!(
        od.iter().all(|o| oc.iter().any(|x| (x - o).abs() <= 1)),
        "{od:?} vs {oc:?}"
    );
    assert_eq!(offsets(&a), oc);
}

#[test]
fn holes_stay_empty() {
    let mut hole = Polygon::rectangle(scaled(5.0), scaled(5.0), scaled(15.0), scaled(15.0));
    hole.reverse();
    let area = vec![ExPolygon {
        contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)),
        holes: vec![hole],
    }];
    for pattern in [
        FillPattern::Rectilinear,
        FillPattern::Gyroid,
        FillPattern::Grid,
        FillPattern::Concentric,
    ] {
        let lines = fill(&area, &params(pattern, 1.0, 0));
        assert!(all_inside(&lines, &area), "{pattern:?}");
        let inner = ExPolygon::new(Polygon::rectangle(
            scaled(5.1),
            scaled(5.1),
            scaled(14.9),
            scaled(14.9),
        ));
        assert!(
            geom::clip_polylines(&lines, &inner).is_empty(),
            "{pattern:?} crosses the hole"
        );
    }
}

#[test]
fn zigzag_joints_stay_inside_and_do_not_cross() {
    // An L shape: joints must not cut across the notch.
    let l_shape = geom::union(
        &vec![
            Polygon::rectangle(0, 0, scaled(20.0), scaled(8.0)),
            Polygon::rectangle(0, 0, scaled(8.0), scaled(20.0)),
        ],
        geom::FillRule::NonZero,
    );
    let mut p = params(FillPattern::Rectilinear, 1.0, 0);
    p.angle = 0.0;
    let lines = fill(&l_shape, &p);
    assert!(all_inside(&lines, &l_shape));
    assert!(lines.len() < 10, "{} pieces", lines.len());
    assert!(no_crossings(&lines));
}

/// Whether no two segments of `lines` cross.
fn no_crossings(lines: &[Polyline]) -> bool {
    let segs: Vec<(Point, Point)> = lines
        .iter()
        .flat_map(|l| {
            l.points
                .windows(2)
                .map(|w| (w[0], w[1]))
                .collect::<Vec<_>>()
        })
        .collect();
    for (i, a) in segs.iter().enumerate() {
        for b in &segs[i + 1..] {
            let d1 = (a.1 - a.0).cross_sign(b.0 - a.0);
            let d2 = (a.1 - a.0).cross_sign(b.1 - a.0);
            let d3 = (b.1 - b.0).cross_sign(a.0 - b.0);
            let d4 = (b.1 - b.0).cross_sign(a.1 - b.0);
            if d1 * d2 < 0 && d3 * d4 < 0 {
                return false;
            }
        }
    }
    true
}

#[test]
fn joints_follow_the_outline_round_a_hole() {
    // A ring: the lines ending on the hole are joined along the hole's edge (a straight
    // joint would cut across the hole), so a few zig-zags fill it, all inside.
    let mut hole = Polygon::rectangle(scaled(6.0), scaled(6.0), scaled(14.0), scaled(14.0));
    hole.reverse();
    let ring = vec![ExPolygon {
        contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)),
        holes: vec![hole],
    }];
    for angle in [0.0, 30.0, 45.0] {
        let mut p = params(FillPattern::Rectilinear, 1.0, 0);
        p.angle = angle;
        let joined = fill(&ring, &p);
        assert!(all_inside(&joined, &ring), "{angle}°");
        assert!(no_crossings(&joined), "{angle}°");
        p.pattern = FillPattern::Lines;
        let apart = fill(&ring, &p);
        assert!(apart.len() > 50, "{angle}°: {} lines", apart.len());
        assert!(joined.len() <= 4, "{angle}°: {} pieces", joined.len());
        // The joints add no more than a line gap each.
        let extra = total_mm(&joined) - total_mm(&apart);
        assert!(
            extra > 0.0 && extra < 1.5 * 0.45 * apart.len() as f64,
            "{angle}°: {extra}"
        );
    }
}

#[test]
fn concentric_loops_are_spaced() {
    let lines = fill(&square(10.0), &params(FillPattern::Concentric, 1.0, 0));
    // Square side shrinks by 2 × spacing per loop: 10, 9.1, 8.2, ...
    let expected_loops = (5.0f64 / 0.45).ceil() as usize;
    assert!(
        (lines.len() as i64 - expected_loops as i64).abs() <= 1,
        "{}",
        lines.len()
    );
    let first = lines[0].length() / geom::SCALE;
    let second = lines[1].length() / geom::SCALE;
    assert!((first - 40.0).abs() < 1e-6 && (first - second - 8.0 * 0.45).abs() < 1e-3);
}

#[test]
fn monotonic_lines_sweep_in_order() {
    let mut p = params(FillPattern::Monotonic, 1.0, 0);
    p.angle = 0.0;
    let lines = fill(&square(10.0), &p);
    let ys: Vec<i64> = lines.iter().map(|l| l.points[0].y).collect();
    assert!(ys.windows(2).all(|w| w[0] < w[1]), "{ys:?}");
}

/// Separate regions (the tops of a staircase's steps) are swept one at a time, each in
/// order, not together line by line; with one sweep across both, nearly every line
/// would hop to the other region. Control: the two regions' lines interleave when the
/// regions are filled as one sweep (the order before).
#[test]
fn monotonic_sweeps_one_region_at_a_time() {
    let mut p = params(FillPattern::Monotonic, 1.0, 0);
    p.angle = 0.0;
    let at = |x: f64| {
        ExPolygon::new(Polygon::rectangle(
            scaled(x),
            0,
            scaled(x + 5.0),
            scaled(10.0),
        ))
    };
    let area = vec![at(0.0), at(30.0)];
    let lines = fill(&area, &p);
    let left = |l: &Polyline| l.points[0].x < scaled(15.0);
    let switches = lines
        .windows(2)
        .filter(|w| left(&w[0]) != left(&w[1]))
        .count();
    assert_eq!(switches, 1, "{} lines", lines.len());
    for side in [true, false] {
        let ys: Vec<i64> = lines
            .iter()
            .filter(|l| left(l) == side)
            .map(|l| l.points[0].y)
            .collect();
        assert!(
            ys.len() > 10 && ys.windows(2).all(|w| w[0] < w[1]),
            "{ys:?}"
        );
    }
    let together = line_fill(
        &area,
        scaled(p.spacing) as f64,
        0.0,
        scaled(p.spacing) as f64 / 2.0,
        false,
    );
    let hops = together
        .windows(2)
        .filter(|w| left(&w[0]) != left(&w[1]))
        .count();
    assert!(hops > 10, "{hops}");
}

/// Gyroid curves follow the surface through every layer of a period: no segment
/// jumps across to the neighbouring curve (a chord about a period long).
#[test]
fn gyroid_curves_never_jump_a_period() {
    let period = 10.0;
    let area = square(40.0);
    let mut longest = 0.0f64;
    for step in 0..40 {
        let z = period * step as f64 / 40.0;
        let curves = gyroid_fill(&area, scaled(period) as f64, scaled(z) as f64);
        assert!(!curves.is_empty(), "z {z}");
        for c in &curves {
            for w in c.points.windows(2) {
                longest = longest.max(w[0].distance(w[1]) / geom::SCALE);
            }
        }
    }
    // The curves wind within half a period of their mean line, so a straight piece
    // of a simplified curve stays well under a period.
    assert!(longest < 0.6 * period, "a {longest} mm segment");
}
