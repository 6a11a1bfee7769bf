//! Support for overhangs: detection, grid (line) support, tree support, and the parts
//! of either that would stand inside the model (vessel lumens, aneurysm sacs,
//! cavities), which can be left out.
//!
//! [`add_support`] computes each layer's support areas from the sliced layers, turns
//! them into extrusion paths (a sparse body, dense interfaces under and over the model)
//! and adds them to the layers for the planner.

pub mod areas;
pub mod overhang;
pub mod stand;
pub mod tree;
pub mod warn;

use rayon::prelude::*;
use serde::Serialize;

use crate::fill::{FillParams, FillPattern, fill};
use crate::geom::{self, ExPolygon, JoinType, scaled};
use crate::layer::LayerRegions;
use crate::mesh::Mesh;
use crate::path::{ExtrusionPath, Role, bead_spacing};
use crate::profile::{Print, Settings, SolubleMode, SupportInside, SupportStyle, WidthRole};
use crate::slice::Layer;

pub use areas::{AreaEdge, AreaParams, SupportLayer, drop_interior, support_areas};

/// What the support costs and where it touches the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SupportReport {
    /// `grid` or `tree`.
    pub style: String,
    /// Area of support touching the model from below, mm².
    pub contact_area_mm2: f64,
    /// Volume of support, mm³ (areas × layer heights; grid areas are where line
    /// centres go, half a line inside the printed edge: see [`AreaEdge`]).
    pub volume_mm3: f64,
    /// Volume of support standing inside the model (lumens, sacs), mm³; removed when
    /// `support_inside` is `none`.
    pub interior_volume_mm3: f64,
    /// Layers with interior support.
    pub interior_layers: usize,
    /// Lowest and highest layer tops with interior support, mm.
    pub interior_heights: Option<(f64, f64)>,
    /// Whether interior support was left out.
    pub interior_removed: bool,
    /// Support filament, mm (from the estimate).
    pub filament_mm: f64,
    /// Support filament, g.
    pub filament_g: f64,
    /// Time spent printing support, s.
    pub time_s: f64,
    /// Pieces that would have stood on air: grown down to rest on something, or left
    /// out.
    pub standing: stand::Standing,
}

impl SupportReport {
    /// Lines for the G-code header.
    pub fn header_lines(&self) -> Vec<String> {
        vec![
            format!("support = {}", self.style),
            format!("support filament used [mm] = {:.2}", self.filament_mm),
            format!("support filament used [g] = {:.2}", self.filament_g),
            format!("support contact area [mm2] = {:.1}", self.contact_area_mm2),
            format!("support printing time [s] = {:.0}", self.time_s),
            format!(
                "support inside the model [mm3] = {:.1}{}",
                self.interior_volume_mm3,
                if self.interior_removed {
                    " (left out)"
                } else {
                    ""
                }
            ),
            format!(
                "support pieces on air = {} grown down ({} layers), {} left out",
                self.standing.grown, self.standing.grown_layers, self.standing.dropped
            ),
        ]
    }
}

/// The area parameters from the settings.
pub fn area_params(s: &Settings) -> AreaParams {
    let p = &s.print;
    let soluble_interface = p.soluble_support != SolubleMode::Off;
    let soluble_gap = p.soluble_xy_gap.max(0.0).min(p.support_xy_gap);
    AreaParams {
        line_inset: s.line_width(WidthRole::Support, p.support_tool, false) / 2.0,
        xy_gap: if p.soluble_support == SolubleMode::All {
            soluble_gap
        } else {
            p.support_xy_gap
        },
        interface_xy_gap: if soluble_interface {
            soluble_gap
        } else {
            p.support_xy_gap
        },
        top_z_gap: if soluble_interface {
            0.0
        } else {
            p.support_top_z_gap
        },
        bottom_z_gap: if soluble_interface {
            0.0
        } else {
            p.support_bottom_z_gap
        },
        interface_layers: p.support_interface_layers,
        bottom_interface_layers: p.support_bottom_interface_layers,
        buildplate_only: p.support_buildplate_only,
        enclosure_radius: p.support_enclosure_radius,
    }
}

/// How support lines fill their areas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupportFill {
    /// Share of the sparse body's area its lines' beads cover.
    pub base_density: f64,
    /// Share of the dense interface's area its lines' beads cover.
    pub interface_density: f64,
    /// Distance between the centres of two beads side by side, mm: a bead's
    /// cross-section is this times the layer height.
    pub spacing: f64,
    /// Direction of the body's lines, degrees (the interface's cross them, turning a
    /// quarter every layer).
    pub base_angle_deg: f64,
}

/// How support lines `width` wide fill their areas on layers `height` thick: the
/// body's lines `support_base_spacing` apart, the interface's a gap of
/// `support_interface_spacing` between beads.
pub fn support_fill(print: &Print, width: f64, height: f64) -> SupportFill {
    let spacing = bead_spacing(width, height);
    let gap = print.support_interface_spacing.max(0.0);
    SupportFill {
        base_density: (spacing / print.support_base_spacing.max(spacing)).min(1.0),
        interface_density: spacing / (spacing + gap),
        spacing,
        base_angle_deg: print.support_base_angle,
    }
}

/// Generate support for every object and add its paths to `regions` (the merged
/// layers; object layers share their heights). `meshes[k]` is object `k`'s placed mesh,
/// whose downward surfaces are found on the triangles themselves. Returns `None` when
/// support is off.
pub fn add_support(
    objects: &[Vec<Layer>],
    meshes: &[&Mesh],
    regions: &mut [LayerRegions],
    s: &Settings,
) -> Option<SupportReport> {
    let style = s.print.support_material;
    if style == SupportStyle::None {
        return None;
    }
    let p = &s.print;
    let width = s.line_width(WidthRole::Support, p.support_tool, false);
    let mut report = SupportReport {
        style: match style {
            SupportStyle::Grid => "grid",
            SupportStyle::Tree => "tree",
            SupportStyle::None => "none",
        }
        .into(),
        ..Default::default()
    };
    let params = area_params(s);
    let soluble_inside = (p.support_inside == SupportInside::Soluble)
        .then(|| s.soluble_tool())
        .flatten();
    for (k, layers) in objects.iter().enumerate() {
        let overhangs = overhang::detect(
            layers,
            meshes.get(k).copied(),
            p.support_threshold,
            p.support_min_area,
            p.support_bridges,
            width,
        );
        let mut support = match style {
            SupportStyle::Tree => {
                let points = overhang::surface_points(
                    meshes.get(k).copied(),
                    layers,
                    &overhangs,
                    p.support_threshold,
                    tree::SURFACE_SPACING,
                );
                tree::tree_support(
                    layers,
                    &points,
                    &params,
                    &tree::TreeParams::from_settings(s),
                )
            }
            _ => support_areas(layers, &overhangs, &params),
        };
        drop(overhangs);
        for (l, sl) in layers.iter().zip(&support) {
            let a: f64 = sl.interior.iter().map(ExPolygon::area_mm2).sum();
            if a > 0.0 {
                report.interior_volume_mm3 += a * l.height;
                report.interior_layers += 1;
                let (lo, _) = report.interior_heights.unwrap_or((l.z, l.z));
                report.interior_heights = Some((lo.min(l.z), l.z));
            }
        }
        if p.support_inside == SupportInside::None {
            drop_interior(&mut support);
            report.interior_removed = true;
        }
        let model: Vec<&[ExPolygon]> = layers.iter().map(|l| l.islands.as_slice()).collect();
        report.standing += stand::stand(&mut support, &model, params.xy_gap + params.line_inset);
        for (l, sl) in layers.iter().zip(&support) {
            let area: f64 = sl
                .base
                .iter()
                .chain(&sl.interface)
                .map(ExPolygon::area_mm2)
                .sum();
            report.volume_mm3 += area * l.height;
            report.contact_area_mm2 += sl.contact_area;
        }
        let all = &support;
        let paths: Vec<Vec<(usize, ExtrusionPath)>> = layers
            .par_iter()
            .zip(&support)
            .enumerate()
            .map(|(j, (l, sl))| {
                let mut out = Vec::new();
                let above = all.get(j + 1).map_or(&[][..], |a| &a.interface[..]);
                match soluble_inside {
                    Some(tool) if !sl.interior.is_empty() => {
                        // Support enclosed by the model in the soluble material (it
                        // dissolves out of the lumen), the rest as it was.
                        let inside = SupportLayer {
                            base: geom::intersection(&sl.base, &sl.interior),
                            interface: geom::intersection(&sl.interface, &sl.interior),
                            interior: sl.interior.clone(),
                            contact_area: 0.0,
                            edge: sl.edge,
                        };
                        let outside = SupportLayer {
                            base: geom::difference(&sl.base, &sl.interior),
                            interface: geom::difference(&sl.interface, &sl.interior),
                            interior: Vec::new(),
                            contact_area: 0.0,
                            edge: sl.edge,
                        };
                        let under = geom::difference(above, &sl.interior);
                        support_paths(&outside, &under, j, l, s, width, None, &mut out);
                        support_paths(&inside, &[], j, l, s, width, Some(tool), &mut out);
                    }
                    _ => support_paths(sl, above, j, l, s, width, None, &mut out),
                }
                out
            })
            .collect();
        let extents: Vec<Vec<ExPolygon>> = support
            .par_iter()
            .map(|sl| printed_extent(sl, width))
            .collect();
        for ((region, p), e) in regions.iter_mut().zip(paths).zip(extents) {
            region.support.extend(p);
            region.support_areas.extend(e);
        }
    }
    Some(report)
}

/// Where one support layer's beads go, one outline per piece: its areas as they are
/// when they bound the printed extent (tree branches), grown by half a line when they
/// hold the line centres (grid).
fn printed_extent(sl: &SupportLayer, width: f64) -> Vec<ExPolygon> {
    let all: Vec<ExPolygon> = sl.base.iter().chain(&sl.interface).cloned().collect();
    if all.is_empty() {
        return all;
    }
    match sl.edge {
        AreaEdge::Printed => geom::union(&all, geom::FillRule::NonZero),
        AreaEdge::LineCentres => geom::offset(&all, scaled(width / 2.0) as f64, JoinType::Miter),
    }
}

/// Paths of one support layer: the body as sparse lines in one direction (easy to
/// break away in strips), the interface as dense lines turning every layer. `tool`
/// overrides the profile's support tools. Areas bounding the printed extent
/// ([`AreaEdge::Printed`]) get a wall and an inset fill.
///
/// Where the layer above has interface (`above`) in another tool than the body (a
/// soluble interface on a model-material body), the body under it is a dense
/// transition layer in the body's tool: the soluble interface does not bond to sparse
/// lines of another material, but it does to a closed surface, and the body's own
/// material fuses to the sparse body under it.
#[allow(clippy::too_many_arguments)]
fn support_paths(
    sl: &SupportLayer,
    above: &[ExPolygon],
    index: usize,
    layer: &Layer,
    s: &Settings,
    width: f64,
    tool: Option<usize>,
    out: &mut Vec<(usize, ExtrusionPath)>,
) {
    let p = &s.print;
    let h = layer.height;
    let lines = support_fill(p, width, h);
    let spacing = lines.spacing;
    let inset = scaled(width / 2.0) as f64;
    let base_tool = tool.unwrap_or(match p.soluble_support {
        SolubleMode::All => p.support_interface_tool,
        _ => p.support_tool,
    });
    let interface_tool = tool.unwrap_or(p.support_interface_tool);
    let walls = sl.edge == AreaEdge::Printed;
    if walls {
        // Tree branches: a wall round each branch holds the sparse inside together, and
        // a ring under each tip spreads its hold.
        let ring = geom::offset(&sl.base, -inset, JoinType::Miter);
        let tip_rings = geom::offset(&sl.interface, -inset, JoinType::Miter);
        for e in &tip_rings {
            for r in e.rings() {
                out.push((
                    interface_tool,
                    ExtrusionPath::from_loop(Role::SupportInterface, r.clone(), width, h),
                ));
            }
        }
        for e in &ring {
            for r in e.rings() {
                out.push((
                    base_tool,
                    ExtrusionPath::from_loop(Role::SupportMaterial, r.clone(), width, h),
                ));
            }
        }
    }
    let mut add = |areas: &[ExPolygon], role: Role, tool: usize, params: FillParams| {
        if areas.is_empty() {
            return;
        }
        // Grid areas already hold line centres only; tree branches are inset so
        // their walls keep their clearance. Tiny areas (thin columns) too narrow for
        // the inset get a line through them.
        let inner = if walls {
            geom::offset(areas, -inset, JoinType::Miter)
        } else {
            Vec::new()
        };
        let target = if inner.is_empty() {
            areas.to_vec()
        } else {
            inner
        };
        for line in fill(&target, &params) {
            out.push((tool, ExtrusionPath::open(role, line, width, h)));
        }
    };

    let transition = if base_tool != interface_tool && !above.is_empty() && !sl.base.is_empty() {
        geom::intersection(&sl.base, above)
    } else {
        Vec::new()
    };
    let body = if transition.is_empty() {
        sl.base.clone()
    } else {
        geom::difference(&sl.base, &transition)
    };
    add(
        &transition,
        Role::SupportMaterial,
        base_tool,
        FillParams {
            pattern: FillPattern::Rectilinear,
            density: 1.0,
            spacing,
            // Across the body's lines, which it bridges.
            angle: p.support_base_angle + 90.0,
            layer: 0,
            z: layer.z,
            connect: true,
        },
    );
    add(
        &body,
        Role::SupportMaterial,
        base_tool,
        FillParams {
            pattern: match p.support_base_pattern {
                crate::profile::InfillPattern::Grid => FillPattern::Grid,
                _ => FillPattern::Lines,
            },
            density: lines.base_density,
            spacing,
            angle: p.support_base_angle,
            // The same direction on every layer: the body comes away in strips.
            layer: 0,
            z: layer.z,
            connect: true,
        },
    );
    add(
        &sl.interface,
        Role::SupportInterface,
        interface_tool,
        FillParams {
            pattern: FillPattern::Rectilinear,
            density: lines.interface_density,
            spacing,
            angle: p.support_base_angle + 90.0,
            layer: index,
            z: layer.z,
            connect: true,
        },
    );
}
