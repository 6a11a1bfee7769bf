//! The planner's parameters from resolved profile settings: the one place where profile
//! keys meet the planner.

use crate::profile::{self, Settings, WidthRole};

use super::params::{
    Brim, Cooling, PlanParams, Retraction, SeamPosition, Skirt, Speeds, ToolParams,
};
use super::prime::PrimeLines;
use super::standby::Standby;
use super::tower::TowerParams;

impl From<profile::SeamPosition> for SeamPosition {
    fn from(s: profile::SeamPosition) -> Self {
        match s {
            profile::SeamPosition::Aligned => SeamPosition::Aligned,
            profile::SeamPosition::Rear => SeamPosition::Rear,
            profile::SeamPosition::Nearest => SeamPosition::Nearest,
            profile::SeamPosition::Random => SeamPosition::Random,
        }
    }
}

impl PlanParams {
    /// Plan parameters from resolved settings (print, printer and one material per
    /// tool). Settings without a profile key keep [`PlanParams::default`]'s values:
    /// overhang walls at bridge speed, skirt and brim at perimeter speed, retraction
    /// only when crossing perimeters, 1 mm wipes.
    pub fn from_settings(s: &Settings) -> PlanParams {
        let p = &s.print;
        let defaults = PlanParams::default();
        let adhesion_width = s.line_width(WidthRole::Perimeter, 0, true);
        PlanParams {
            speeds: Speeds {
                external_perimeter: p.external_perimeter_speed,
                perimeter: p.perimeter_speed,
                overhang_perimeter: p.bridge_speed,
                gap_fill: p.gap_fill_speed,
                solid_infill: p.solid_infill_speed,
                top_solid_infill: p.top_solid_infill_speed,
                bridge: p.bridge_speed,
                infill: p.infill_speed,
                support: p.support_material_speed,
                support_interface: p.support_material_interface_speed,
                skirt_brim: p.perimeter_speed,
                travel: p.travel_speed,
                first_layer: p.first_layer_speed,
                ..defaults.speeds
            },
            bridge_flow: p.bridge_flow_ratio,
            retract: Retraction {
                min_travel: s.printer.retract_before_travel,
                z_hop: s.printer.retract_lift,
                wipe: s.printer.wipe,
                ..defaults.retract
            },
            combing: p.avoid_crossing_perimeters,
            seam: p.seam_position.into(),
            seam_seed: defaults.seam_seed,
            external_perimeters_first: p.external_perimeters_first,
            skirt: Skirt {
                loops: p.skirts,
                distance: p.skirt_distance,
                height: p.skirt_height,
                min_length: p.min_skirt_length,
                width: adhesion_width,
            },
            brim: Brim {
                width: p.brim_width,
                auto: p.brim_auto,
                line_width: adhesion_width,
                ..defaults.brim
            },
            tools: s
                .materials
                .iter()
                .map(|m| ToolParams {
                    first_layer_temperature: m.first_layer_temperature,
                    temperature: m.temperature,
                    max_volumetric_speed: m.max_volumetric_speed,
                    cooling: Cooling {
                        min_fan: m.min_fan_speed,
                        max_fan: m.max_fan_speed,
                        bridge_fan: m.bridge_fan_speed,
                        disable_fan_first_layers: m.disable_fan_first_layers,
                        fan_below_layer_time: m.fan_below_layer_time,
                        slowdown_below_layer_time: m.slowdown_below_layer_time,
                        min_print_speed: m.min_print_speed,
                    },
                })
                .collect(),
            bed_temperature: s.materials.first().map_or((0.0, 0.0), |m| {
                (m.first_layer_bed_temperature, m.bed_temperature)
            }),
            tower: tower_params(s),
            standby: (s.printer.tools() > 1).then(|| Standby {
                idle: s.materials.iter().map(|m| m.idle_temperature).collect(),
                print: s
                    .materials
                    .iter()
                    .map(|m| (m.first_layer_temperature, m.temperature))
                    .collect(),
                preheat_time: p.standby_preheat_time,
                toolchange_time: s.printer.toolchange_time,
            }),
            prime: (s.printer.tools() > 1).then(|| {
                let bed = crate::pipeline::bed(s);
                let offset = s
                    .printer
                    .extruder_offset
                    .iter()
                    .map(|o| o[0])
                    .fold(0.0, f64::max);
                PrimeLines::for_bed(bed.min, offset, adhesion_width)
            }),
            mark_objects: s.printer.firmware == crate::profile::Firmware::Klipper,
        }
    }
}

/// The prime tower's parameters, when the printer has several tools and the tower is on.
fn tower_params(s: &Settings) -> Option<TowerParams> {
    let p = &s.print;
    if s.printer.tools() < 2 || !p.prime_tower {
        return None;
    }
    let bed = crate::pipeline::bed(s);
    let purge = s
        .materials
        .iter()
        .map(|from| {
            s.materials
                .iter()
                .map(|to| s.printer.purge(from, to))
                .collect()
        })
        .collect();
    let position = (p.prime_tower_x >= 0.0 && p.prime_tower_y >= 0.0)
        .then_some([p.prime_tower_x, p.prime_tower_y]);
    Some(TowerParams {
        width: p.prime_tower_width,
        position,
        brim: p.prime_tower_brim,
        min_purge: p.prime_tower_min_purge,
        purge,
        line_width: s.line_width(WidthRole::Support, 0, false),
        bed: (bed.min, bed.max),
        clearance: p.skirt_distance
            + p.skirts as f64 * s.line_width(WidthRole::Support, 0, true)
            + p.brim_width.max(Brim::default().auto_width)
            + TOWER_CLEARANCE,
    })
}

/// Gap between the tower and the models beyond the skirt, mm.
const TOWER_CLEARANCE: f64 = 3.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profiles_map_onto_the_planner() {
        let s = profile::resolve(&profile::ProfileSelection::default())
            .expect("default profiles resolve");
        let p = PlanParams::from_settings(&s);
        assert_eq!(p.speeds.perimeter, s.print.perimeter_speed);
        assert_eq!(p.retract.min_travel, s.printer.retract_before_travel);
        assert_eq!(p.tools.len(), s.materials.len());
        assert_eq!(
            p.tools[0].cooling.min_print_speed,
            s.materials[0].min_print_speed
        );
        assert!(p.skirt.width > 0.0 && p.brim.line_width == p.skirt.width);
    }
}
