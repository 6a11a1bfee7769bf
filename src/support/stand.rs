//! Support that stands on something: every support island above the first layer must
//! rest on the layer below (its support, or the model), or it is printed on air. A
//! piece with nothing under it is grown down as a column until it rests on something
//! (or on the bed); a speck too small to hold anything is dropped instead.

use rayon::prelude::*;
use serde::Serialize;

use super::areas::SupportLayer;
use crate::geom::{self, BBox, ExPolygon, JoinType, scaled};

/// How far (mm) a line may reach past the support below it and still rest on it: the
/// body's lines are up to a spacing apart, and a line more than 1.5 mm from every line
/// of the layer below is printed on air.
const ON_SUPPORT: f64 = 0.4;
/// How far (mm) past the model below a line may reach and still rest on it (its outer
/// wall runs half a line inside its edge).
const ON_MODEL: f64 = 1.2;
/// Pieces with nothing under them smaller than this (mm²) are dropped, not grown down.
const SPECK: f64 = 0.15;

/// What [`stand`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Standing {
    /// Pieces with nothing under them that were grown down to rest on something.
    pub grown: usize,
    /// Layers those columns added, counted per piece and layer.
    pub grown_layers: usize,
    /// Pieces with nothing under them too small to hold anything, left out.
    pub dropped: usize,
}

impl std::ops::AddAssign for Standing {
    fn add_assign(&mut self, o: Standing) {
        self.grown += o.grown;
        self.grown_layers += o.grown_layers;
        self.dropped += o.dropped;
    }
}

/// The areas of `sets` whose bounding boxes overlap `near`, cloned: the few islands of a
/// layer that can matter to a piece, so a piece costs what its neighbourhood costs
/// rather than the whole layer.
fn near_of<'a>(sets: impl IntoIterator<Item = &'a [ExPolygon]>, near: &BBox) -> Vec<ExPolygon> {
    sets.into_iter()
        .flatten()
        .filter(|e| e.bbox().is_some_and(|b| b.overlaps(near)))
        .cloned()
        .collect()
}

/// The parts of `here` with nothing under them: farther than [`ON_SUPPORT`] from
/// `support` and than [`ON_MODEL`] from `model` (all sets of the layer below).
fn unheld(here: &[ExPolygon], support: &[&[ExPolygon]], model: &[ExPolygon]) -> Vec<ExPolygon> {
    if here.is_empty() {
        return Vec::new();
    }
    let Some(near) = BBox::of_areas(here) else {
        return Vec::new();
    };
    let near = near.inflated(scaled(ON_MODEL + 0.1));
    let mut under = geom::offset(
        &near_of(support.iter().copied(), &near),
        scaled(ON_SUPPORT) as f64,
        JoinType::Miter,
    );
    under.extend(geom::offset(
        &near_of([model], &near),
        scaled(ON_MODEL) as f64,
        JoinType::Miter,
    ));
    let mut out = geom::difference(here, &under);
    out.retain(|e| e.area_mm2() > 1e-4);
    out
}

/// Make every support island of `layers` rest on the layer below: `model[j]` is layer
/// `j`'s model (borrowed: the sliced layers' own islands serve), `gap` how far the areas
/// of columns grown down keep from it (mm: the XY gap plus half a line, as the areas
/// hold line centres).
pub fn stand<M: AsRef<[ExPolygon]> + Sync>(
    layers: &mut [SupportLayer],
    model: &[M],
    gap: f64,
) -> Standing {
    let mut done = Standing::default();
    let n = layers.len().min(model.len());
    if n < 2 {
        return done;
    }
    // (Areas that bound the printed extent, not the line centres, only make this
    // stricter on the layer checked and more lenient by half a line on the layer
    // below; the margins allow for that.)
    fn sets(l: &SupportLayer) -> [&[ExPolygon]; 2] {
        [&l.base, &l.interface]
    }
    // Most layers rest on the one below as they are: find the others in parallel.
    let suspects: Vec<usize> = (1..n)
        .into_par_iter()
        .filter(|&j| {
            let here: Vec<ExPolygon> = sets(&layers[j]).concat();
            !unheld(&here, &sets(&layers[j - 1]), model[j - 1].as_ref()).is_empty()
        })
        .collect();
    // Columns grown down, per layer, joined to the layers' bodies at the end (joining
    // the whole layer once per piece and layer made this quadratic on a skull's
    // thousands of branches).
    let mut grown: Vec<Vec<ExPolygon>> = vec![Vec::new(); n];
    let mut changed_below = false;
    let mut next = 0;
    for j in 1..n {
        let check = changed_below || suspects.get(next) == Some(&j);
        if suspects.get(next) == Some(&j) {
            next += 1;
        }
        changed_below = false;
        if !check {
            continue;
        }
        let here: Vec<ExPolygon> = sets(&layers[j]).concat();
        let free = unheld(&here, &sets(&layers[j - 1]), model[j - 1].as_ref());
        for piece in free {
            if piece.area_mm2() < SPECK {
                let cut = std::slice::from_ref(&piece);
                let l = &mut layers[j];
                l.base = geom::difference(&l.base, cut);
                l.interface = geom::difference(&l.interface, cut);
                done.dropped += 1;
                changed_below = true;
                continue;
            }
            // A column under it, clear of the model, down to where it rests.
            done.grown += 1;
            let mut column = vec![piece];
            for k in (0..j).rev() {
                let Some(near) = BBox::of_areas(&column) else {
                    break;
                };
                let near = near.inflated(scaled(gap + 0.1));
                let clear = geom::offset(
                    &near_of([model[k].as_ref()], &near),
                    scaled(gap) as f64,
                    JoinType::Miter,
                );
                let part = geom::difference(&column, &clear);
                if part.is_empty() {
                    break;
                }
                done.grown_layers += 1;
                grown[k].extend(part.iter().cloned());
                if k == 0 {
                    break;
                }
                let [base, interface] = sets(&layers[k - 1]);
                column = unheld(
                    &part,
                    &[base, interface, &grown[k - 1]],
                    model[k - 1].as_ref(),
                );
                if column.is_empty() {
                    break;
                }
            }
        }
    }
    layers[..n]
        .par_iter_mut()
        .zip(grown.into_par_iter())
        .filter(|(_, g)| !g.is_empty())
        .for_each(|(l, g)| {
            l.base.extend(g);
            l.base = geom::union(&l.base, geom::FillRule::NonZero);
        });
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Polygon;

    fn square(x: f64, y: f64, size: f64) -> ExPolygon {
        ExPolygon::new(Polygon::rectangle(
            scaled(x),
            scaled(y),
            scaled(x + size),
            scaled(y + size),
        ))
    }

    fn area(v: &[ExPolygon]) -> f64 {
        v.iter().map(ExPolygon::area_mm2).sum()
    }

    #[test]
    fn a_piece_on_air_is_grown_down_to_the_bed_and_a_speck_dropped() {
        let n = 6;
        let mut layers = vec![SupportLayer::default(); n];
        // A 4 mm square at layer 4 over nothing, a 0.3 mm speck at layer 2, and a
        // column on the bed under layers 0..=3 elsewhere.
        layers[4].base = vec![square(10.0, 10.0, 4.0)];
        layers[2].base = vec![square(30.0, 30.0, 0.3)];
        for l in &mut layers[0..4] {
            l.base.push(square(50.0, 50.0, 4.0));
        }
        let model = vec![Vec::new(); n];
        let done = stand(&mut layers, &model, 0.6);
        assert_eq!(done.grown, 1);
        assert_eq!(done.grown_layers, 4);
        assert_eq!(done.dropped, 1);
        for l in &layers[0..4] {
            assert!((area(&l.base) - 32.0).abs() < 1e-6, "{}", area(&l.base));
        }
        // Standing as a whole now: nothing left on air.
        for j in 1..n {
            let here: Vec<ExPolygon> = layers[j].base.clone();
            assert!(unheld(&here, &[&layers[j - 1].base], &model[j - 1]).is_empty());
        }
    }

    #[test]
    fn support_on_the_model_or_on_support_nearby_stands() {
        let mut layers = vec![SupportLayer::default(); 2];
        layers[1].base = vec![square(0.0, 0.0, 1.0), square(10.0, 0.0, 2.0)];
        // The first rests on the model (at most 1 mm off its edge), the second on
        // support shifted 0.3 mm from under it.
        let model = vec![vec![square(-2.0, 0.0, 2.0)], Vec::new()];
        layers[0].base = vec![square(10.3, 0.0, 2.0)];
        let before = layers.clone();
        let done = stand(&mut layers, &model, 0.6);
        assert_eq!(done, Standing::default());
        assert_eq!(layers, before);
        // Reaching 1.5 mm off the model is partly on air.
        let far = vec![vec![square(-2.0, 0.0, 2.0)], Vec::new()];
        let mut lone = vec![SupportLayer::default(); 2];
        lone[1].base = vec![square(0.0, 0.0, 1.5)];
        assert_eq!(stand(&mut lone, &far, 0.6).grown, 1);
    }
}
