//! Writing the events as G-code text.

use std::io::{self, Write};

use super::events::{Event, MoveKind, walk};
use super::format::{push_number, push_uint};
use super::{Estimate, GcodeJob};
use crate::profile::{Firmware, render_template};

/// Flush the line buffer to the output when it grows past this.
const FLUSH_AT: usize = 1 << 16;

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteStats {
    /// Lines written.
    pub lines: u64,
    /// Bytes written.
    pub bytes: u64,
}

struct Writer<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
    stats: WriteStats,
    error: Option<io::Error>,
}

impl Writer<'_> {
    fn line(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
        self.end_line();
    }

    fn end_line(&mut self) {
        self.buf.push(b'\n');
        self.stats.lines += 1;
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }

    fn lines(&mut self, text: &str) {
        for l in text.lines() {
            self.line(l);
        }
    }

    fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
        self.stats.bytes += self.buf.len() as u64;
        self.buf.clear();
    }
}

fn minutes_left(total: f64, done: f64) -> u64 {
    ((total - done).max(0.0) / 60.0).ceil() as u64
}

/// Write the whole G-code file: header with the estimate, start G-code, every layer,
/// end G-code, and a footer with the settings.
pub fn write_gcode(
    out: &mut dyn Write,
    job: &GcodeJob,
    plans: &[crate::plan::LayerPlan],
    estimate: &Estimate,
) -> io::Result<WriteStats> {
    let mut w = Writer {
        out,
        buf: Vec::with_capacity(FLUSH_AT * 2),
        stats: WriteStats::default(),
        error: None,
    };
    write_header(&mut w, job, plans, estimate);
    w.lines(&job.start_gcode);
    w.line(if job.relative_e {
        "M83 ; relative extrusion"
    } else {
        "M82 ; absolute extrusion"
    });
    w.line("G90 ; absolute positions");
    w.line("G21 ; millimetres");
    w.line("G92 E0");

    let marlin_like = matches!(job.flavor, Firmware::Marlin | Firmware::Klipper);
    let total = estimate.total_time;
    let mut done = 0.0;
    let mut last_m73: Option<(u64, u64)> = None;
    let mut e_abs = 0.0f64;
    let mut feed_mm_min: Option<u64> = None;
    let mut layer_no = 0usize;
    let mut vars = job.vars.clone();
    let mut fan_on = false;
    walk(job, plans, &mut |ev| match ev {
        Event::LayerStart { index, z, height } => {
            w.line(";LAYER_CHANGE");
            w.buf.extend_from_slice(b";Z:");
            push_number(&mut w.buf, z, 3);
            w.end_line();
            w.buf.extend_from_slice(b";HEIGHT:");
            push_number(&mut w.buf, height, 3);
            w.end_line();
            vars.set("layer_num", index);
            vars.set_number("layer_z", z);
            if !job.before_layer_gcode.is_empty() {
                if let Ok(t) = render_template(&job.before_layer_gcode, &vars) {
                    w.lines(&t);
                }
            }
            if !job.relative_e {
                w.line("G92 E0");
                e_abs = 0.0;
            }
            layer_no = index;
        }
        Event::LayerBody { .. } => {
            if !job.layer_gcode.is_empty() {
                if let Ok(t) = render_template(&job.layer_gcode, &vars) {
                    w.lines(&t);
                }
            }
            if marlin_like && total > 0.0 {
                let pct = ((done / total) * 100.0).floor().clamp(0.0, 100.0) as u64;
                let left = minutes_left(total, done);
                if last_m73 != Some((pct, left)) {
                    w.buf.extend_from_slice(b"M73 P");
                    push_uint(&mut w.buf, pct);
                    w.buf.extend_from_slice(b" R");
                    push_uint(&mut w.buf, left);
                    w.end_line();
                    last_m73 = Some((pct, left));
                }
            }
            done += estimate.layer_times.get(layer_no).copied().unwrap_or(0.0);
        }
        Event::Role(r) => {
            w.buf.extend_from_slice(b";TYPE:");
            w.buf.extend_from_slice(r.gcode_name().as_bytes());
            w.end_line();
        }
        Event::Width(v) => {
            w.buf.extend_from_slice(b";WIDTH:");
            push_number(&mut w.buf, v, 3);
            w.end_line();
        }
        Event::Move {
            x,
            y,
            z,
            de,
            feed,
            kind,
            ..
        } => {
            w.buf.extend_from_slice(b"G1");
            match kind {
                MoveKind::Retract | MoveKind::Unretract => {}
                MoveKind::Lift | MoveKind::LayerZ => {
                    w.buf.extend_from_slice(b" Z");
                    push_number(&mut w.buf, z, 3);
                }
                MoveKind::Travel | MoveKind::Extrude | MoveKind::Wipe => {
                    w.buf.extend_from_slice(b" X");
                    push_number(&mut w.buf, x, 3);
                    w.buf.extend_from_slice(b" Y");
                    push_number(&mut w.buf, y, 3);
                }
            }
            if de != 0.0 {
                w.buf.extend_from_slice(b" E");
                if job.relative_e {
                    push_number(&mut w.buf, de, 5);
                } else {
                    e_abs += de;
                    push_number(&mut w.buf, e_abs, 5);
                }
            }
            let f = (feed * 60.0).round().max(1.0) as u64;
            if feed_mm_min != Some(f) {
                w.buf.extend_from_slice(b" F");
                push_uint(&mut w.buf, f);
                feed_mm_min = Some(f);
            }
            w.end_line();
        }
        Event::FirmwareRetract(on) => w.line(if on { "G10" } else { "G11" }),
        Event::Fan(pct) => {
            if pct == 0 {
                if fan_on {
                    w.line("M107");
                }
                fan_on = false;
            } else {
                w.buf.extend_from_slice(b"M106 S");
                push_uint(&mut w.buf, (f64::from(pct) * 2.55).round() as u64);
                w.end_line();
                fan_on = true;
            }
        }
        Event::Temperature {
            tool,
            celsius,
            wait,
        } => {
            w.buf
                .extend_from_slice(if wait { b"M109 T" } else { b"M104 T" });
            push_uint(&mut w.buf, tool as u64);
            w.buf.extend_from_slice(b" S");
            push_number(&mut w.buf, celsius, 0);
            w.end_line();
        }
        Event::ToolChange { from, to } => {
            let mut v = vars.clone();
            v.set("previous_tool", from);
            v.set("next_tool", to);
            if !job.toolchange_gcode.is_empty() {
                if let Ok(t) = render_template(&job.toolchange_gcode, &v) {
                    w.lines(&t);
                }
            }
            w.buf.push(b'T');
            push_uint(&mut w.buf, to as u64);
            w.end_line();
            if !job.relative_e {
                w.line("G92 E0");
                e_abs = 0.0;
            }
            feed_mm_min = None;
        }
        Event::Custom(text) => w.lines(text),
    });
    if marlin_like {
        w.line("M73 P100 R0");
    }
    w.lines(&job.end_gcode);
    write_footer(&mut w, job, estimate);
    w.flush();
    if let Some(e) = w.error {
        return Err(e);
    }
    w.out.flush()?;
    Ok(w.stats)
}

fn per_tool(values: impl Iterator<Item = f64>, decimals: usize) -> String {
    values
        .map(|v| format!("{v:.decimals$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_estimates(w: &mut Writer, job: &GcodeJob, plans_len: usize, est: &Estimate) {
    let used: Vec<_> = est.tools.iter().take(job.tools.len().max(1)).collect();
    w.line(&format!(
        "; estimated printing time (normal mode) = {}",
        Estimate::time_string(est.total_time)
    ));
    w.line(&format!(
        "; filament used [mm] = {}",
        per_tool(used.iter().map(|u| u.filament_mm), 2)
    ));
    w.line(&format!(
        "; filament used [cm3] = {}",
        per_tool(used.iter().map(|u| u.volume_cm3), 2)
    ));
    w.line(&format!(
        "; filament used [g] = {}",
        per_tool(used.iter().map(|u| u.grams), 2)
    ));
    w.line(&format!(
        "; filament cost = {}",
        per_tool(used.iter().map(|u| u.cost), 2)
    ));
    w.line(&format!(
        "; total filament used [g] = {:.2}",
        used.iter().map(|u| u.grams).sum::<f64>()
    ));
    w.line(&format!(
        "; total filament cost = {:.2}",
        used.iter().map(|u| u.cost).sum::<f64>()
    ));
    w.line(&format!("; total layers count = {plans_len}"));
    w.line(&format!("; total toolchanges = {}", est.tool_changes));
    for line in &job.extra_header {
        w.line(&format!("; {line}"));
    }
}

fn write_header(w: &mut Writer, job: &GcodeJob, plans: &[crate::plan::LayerPlan], est: &Estimate) {
    w.line(&format!(
        "; generated by lamina {}",
        env!("CARGO_PKG_VERSION")
    ));
    if !job.models.is_empty() {
        w.line(&format!("; models: {}", job.models.join(", ")));
    }
    if !job.profiles.is_empty() {
        w.line(&format!("; profiles: {}", job.profiles));
    }
    w.line(";");
    for (width, height, png) in &job.thumbnails {
        let encoded = super::base64(png);
        w.line(";");
        w.line(&format!(
            "; thumbnail begin {width}x{height} {}",
            encoded.len()
        ));
        for chunk in encoded.as_bytes().chunks(78) {
            w.buf.extend_from_slice(b"; ");
            w.buf.extend_from_slice(chunk);
            w.end_line();
        }
        w.line("; thumbnail end");
        w.line(";");
    }
    write_estimates(w, job, plans.len(), est);
    w.line("");
}

fn write_footer(w: &mut Writer, job: &GcodeJob, est: &Estimate) {
    w.line("");
    write_estimates(w, job, est.layer_times.len(), est);
    w.line("");
    w.line("; lamina_config = begin");
    for l in job.settings_text.lines() {
        if l.is_empty() {
            w.line(";");
        } else {
            w.line(&format!("; {l}"));
        }
    }
    w.line("; lamina_config = end");
}
