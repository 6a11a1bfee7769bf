//! From sliced layers to extrusion paths: walls, skins and infill of every island, all
//! layers in parallel.

use rayon::prelude::*;

use super::perimeters::{IslandWalls, PerimeterParams, perimeters};
use super::skins::{IslandStack, Skins, classify};
use super::{IslandPaths, LayerRegions};
use crate::fill::{FillParams, FillPattern, fill};
use crate::geom::{self, ExPolygon, JoinType, scaled};
use crate::path::{ExtrusionPath, Role, bead_spacing};
use crate::profile::{Settings, WidthRole};
use crate::slice::Layer;
use crate::timing;

/// Paths for every layer of one object printed by `tool`.
pub fn build_regions(layers: &[Layer], settings: &Settings, tool: usize) -> Vec<LayerRegions> {
    let stack = IslandStack::new(0, layers.iter().map(|l| l.islands.as_slice()).collect());
    layers
        .par_iter()
        .enumerate()
        .map(|(i, l)| layer_regions(l, i, &stack, settings, tool))
        .collect()
}

/// The paths of `layer`, layer `i` of one object printed by `tool`; `stack` holds the
/// object's islands at least from `bottom_solid_layers` below the layer to
/// `top_solid_layers` above it (fewer where the object ends).
pub fn layer_regions(
    layer: &Layer,
    i: usize,
    stack: &IslandStack<'_>,
    settings: &Settings,
    tool: usize,
) -> LayerRegions {
    let _busy = timing::enter(timing::Stage::Regions);
    let first = i == 0;
    let p = perimeter_params(settings, tool, first, layer.height);
    let walls: Vec<IslandWalls> = layer
        .islands
        .iter()
        .map(|isl| perimeters(isl, &p))
        .collect();
    let islands = layer
        .islands
        .iter()
        .zip(&walls)
        .map(|(island, w)| {
            let skins = classify(
                &w.inner_area,
                stack,
                i,
                settings.print.top_solid_layers,
                settings.print.bottom_solid_layers,
                settings.line_width(WidthRole::SolidInfill, tool, first),
            );
            island_paths(island, w, &skins, settings, tool, i, layer)
        })
        .collect();
    LayerRegions {
        index: i,
        z: layer.z,
        height: layer.height,
        islands,
        support: Vec::new(),
        support_areas: Vec::new(),
    }
}

/// Wall settings for a layer.
pub fn perimeter_params(s: &Settings, tool: usize, first: bool, height: f64) -> PerimeterParams {
    PerimeterParams {
        loops: s.print.perimeters.max(1),
        ext_width: s.line_width(WidthRole::ExternalPerimeter, tool, first),
        width: s.line_width(WidthRole::Perimeter, tool, first),
        height,
        nozzle: s.printer.nozzle(tool),
        thin_walls: s.print.thin_walls,
        gap_fill: s.print.gap_fill,
        gap_fill_min_width: s.print.gap_fill_min_width,
    }
}

/// Everything printed inside one island.
fn island_paths(
    island: &ExPolygon,
    walls: &IslandWalls,
    skins: &Skins,
    s: &Settings,
    tool: usize,
    index: usize,
    layer: &Layer,
) -> IslandPaths {
    let first = index == 0;
    let h = layer.height;
    // Walls: inner loops first (or the outer first when configured).
    let mut loops: Vec<&super::perimeters::PerimeterLoop> = walls.loops.iter().collect();
    if s.print.external_perimeters_first {
        loops.sort_by_key(|l| l.depth);
    } else {
        loops.sort_by_key(|l| std::cmp::Reverse(l.depth));
    }
    let perimeters = loops
        .into_iter()
        .map(|l| {
            let role = if l.depth == 0 {
                Role::ExternalPerimeter
            } else {
                Role::Perimeter
            };
            ExtrusionPath::from_loop(role, l.polygon.clone(), l.width, h)
        })
        .collect();
    let thin = walls
        .thin_walls
        .iter()
        .chain(&walls.gap_fill)
        .cloned()
        .collect();

    let mut infill = Vec::new();
    let angle = s.print.fill_angle;
    let solid_w = s.line_width(WidthRole::SolidInfill, tool, first);
    let top_w = s.line_width(WidthRole::TopInfill, tool, first);
    let sparse_w = s.line_width(WidthRole::Infill, tool, first);
    let overlap = s.print.infill_overlap / 100.0;
    let mut add = |areas: &[ExPolygon],
                   role: Role,
                   pattern: FillPattern,
                   density: f64,
                   width: f64,
                   angle: f64| {
        if areas.is_empty() {
            return;
        }
        // Line centres stay half a width inside, less the overlap with the walls.
        let inset = scaled(width / 2.0 - overlap * width) as f64;
        let area = geom::offset(areas, -inset, JoinType::Miter);
        let params = FillParams {
            pattern,
            density,
            spacing: bead_spacing(width, h),
            angle,
            layer: index,
            z: layer.z,
            connect: true,
        };
        for line in fill(&area, &params) {
            infill.push(ExtrusionPath::open(role, line, width, h));
        }
    };
    let solid_role = Role::SolidInfill;
    add(
        &skins.bottom,
        solid_role,
        s.print.bottom_fill_pattern.into(),
        1.0,
        solid_w,
        angle,
    );
    add(
        &skins.solid,
        solid_role,
        s.print.solid_fill_pattern.into(),
        1.0,
        solid_w,
        angle,
    );
    for (region, bridge_angle) in &skins.bridges {
        // Bridge lines run along the span on every layer: undo the fill's turn of 90°
        // on odd layers.
        let params_angle = bridge_angle.to_degrees() - if index % 2 == 1 { 90.0 } else { 0.0 };
        add(
            std::slice::from_ref(region),
            Role::BridgeInfill,
            FillPattern::Lines,
            1.0,
            solid_w,
            params_angle,
        );
    }
    let density = s.print.fill_density / 100.0;
    if density > 0.0 {
        let pattern = if density >= 0.999 {
            s.print.solid_fill_pattern.into()
        } else {
            s.print.fill_pattern.into()
        };
        add(
            &skins.sparse,
            Role::InternalInfill,
            pattern,
            density,
            sparse_w,
            angle,
        );
    }
    add(
        &skins.top,
        Role::TopSolidInfill,
        s.print.top_fill_pattern.into(),
        1.0,
        top_w,
        angle,
    );

    IslandPaths {
        boundary: island.clone(),
        tool,
        // Set by the caller, which knows the model.
        object: 0,
        perimeters,
        thin,
        infill,
    }
}

/// Merge the layer regions of several objects (same layer heights) into one stack.
pub fn merge_objects(mut objects: Vec<Vec<LayerRegions>>) -> Vec<LayerRegions> {
    let n = objects.iter().map(Vec::len).max().unwrap_or(0);
    let mut out: Vec<LayerRegions> = Vec::with_capacity(n);
    for i in 0..n {
        let mut merged: Option<LayerRegions> = None;
        for obj in &mut objects {
            if let Some(l) = obj.get_mut(i) {
                let l = std::mem::take(l);
                match merged.as_mut() {
                    None => merged = Some(l),
                    Some(m) => {
                        m.islands.extend(l.islands);
                        m.support.extend(l.support);
                        m.support_areas.extend(l.support_areas);
                    }
                }
            }
        }
        if let Some(m) = merged {
            out.push(m);
        }
    }
    out
}
