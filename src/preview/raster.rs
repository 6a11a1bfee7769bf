//! A small depth-buffer renderer for whole-part pictures: every extrusion is a round
//! bead (a capsule seen from the camera) drawn into a depth buffer, then lit with
//! normals taken from the depth buffer itself, so walls, tops and overhangs read as
//! surfaces. Layers are rasterised in parallel into separate buffers, merged by depth.

use rayon::prelude::*;

use super::toolpath::{Segment, Toolpath};

/// An orthographic camera: three orthonormal axes (world coordinates).
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    right: [f32; 3],
    up: [f32; 3],
    /// Into the screen.
    fwd: [f32; 3],
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalize(a: [f32; 3]) -> [f32; 3] {
    let n = dot(a, a).sqrt();
    [a[0] / n, a[1] / n, a[2] / n]
}

impl View {
    /// Looking along `fwd` with world Z up on screen.
    pub(crate) fn looking(fwd: [f32; 3]) -> View {
        let fwd = normalize(fwd);
        let right = normalize(cross(fwd, [0.0, 0.0, 1.0]));
        let up = cross(right, fwd);
        View { right, up, fwd }
    }

    /// From the front right, above: the classic isometric-like view.
    pub(crate) fn iso() -> View {
        View::looking([-1.0, 1.0, -0.8])
    }

    /// From the front (along +Y): X to the right, Z up.
    pub(crate) fn side() -> View {
        View::looking([0.0, 1.0, 0.0])
    }

    fn project(&self, p: [f32; 3]) -> [f32; 3] {
        [dot(p, self.right), dot(p, self.up), dot(p, self.fwd)]
    }
}

/// A rendered image: colour and depth per pixel (depth is `INFINITY` where empty).
pub(crate) struct Image {
    pub w: usize,
    pub h: usize,
    pub depth: Vec<f32>,
    pub color: Vec<[u8; 3]>,
    /// Pixels per mm.
    pub scale: f32,
}

impl Image {
    fn new(w: usize, h: usize, scale: f32) -> Image {
        Image {
            w,
            h,
            depth: vec![f32::INFINITY; w * h],
            color: vec![[0; 3]; w * h],
            scale,
        }
    }

    fn merge(mut self, o: Image) -> Image {
        for ((d, c), (od, oc)) in self
            .depth
            .iter_mut()
            .zip(self.color.iter_mut())
            .zip(o.depth.iter().zip(o.color.iter()))
        {
            if *od < *d {
                *d = *od;
                *c = *oc;
            }
        }
        self
    }
}

/// Render every layer of `tp` seen through `view` into a `w` x `h` image, fitted
/// with `margin` pixels on each side.
pub(crate) fn render(
    tp: &Toolpath,
    view: View,
    w: usize,
    h: usize,
    margin: f32,
    color: &(dyn Fn(&Segment) -> [u8; 3] + Sync),
) -> Image {
    // Fit: the projected extent of every bead's ends (top and bottom of the layer).
    // Custom G-code (a prime line along the bed's edge) is drawn but not fitted.
    let any_role = tp
        .layers
        .iter()
        .any(|l| l.segments.iter().any(|s| s.role.is_some()));
    let mut lo = [f32::INFINITY; 2];
    let mut hi = [f32::NEG_INFINITY; 2];
    for l in &tp.layers {
        for s in l.segments.iter().filter(|s| s.role.is_some() || !any_role) {
            for (x, y) in [(s.x0, s.y0), (s.x1, s.y1)] {
                for z in [l.z, l.z - l.height] {
                    let p = view.project([x, y, z]);
                    lo = [lo[0].min(p[0]), lo[1].min(p[1])];
                    hi = [hi[0].max(p[0]), hi[1].max(p[1])];
                }
            }
        }
    }
    if lo[0] > hi[0] {
        return Image::new(w, h, 1.0);
    }
    let span = [(hi[0] - lo[0]).max(1e-3), (hi[1] - lo[1]).max(1e-3)];
    let avail = [
        (w as f32 - 2.0 * margin).max(1.0),
        (h as f32 - 2.0 * margin).max(1.0),
    ];
    let scale = (avail[0] / span[0]).min(avail[1] / span[1]);
    // Centre: screen x = (u - lo) * scale + ox, screen y = (hi - v) * scale + oy.
    let ox = (w as f32 - span[0] * scale) / 2.0;
    let oy = (h as f32 - span[1] * scale) / 2.0;
    let to_screen = move |p: [f32; 3]| -> [f32; 3] {
        [
            (p[0] - lo[0]) * scale + ox,
            (hi[1] - p[1]) * scale + oy,
            p[2],
        ]
    };
    let n = tp.layers.len();
    let chunk = n.div_ceil(rayon::current_num_threads().max(1) * 2).max(1);
    tp.layers
        .par_iter()
        .with_min_len(chunk)
        .fold(
            || Image::new(w, h, scale),
            |mut img, l| {
                let zc = l.z - l.height * 0.5;
                for s in &l.segments {
                    let a = to_screen(view.project([s.x0, s.y0, zc]));
                    let b = to_screen(view.project([s.x1, s.y1, zc]));
                    let r = (s.width * 0.5 * scale).max(0.6);
                    capsule(&mut img, a, b, r, scale, color(s));
                }
                img
            },
        )
        .reduce(|| Image::new(w, h, scale), Image::merge)
}

/// Draw a bead from `a` to `b` (screen x, y; depth in mm) of radius `r` pixels.
///
/// Row by row: the capsule meets each pixel row in one interval (it is convex), the
/// hull of its meetings with the two end discs and the band between them; only
/// pixels in it are visited, so long diagonal lines cost their area, not their
/// bounding box.
fn capsule(img: &mut Image, a: [f32; 3], b: [f32; 3], r: f32, scale: f32, c: [u8; 3]) {
    let y0 = (a[1].min(b[1]) - r).floor().max(0.0) as i64;
    let y1 = (a[1].max(b[1]) + r).ceil().min(img.h as f32 - 1.0) as i64;
    let xmax = img.w as f32 - 1.0;
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let len = len2.sqrt();
    let r2 = r * r;
    for y in y0..=y1 {
        let py = y as f32 + 0.5;
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for e in [a, b] {
            let h = r2 - (py - e[1]) * (py - e[1]);
            if h >= 0.0 {
                let w = h.sqrt();
                lo = lo.min(e[0] - w);
                hi = hi.max(e[0] + w);
            }
        }
        if len > 1e-6 {
            // Within r of the line: |(p - a) x d| <= r |d|.
            let (mut blo, mut bhi) = (f32::NEG_INFINITY, f32::INFINITY);
            let cy = (py - a[1]) * dx;
            if dy.abs() > 1e-9 {
                let (u, v) = ((cy - r * len) / dy, (cy + r * len) / dy);
                blo = blo.max(a[0] + u.min(v));
                bhi = bhi.min(a[0] + u.max(v));
            } else if cy.abs() > r * len {
                bhi = f32::NEG_INFINITY;
            }
            // Between the ends: 0 <= (p - a) . d <= |d|^2.
            let ty = (py - a[1]) * dy;
            if dx.abs() > 1e-9 {
                let (u, v) = (-ty / dx, (len2 - ty) / dx);
                blo = blo.max(a[0] + u.min(v));
                bhi = bhi.min(a[0] + u.max(v));
            } else if ty < 0.0 || ty > len2 {
                bhi = f32::NEG_INFINITY;
            }
            if blo <= bhi {
                lo = lo.min(blo);
                hi = hi.max(bhi);
            }
        }
        if lo > hi {
            continue;
        }
        // Pixel centres x + 0.5 within [lo, hi].
        let x0 = (lo - 0.5).ceil().max(0.0);
        let x1 = (hi - 0.5).floor().min(xmax);
        if x0 > x1 {
            continue;
        }
        let row = y as usize * img.w;
        for x in x0 as usize..=x1 as usize {
            let px = x as f32 + 0.5;
            let t = if len2 > 1e-12 {
                (((px - a[0]) * dx + (py - a[1]) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (qx, qy) = (a[0] + t * dx - px, a[1] + t * dy - py);
            let q2 = (qx * qx + qy * qy).min(r2);
            // The bead is round: its front is nearer than its axis.
            let d = a[2] + t * (b[2] - a[2]) - (r2 - q2).sqrt() / scale;
            let i = row + x;
            if d < img.depth[i] {
                img.depth[i] = d;
                img.color[i] = c;
            }
        }
    }
}

/// Light the image: Lambert shading from normals of the depth buffer, darker edges
/// where depth jumps. Returns premultiplied RGBA (`background` where empty, or
/// transparent when `None`).
pub(crate) fn shade(img: &Image, background: Option<[u8; 3]>) -> Vec<u8> {
    let (w, h) = (img.w, img.h);
    // Towards the light, in screen coordinates (x right, y down, depth away).
    let light = normalize([-0.45, -0.65, -0.6]);
    // A depth step larger than this many pixels is an edge, not a slope.
    let edge = 2.5 / img.scale;
    let mut out = vec![0u8; w * h * 4];
    out.par_chunks_mut(w * 4).enumerate().for_each(|(y, row)| {
        for x in 0..w {
            let i = y * w + x;
            let d = img.depth[i];
            let px = &mut row[x * 4..x * 4 + 4];
            if !d.is_finite() {
                if let Some(bg) = background {
                    px.copy_from_slice(&[bg[0], bg[1], bg[2], 255]);
                }
                continue;
            }
            let at = |xx: isize, yy: isize| -> Option<f32> {
                if xx < 0 || yy < 0 || xx >= w as isize || yy >= h as isize {
                    return None;
                }
                let v = img.depth[yy as usize * w + xx as usize];
                (v.is_finite() && (v - d).abs() < edge).then_some(v)
            };
            let (xi, yi) = (x as isize, y as isize);
            let slope = |m: Option<f32>, p: Option<f32>| -> (f32, bool) {
                match (m, p) {
                    (Some(m), Some(p)) => ((p - m) * 0.5, false),
                    (Some(m), None) => (d - m, true),
                    (None, Some(p)) => (p - d, true),
                    (None, None) => (0.0, true),
                }
            };
            let (gx, ex) = slope(at(xi - 1, yi), at(xi + 1, yi));
            let (gy, ey) = slope(at(xi, yi - 1), at(xi, yi + 1));
            // Depth per pixel to depth per mm, then the normal towards the viewer.
            let n = normalize([gx * img.scale, gy * img.scale, -1.0]);
            let lambert = dot(n, light).max(0.0);
            let mut k = 0.3 + 0.75 * lambert;
            if ex || ey {
                k *= 0.7;
            }
            let c = img.color[i];
            for ch in 0..3 {
                px[ch] = (f32::from(c[ch]) * k).round().clamp(0.0, 255.0) as u8;
            }
            px[3] = 255;
        }
    });
    out
}

/// Halve an RGBA (premultiplied) image by averaging 2 x 2 blocks.
pub(crate) fn downsample(rgba: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (w2, h2) = (w / 2, h / 2);
    let mut out = vec![0u8; w2 * h2 * 4];
    out.par_chunks_mut(w2 * 4).enumerate().for_each(|(y, row)| {
        for x in 0..w2 {
            for ch in 0..4 {
                let s = |xx: usize, yy: usize| u32::from(rgba[(yy * w + xx) * 4 + ch]);
                let v = s(2 * x, 2 * y)
                    + s(2 * x + 1, 2 * y)
                    + s(2 * x, 2 * y + 1)
                    + s(2 * x + 1, 2 * y + 1);
                row[x * 4 + ch] = ((v + 2) / 4) as u8;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_orthonormal_and_upright() {
        for v in [View::iso(), View::side()] {
            for a in [v.right, v.up, v.fwd] {
                assert!((dot(a, a) - 1.0).abs() < 1e-5);
            }
            assert!(dot(v.right, v.up).abs() < 1e-5);
            assert!(dot(v.up, [0.0, 0.0, 1.0]) > 0.0, "Z is up on screen");
        }
        let s = View::side();
        assert!((s.right[0] - 1.0).abs() < 1e-6, "side view: X to the right");
    }

    #[test]
    fn nearer_beads_win() {
        let mut img = Image::new(20, 20, 1.0);
        capsule(
            &mut img,
            [2.0, 10.0, 5.0],
            [18.0, 10.0, 5.0],
            2.0,
            1.0,
            [255, 0, 0],
        );
        capsule(
            &mut img,
            [10.0, 2.0, 1.0],
            [10.0, 18.0, 1.0],
            2.0,
            1.0,
            [0, 255, 0],
        );
        capsule(
            &mut img,
            [2.0, 11.0, 9.0],
            [18.0, 11.0, 9.0],
            2.0,
            1.0,
            [0, 0, 255],
        );
        assert_eq!(img.color[10 * 20 + 10], [0, 255, 0]);
        assert_eq!(img.color[10 * 20 + 4], [255, 0, 0]);
        assert!(img.depth[0].is_infinite());
    }

    #[test]
    fn capsules_cover_exactly_the_pixels_within_reach() {
        // Against the brute-force test of every pixel, for lines in every direction.
        for (k, (a, b)) in [
            ([3.0, 4.0], [37.0, 29.0]),
            ([30.0, 2.0], [5.5, 35.0]),
            ([4.0, 20.0], [36.0, 20.0]),
            ([20.0, 3.0], [20.0, 36.0]),
            ([20.2, 20.7], [20.2, 20.7]),
        ]
        .into_iter()
        .enumerate()
        {
            for r in [0.6f32, 2.0, 4.5] {
                let mut img = Image::new(40, 40, 1.0);
                capsule(
                    &mut img,
                    [a[0], a[1], 0.0],
                    [b[0], b[1], 0.0],
                    r,
                    1.0,
                    [1, 2, 3],
                );
                for y in 0..40 {
                    for x in 0..40 {
                        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
                        let l2 = dx * dx + dy * dy;
                        let t = if l2 > 0.0 {
                            (((px - a[0]) * dx + (py - a[1]) * dy) / l2).clamp(0.0, 1.0)
                        } else {
                            0.0
                        };
                        let q = (a[0] + t * dx - px).hypot(a[1] + t * dy - py);
                        let drawn = img.depth[y * 40 + x].is_finite();
                        if (q - r).abs() > 1e-3 {
                            assert_eq!(drawn, q < r, "case {k} r {r} at ({x}, {y}): q {q}");
                        }
                    }
                }
            }
        }
    }
}
