//! Estimating any G-code file (lamina's or another slicer's) by reading its moves.

use std::io::BufRead;

use super::estimate::{Estimate, MachineLimits, Simulator};
use super::events::MoveKind;
use crate::path::Role;

/// Time of the G-code read from `r`, with the same motion model as lamina's own
/// estimate. Understands G0/G1 (X Y Z E F), G4 dwells, G90/G91, M82/M83, G92, tool
/// changes, `;LAYER_CHANGE` and `;TYPE:` comments.
pub fn estimate_text(r: impl BufRead, limits: &MachineLimits) -> std::io::Result<Estimate> {
    let mut sim = Simulator::new(*limits);
    let mut est = Estimate::default();
    let mut pos = [0.0f64; 4];
    let mut feed = 25.0;
    let mut absolute = true;
    let mut relative_e = false;
    let mut role: Option<Role> = None;
    let mut layer_start: Option<f64> = None;
    let mut filament = 0.0;
    for line in r.lines() {
        let line = line?;
        let (code, comment) = match line.split_once(';') {
            Some((c, k)) => (c.trim(), Some(k.trim())),
            None => (line.trim(), None),
        };
        if let Some(c) = comment {
            if c == "LAYER_CHANGE" {
                sim.flush();
                if let Some(start) = layer_start {
                    est.layer_times.push(sim.total - start);
                }
                layer_start = Some(sim.total);
            } else if let Some(t) = c.strip_prefix("TYPE:") {
                role = Role::from_gcode_name(t);
            }
        }
        let Some(cmd) = code.split_whitespace().next() else {
            continue;
        };
        let arg = |letter: char| -> Option<f64> {
            code.split_whitespace()
                .skip(1)
                .find(|w| w.starts_with(letter) || w.starts_with(letter.to_ascii_lowercase()))
                .and_then(|w| w[1..].parse().ok())
        };
        match cmd.to_ascii_uppercase().as_str() {
            "G0" | "G1" => {
                if let Some(f) = arg('F') {
                    feed = f / 60.0;
                }
                let mut to = pos;
                for (i, letter) in ['X', 'Y', 'Z'].into_iter().enumerate() {
                    if let Some(v) = arg(letter) {
                        to[i] = if absolute { v } else { pos[i] + v };
                    }
                }
                if let Some(v) = arg('E') {
                    to[3] = if relative_e || !absolute {
                        pos[3] + v
                    } else {
                        v
                    };
                }
                let de = to[3] - pos[3];
                let moved = (0..3).any(|i| to[i] != pos[i]);
                let kind = match (moved, de) {
                    (true, d) if d > 0.0 => MoveKind::Extrude,
                    (true, _) => MoveKind::Travel,
                    (false, d) if d < 0.0 => MoveKind::Retract,
                    _ => MoveKind::Unretract,
                };
                if de > 0.0 && moved {
                    filament += de;
                }
                sim.move_to(
                    to,
                    feed,
                    kind,
                    if kind == MoveKind::Extrude {
                        role
                    } else {
                        None
                    },
                );
                pos = to;
            }
            "G4" => {
                let secs = arg('S').unwrap_or(0.0) + arg('P').unwrap_or(0.0) / 1000.0;
                sim.dwell(secs);
            }
            "G90" => absolute = true,
            "G91" => absolute = false,
            "M82" => relative_e = false,
            "M83" => relative_e = true,
            "G92" => {
                for (i, letter) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = arg(letter) {
                        pos[i] = v;
                    }
                }
                sim.set_position(pos);
            }
            c if c.starts_with('T') && c[1..].parse::<usize>().is_ok() => {
                est.tool_changes += 1;
                sim.dwell(limits.toolchange_time);
            }
            _ => {}
        }
    }
    sim.flush();
    if let Some(start) = layer_start {
        est.layer_times.push(sim.total - start);
    }
    est.total_time = sim.total;
    est.role_times = sim.role_time.into_iter().collect();
    est.tools = vec![super::ToolUsage {
        filament_mm: filament,
        ..Default::default()
    }];
    Ok(est)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_moves_and_layers() {
        let g = "G90\nM83\n;LAYER_CHANGE\nG1 Z0.2 F600\nG1 X100 F6000\n;TYPE:Perimeter\nG1 X100 Y100 E5 F3000\n;LAYER_CHANGE\nG1 Z0.4\nG4 S2\n";
        let mut l = MachineLimits::default();
        l.jerk = [0.0; 4];
        let e = estimate_text(g.as_bytes(), &l).unwrap();
        assert_eq!(e.layer_times.len(), 2);
        assert!(
            (e.layer_times[1]
                - (2.0 + super::super::estimate::trapezoid_time(0.2, 0.0, 0.0, 10.0, 200.0)))
            .abs()
                < 1e-6
        );
        assert_eq!(e.tools[0].filament_mm, 5.0);
        assert!(
            e.role_times
                .iter()
                .any(|(r, t)| *r == Role::Perimeter && *t > 2.0)
        );
    }
}
