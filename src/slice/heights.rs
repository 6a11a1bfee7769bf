//! Layer heights: where each layer's top lies and where it is sectioned.

use serde::Serialize;

/// Layers thinner than this fraction of the layer height are not printed at the top;
/// the remaining sliver is added to the layer below instead.
const MIN_TOP_FRACTION: f64 = 0.35;

/// One layer's place in Z, mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayerSpec {
    /// Top of the layer: the nozzle height when printing it.
    pub z: f64,
    /// Thickness of the layer.
    pub height: f64,
    /// Height at which the mesh is sectioned for this layer (its middle).
    pub slice_z: f64,
}

/// The layers covering `0..object_height`: a first layer of `first`, then layers of
/// `height`, the last one adjusted so the stack ends at the object's top: a remainder
/// of at least [`MIN_TOP_FRACTION`] of a layer becomes a thinner last layer, a smaller
/// one thickens the last layer instead.
///
/// ```
/// use lamina::slice::layer_specs;
/// let l = layer_specs(0.2, 0.2, 20.0);
/// assert_eq!(l.len(), 100);
/// assert!((l[99].z - 20.0).abs() < 1e-9);
/// assert!((l[0].slice_z - 0.1).abs() < 1e-12);
/// ```
pub fn layer_specs(first: f64, height: f64, object_height: f64) -> Vec<LayerSpec> {
    let mut out = Vec::new();
    if object_height <= 0.0 || first <= 0.0 || height <= 0.0 {
        return out;
    }
    let mut bottom = 0.0;
    let mut h = first.min(object_height);
    // Count in integer steps so long stacks do not accumulate rounding.
    let mut k = 0usize;
    loop {
        let remaining_after = object_height - (bottom + h);
        let mut top = bottom + h;
        if remaining_after < height * MIN_TOP_FRACTION {
            // Close to the top: absorb the sliver, or stop exactly at the top.
            top = object_height;
        }
        out.push(LayerSpec {
            z: top,
            height: top - bottom,
            slice_z: 0.5 * (bottom + top),
        });
        if top >= object_height - 1e-9 {
            break;
        }
        k += 1;
        bottom = first + (k - 1) as f64 * height;
        h = height.min(object_height - bottom);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_stack_is_exact() {
        let l = layer_specs(0.2, 0.2, 20.0);
        assert_eq!(l.len(), 100);
        for (i, s) in l.iter().enumerate() {
            assert!((s.z - 0.2 * (i + 1) as f64).abs() < 1e-9);
            assert!((s.height - 0.2).abs() < 1e-9);
        }
    }

    #[test]
    fn partial_top_layer() {
        // 0.3 first layer, then 0.2: 10.05 leaves 0.15 at the top (>= 0.35 * 0.2).
        let l = layer_specs(0.3, 0.2, 10.05);
        let last = l.last().unwrap();
        assert!((last.z - 10.05).abs() < 1e-9);
        assert!((last.height - 0.15).abs() < 1e-9, "{last:?}");
        // Layers tile 0..top with no gap or overlap.
        let mut bottom = 0.0;
        for s in &l {
            assert!((s.z - s.height - bottom).abs() < 1e-9);
            bottom = s.z;
        }
    }

    #[test]
    fn tiny_remainder_is_absorbed() {
        let l = layer_specs(0.2, 0.2, 10.02);
        let last = l.last().unwrap();
        assert!((last.z - 10.02).abs() < 1e-9);
        assert!((last.height - 0.22).abs() < 1e-9, "{last:?}");
    }

    #[test]
    fn object_thinner_than_first_layer() {
        let l = layer_specs(0.3, 0.2, 0.25);
        assert_eq!(l.len(), 1);
        assert!((l[0].height - 0.25).abs() < 1e-12);
    }
}
