//! The search over directions: a sphere of them weighed on the columns, the best few
//! refined by a local search, and the finalists measured and ranked.

use nalgebra::Vector3;
use rayon::prelude::*;

use super::columns::{Scratch, weigh};
use super::measure::measure;
use super::{Cost, Model, Orientation, Params, Search, up_rotation};
use crate::mesh::Mesh;

/// Directions tried on the sphere before refining: about 13° apart, closer than the
/// refinement's first step reaches.
pub const SPHERE_DIRECTIONS: usize = 256;
/// Orientations reported (`lamina orient` prints the five best).
pub const REPORTED: usize = 5;
/// Coarse directions refined by local search: more than are reported, so that a
/// neighbour of a coarse winner that refines better is not lost.
const REFINED: usize = 6;
/// Moves of the local search at each step size: a seed further than this many steps
/// from its best is refined at the next, smaller step anyway (keeps a 1M-triangle
/// mesh's search to a few seconds).
const MOVES_PER_STEP: usize = 2;
/// Steps of the local search, degrees: from half the sphere's spacing down to where the
/// support volume no longer changes measurably.
const REFINE_STEPS_DEG: [f64; 4] = [6.0, 3.0, 1.5, 0.75];
/// Reported orientations closer than this to a better one are the same choice, degrees.
const DISTINCT_DEG: f64 = 8.0;

/// The orientations of `mesh` that need the least support, with the search's estimates
/// as their figures.
pub fn search(mesh: &Mesh, p: &Params) -> Search {
    search_with(mesh, p, |_, _| {
        Err("only estimates were asked for".to_string())
    })
}

/// The orientations of `mesh` that need the least support. `slice` is given the
/// finalists' up directions and their estimates; the figures it returns for them (read
/// from slices) replace the estimates and rank the finalists, or it says why not.
pub fn search_with(
    mesh: &Mesh,
    p: &Params,
    slice: impl FnOnce(&[Vector3<f64>], &[Cost]) -> Result<Vec<Cost>, String>,
) -> Search {
    let model = Model::new(mesh, p);
    // The search weighs the merged surfaces; the finalists are measured on the mesh.
    let coarse = model.coarse();
    let eval = |dirs: &[Vector3<f64>]| -> Vec<Cost> {
        dirs.par_iter()
            .map_init(Scratch::default, |scratch, d| {
                weigh(&coarse, *d, p, scratch)
            })
            .collect()
    };
    let as_is = weigh(&coarse, Vector3::z(), p, &mut Scratch::default());
    let sphere = fibonacci_sphere(SPHERE_DIRECTIONS);
    let costs = eval(&sphere);
    let mut evaluated = sphere.len() + 1;
    let mut tried: Vec<(Vector3<f64>, Cost)> = sphere.into_iter().zip(costs).collect();
    tried.push((Vector3::z(), as_is));
    let mut seeds = distinct(&tried, REFINED);
    // Local search from each seed, all seeds a step at a time.
    for step in REFINE_STEPS_DEG {
        for _ in 0..MOVES_PER_STEP {
            let neighbours: Vec<Vector3<f64>> =
                seeds.iter().flat_map(|(d, _)| around(*d, step)).collect();
            let costs = eval(&neighbours);
            evaluated += neighbours.len();
            let mut moved = false;
            for (k, seed) in seeds.iter_mut().enumerate() {
                let row = &costs[4 * k..4 * k + 4];
                let (j, c) = row
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.score.total_cmp(&b.1.score))
                    .expect("four neighbours");
                if c.score < seed.1.score {
                    *seed = (neighbours[4 * k + j], *c);
                    moved = true;
                }
            }
            tried.extend(seeds.iter().copied());
            if !moved {
                break;
            }
        }
    }
    // The finalists are measured as the support generator builds support, and ranked
    // by that.
    let mut finalists: Vec<Vector3<f64>> =
        distinct(&tried, REFINED).into_iter().map(|t| t.0).collect();
    finalists.push(Vector3::z());
    let estimates: Vec<Cost> = finalists
        .par_iter()
        .map(|d| measure(&model, *d, p))
        .collect();
    let (costs, estimated) = match slice(&finalists, &estimates) {
        Ok(sliced) if sliced.len() == finalists.len() => (sliced, None),
        Ok(_) => (
            estimates,
            Some("a finalist's slice was missing".to_string()),
        ),
        Err(why) => (estimates, Some(why)),
    };
    let sliced = estimated.is_none();
    let mut best: Vec<Orientation> = finalists
        .iter()
        .zip(costs)
        .map(|(d, c)| orientation(*d, c, sliced))
        .collect();
    let as_is = best.pop().expect("the file's orientation");
    best.sort_by(|a, b| a.cost.score.total_cmp(&b.cost.score));
    best.truncate(REPORTED);
    Search {
        as_is,
        best,
        evaluated,
        estimated,
    }
}

/// The orientation printing `up` upwards.
fn orientation(up: Vector3<f64>, cost: Cost, sliced: bool) -> Orientation {
    let (x, y, z) = up_rotation(up).euler_angles();
    Orientation {
        up: up.normalize().into(),
        rotate_deg: [x, y, z].map(|a| {
            let d = a.to_degrees();
            // -0.0 reads badly.
            if d.abs() < 1e-9 { 0.0 } else { d }
        }),
        cost,
        sliced,
    }
}

/// The `n` best of `tried`, no two closer than [`DISTINCT_DEG`].
fn distinct(tried: &[(Vector3<f64>, Cost)], n: usize) -> Vec<(Vector3<f64>, Cost)> {
    let mut order: Vec<&(Vector3<f64>, Cost)> = tried.iter().collect();
    order.sort_by(|a, b| a.1.score.total_cmp(&b.1.score));
    let near = DISTINCT_DEG.to_radians().cos();
    let mut out: Vec<(Vector3<f64>, Cost)> = Vec::new();
    for t in order {
        if out.len() == n {
            break;
        }
        if out
            .iter()
            .all(|o| o.0.normalize().dot(&t.0.normalize()) < near)
        {
            out.push(*t);
        }
    }
    out
}

/// Four directions `deg` degrees from `d`, a quarter turn apart round it.
fn around(d: Vector3<f64>, deg: f64) -> [Vector3<f64>; 4] {
    let d = d.normalize();
    let helper = if d.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let u = d.cross(&helper).normalize();
    let v = d.cross(&u);
    let (s, c) = deg.to_radians().sin_cos();
    [u, -u, v, -v].map(|t| d * c + t * s)
}

/// `n` directions spread evenly over the sphere (a Fibonacci lattice).
pub fn fibonacci_sphere(n: usize) -> Vec<Vector3<f64>> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let a = golden * i as f64;
            Vector3::new(r * a.cos(), r * a.sin(), z)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use nalgebra::Rotation3;

    use super::*;

    #[test]
    fn sphere_directions_cover_the_sphere() {
        let dirs = fibonacci_sphere(SPHERE_DIRECTIONS);
        // Every direction of a finer lattice has a neighbour within 10°.
        for d in fibonacci_sphere(2000) {
            let best = dirs.iter().map(|e| e.dot(&d)).fold(-1.0, f64::max);
            assert!(best > 10f64.to_radians().cos(), "{d:?}");
        }
    }

    #[test]
    fn up_rotation_turns_up_to_z() {
        for d in fibonacci_sphere(50) {
            let r = up_rotation(d);
            assert!((r * d - Vector3::z()).norm() < 1e-9, "{d:?}");
            // And --rotate's Euler angles give the same rotation.
            let o = orientation(d, Cost::default(), false);
            let [x, y, z] = o.rotate_deg.map(f64::to_radians);
            let again = Rotation3::from_euler_angles(x, y, z);
            assert!((again * d - Vector3::z()).norm() < 1e-9);
        }
    }
}
