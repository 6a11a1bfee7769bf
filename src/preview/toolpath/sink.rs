//! The toolpath of G-code being generated, from the generator's events.

use crate::gcode::moves::{
    AXIS_E, AXIS_F, AXIS_X, AXIS_Y, AXIS_Z, E_UNITS, Event, MoveKind, Sink, WIDTH_DECIMALS,
    XYZ_DECIMALS, XYZ_UNITS,
};
use crate::gcode::read::MAX_TOOLS;
use crate::gcode::read::modal::Axes;
use crate::gcode::{Flavor, GcodeError};

use super::interp::Parser;
use super::{ParseError, ParseOptions, Toolpath};

/// The toolpath of G-code as lamina generates it, built from the generator's events
/// ([`crate::gcode::Sink`]) while the file is written: the moves are taken as they
/// are, not formatted and read back, and only the custom G-code of the profile (start,
/// tool change, end) is read as text. The toolpath is the one [`super::parse`] reads from the
/// file written.
pub struct ToolpathSink {
    parser: Parser,
    /// Whether E is written relative (`M83`), as the job says.
    relative_e: bool,
    /// E as written in absolute mode, [`E_UNITS`].
    e_written: i64,
}

impl ToolpathSink {
    /// A toolpath read with `opts` from a job for `flavor` (whose header says so before
    /// anything is read) that writes E relative or absolute.
    pub fn new(opts: &ParseOptions, flavor: Flavor, relative_e: bool) -> Self {
        let mut parser = Parser::new(opts);
        parser.modal.flavor = flavor;
        ToolpathSink {
            parser,
            relative_e,
            e_written: 0,
        }
    }

    /// The toolpath of everything generated.
    pub fn finish(self) -> Result<Toolpath, ParseError> {
        self.parser.finish()
    }

    fn text(&mut self, text: &str) {
        for line in text.lines() {
            // lamina's own G-code and the profile's: a corrupt line of the profile's
            // is drawn as the printer would follow it, without it.
            let _ = self.parser.line(line.as_bytes());
        }
    }
}

impl Sink for ToolpathSink {
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError> {
        let p = &mut self.parser;
        match ev {
            Event::Custom(text) => self.text(text),
            Event::Preamble => {
                p.modal.units = 1.0;
                p.modal.absolute_xyz = true;
                p.modal.absolute_e = !self.relative_e;
            }
            Event::LayerStart(plan) => {
                p.marker();
                p.layer_z(as_written(plan.z, XYZ_DECIMALS));
                p.layer_height(as_written(plan.height, WIDTH_DECIMALS));
            }
            Event::Height(h) => p.layer_height(as_written(h, WIDTH_DECIMALS)),
            Event::Role(r) => p.set_role(Some(r)),
            Event::Width(w) => p.width = Some(as_written(w, WIDTH_DECIMALS)).filter(|w| *w > 0.0),
            Event::Move(m) => {
                match m.kind {
                    // Written as a bare `G10`, which the file reader counts.
                    MoveKind::FirmwareRetract => {
                        p.retractions += 1;
                        return Ok(());
                    }
                    MoveKind::FirmwareUnretract => return Ok(()),
                    _ => {}
                }
                let mut a: Axes = [None; 5];
                for (k, (bit, v)) in [(AXIS_X, m.x), (AXIS_Y, m.y), (AXIS_Z, m.z)]
                    .into_iter()
                    .enumerate()
                {
                    if m.axes & bit != 0 {
                        a[k] = Some(v as f64 / XYZ_UNITS);
                    }
                }
                if m.axes & AXIS_E != 0 {
                    self.e_written += m.e;
                    let e = if self.relative_e { m.e } else { self.e_written };
                    a[3] = Some(e as f64 / E_UNITS);
                }
                if m.axes & AXIS_F != 0 {
                    a[4] = Some(f64::from(m.feed));
                }
                p.linear(&a);
            }
            Event::ToolChange { tool, write_t } => {
                if write_t && tool < MAX_TOOLS {
                    p.select_tool(tool as u8);
                }
            }
            Event::ResetE => {
                self.e_written = 0;
                p.modal.e = 0.0;
            }
            Event::FirmwareRetraction(_)
            | Event::LayerReady(_)
            | Event::Fan(_)
            | Event::Temperature { .. }
            | Event::Object(_)
            | Event::End => {}
        }
        Ok(())
    }
}

/// `x` as the G-code writer writes it with `decimals` decimals, read back.
fn as_written(x: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (x * scale).round() / scale
}
