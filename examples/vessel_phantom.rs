//! Generates `examples/vessel_phantom.stl`, the bundled example model: a curved
//! cerebral-artery-like vessel with a 1 mm wall, open at both ends, and a hollow
//! saccular aneurysm on the outside of its bend whose neck opens into the lumen.
//!
//! It is made the way segmentations are made (a signed field contoured into a surface),
//! so it has the small, uneven triangles of real data while staying watertight.
//!
//! ```text
//! cargo run --release --example vessel_phantom [OUT.stl]
//! ```

use std::path::PathBuf;

use lamina::mesh::implicit::contour;

/// Radius of the bend the vessel follows (mm), in the XZ plane.
const BEND_RADIUS: f64 = 24.0;
/// How far along the bend the vessel runs (radians).
const BEND_ANGLE: f64 = 1.35;
/// Lumen (inner) radius of the vessel (mm).
const LUMEN_RADIUS: f64 = 2.4;
/// Wall thickness of vessel and sac (mm): thin, as printed vessel models are.
const WALL: f64 = 1.0;
/// Radius of the aneurysm sac's lumen (mm).
const SAC_RADIUS: f64 = 4.2;
/// Where along the bend the sac sits (radians).
const SAC_ANGLE: f64 = 0.75;
/// Grid step of the contouring (mm).
const STEP: f64 = 0.6;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/vessel_phantom.stl"
            ))
        });

    // The centreline: an arc rising from the bed, centred at (R, 0, 0) in the XZ plane.
    let centre_at = |t: f64| [BEND_RADIUS * (1.0 - t.cos()), 0.0, BEND_RADIUS * t.sin()];
    let outward_at = |t: f64| [-t.cos(), 0.0, t.sin()];
    let sac_offset = LUMEN_RADIUS + SAC_RADIUS * 0.55;
    let sac_centre = {
        let c = centre_at(SAC_ANGLE);
        let n = outward_at(SAC_ANGLE);
        // Out of the bend, tilted a little in Y so the sac overhangs sideways too.
        [c[0] + n[0] * sac_offset, 1.2, c[2] + n[2] * sac_offset]
    };

    let field = |p: [f64; 3]| {
        // Distance to the centreline arc.
        let (qx, qz) = (p[0] - BEND_RADIUS, p[2]);
        let angle = qz.atan2(-qx);
        let to_arc = if (0.0..=BEND_ANGLE).contains(&angle) {
            let radial = (qx * qx + qz * qz).sqrt() - BEND_RADIUS;
            (radial * radial + p[1] * p[1]).sqrt()
        } else {
            let t = if angle < 0.0 { 0.0 } else { BEND_ANGLE };
            let c = centre_at(t);
            dist(p, c)
        };
        let lumen = (to_arc - LUMEN_RADIUS).min(dist(p, sac_centre) - SAC_RADIUS);
        // The wall: a shell of thickness WALL outside the lumen.
        let wall = (lumen - 0.5 * WALL).abs() - 0.5 * WALL;
        // Cut both ends square to the centreline: the vessel is open.
        let start_cut = 0.3 - p[2];
        let end_dir = [BEND_ANGLE.sin(), 0.0, BEND_ANGLE.cos()];
        let end = centre_at(BEND_ANGLE - 0.05);
        let end_cut = (0..3).map(|i| (p[i] - end[i]) * end_dir[i]).sum::<f64>();
        wall.max(start_cut).max(end_cut)
    };

    let margin = LUMEN_RADIUS + WALL + 1.0;
    let min = [-margin, -(SAC_RADIUS + WALL + 3.0), -1.0];
    let max = [
        BEND_RADIUS * (1.0 - BEND_ANGLE.cos()) + margin,
        SAC_RADIUS + WALL + 3.0,
        BEND_RADIUS + margin,
    ];
    let mesh = contour(field, min, max, STEP);
    lamina::mesh::io::write_stl(&out, &mesh)?;
    println!("wrote {}: {} triangles", out.display(), mesh.faces.len());
    Ok(())
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}
