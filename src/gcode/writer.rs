//! The G-code writer: header with estimates, start G-code, every layer's moves with
//! PrusaSlicer-style comments (so existing viewers colour it), progress lines, end
//! G-code and a footer with the settings used, so a file documents itself.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::plan::LayerPlan;
use crate::timing;

use super::GcodeError;
use super::config::{Flavor, GcodeJob, ToolConfig};
use super::estimate::{Estimate, EstimatorSink, Progress, format_duration};
use super::moves::{
    AXIS_E, AXIS_F, AXIS_X, AXIS_Y, AXIS_Z, E_DECIMALS, Event, Generator, Move, MoveKind, Sink,
    WIDTH_DECIMALS, XYZ_DECIMALS,
};
use super::number::{push_f64, push_fixed, push_uint};
use super::thumbnail;

/// RepRapFirmware takes feedrates and jerk per minute.
const SECONDS_PER_MINUTE: f64 = 60.0;

/// The buffer is handed to the output when it holds this many bytes.
const FLUSH_AT: usize = 1 << 16;
/// Decimals of temperatures.
const TEMPERATURE_DECIMALS: u32 = 1;
/// Decimals of header figures (filament, weight, cost).
const HEADER_DECIMALS: u32 = 2;
/// Fan PWM at 100 %.
const FAN_MAX: u32 = 255;
/// Read buffer for copying a streamed body into the file.
const COPY_BUFFER: usize = 1 << 20;

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Bytes.
    pub bytes: u64,
    /// Lines.
    pub lines: u64,
    /// `G1` moves (and `G10`/`G11`).
    pub moves: u64,
}

struct Out<W: Write> {
    w: W,
    buf: Vec<u8>,
    stats: WriteStats,
}

impl<W: Write> Out<W> {
    fn new(w: W) -> Self {
        Out {
            w,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            stats: WriteStats::default(),
        }
    }

    /// Bytes handed out so far plus those buffered: where the next byte goes.
    fn position(&self) -> u64 {
        self.stats.bytes + self.buf.len() as u64
    }

    #[inline]
    fn end_line(&mut self) -> Result<(), GcodeError> {
        self.buf.push(b'\n');
        self.stats.lines += 1;
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), GcodeError> {
        self.w.write_all(&self.buf)?;
        self.stats.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Write `s` as one line (newlines in it become spaces).
    fn line(&mut self, s: &str) -> Result<(), GcodeError> {
        for b in s.bytes() {
            self.buf
                .push(if b == b'\n' || b == b'\r' { b' ' } else { b });
        }
        self.end_line()
    }

    /// Write G-code text verbatim, line by line, trailing blanks removed.
    fn text(&mut self, text: &str) -> Result<(), GcodeError> {
        for l in text.lines() {
            self.buf.extend_from_slice(l.trim_end().as_bytes());
            self.end_line()?;
        }
        Ok(())
    }
}

struct Writer<'a, W: Write> {
    out: Out<W>,
    job: &'a GcodeJob,
    /// The job's figures; `None` while a streamed body is written before they are known
    /// (the progress lines' places are noted in `marks` instead).
    estimate: Option<&'a Estimate>,
    /// Absolute E position as written, E units.
    e_abs: i64,
    layers_started: usize,
    last_progress: Option<Progress>,
    /// Where each layer's progress line goes in a streamed body: (byte offset, layer).
    marks: Vec<(u64, usize)>,
    /// The model whose paths are being written (Klipper's `EXCLUDE_OBJECT_START`).
    object: Option<usize>,
}

/// Write the G-code of a job to `w`.
///
/// `estimate` is what [`super::estimate()`] returned for the same job and plans: its
/// figures go in the header and footer and its layer times drive the `M73` progress
/// lines. Output is buffered internally; `w` sees large writes.
///
/// ```
/// use lamina::gcode::{estimate, write_gcode, GcodeJob};
/// use lamina::geom::Point;
/// use lamina::path::Role;
/// use lamina::plan::{LayerPlan, Step};
/// let line = vec![Point::from_mm(10.0, 10.0), Point::from_mm(30.0, 10.0)];
/// let plans = vec![LayerPlan { index: 0, z: 0.2, height: 0.2, steps: vec![
///     Step::Travel { to: line[0], speed: 150.0, retract: true, lift: false },
///     Step::Extrude { role: Role::Perimeter, points: line, width: 0.45, height: 0.2,
///                     speed: 40.0, flow: 1.0 },
/// ]}];
/// let job = GcodeJob { timestamp: Some("2024-01-01 at 00:00:00 UTC".into()), ..GcodeJob::default() };
/// let e = estimate(&job, &plans).unwrap();
/// let mut out = Vec::new();
/// write_gcode(&mut out, &job, &plans, &e).unwrap();
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.contains(";LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\n"));
/// // 20 mm of a 0.45 x 0.2 mm bead from 1.75 mm filament: 20·0.08142/2.40528 mm.
/// assert!(text.contains("G1 X30 E0.67698 F2400\n"));
/// ```
pub fn write_gcode(
    w: &mut dyn Write,
    job: &GcodeJob,
    plans: &[LayerPlan],
    estimate: &Estimate,
) -> Result<WriteStats, GcodeError> {
    job.validate()?;
    let mut wr = Writer::new(w, job, Some(estimate));
    wr.header(plans.len(), estimate)?;
    super::moves::generate(job, plans, &mut wr)?;
    wr.footer(plans.len(), estimate)?;
    wr.out.flush()?;
    wr.out.w.flush()?;
    Ok(wr.out.stats)
}

/// A job's G-code written layer by layer as the plans come, so no stage has to hold
/// every layer: the moves are simulated for the estimate as they are written, and the
/// body goes to a temporary file (or nowhere, when only the figures are wanted). The
/// header, which needs the figures, is written at the end, followed by the body with
/// its progress lines and the footer ([`Body::write_to`]). The result is byte for byte
/// what [`write_gcode`] writes for the same plans.
///
/// ```
/// use lamina::gcode::{estimate, write_gcode, GcodeJob, GcodeStream};
/// use lamina::geom::Point;
/// use lamina::path::Role;
/// use lamina::plan::{LayerPlan, Step};
/// let plans: Vec<LayerPlan> = (0..3).map(|i| LayerPlan { index: i, z: 0.2 * (i + 1) as f64,
///     height: 0.2, steps: vec![
///         Step::Travel { to: Point::from_mm(0.0, 0.0), speed: 150.0, retract: true, lift: false },
///         Step::Extrude { role: Role::Perimeter, points: vec![Point::from_mm(0.0, 0.0),
///             Point::from_mm(50.0, 0.0)], width: 0.45, height: 0.2, speed: 40.0, flow: 1.0 },
/// ]}).collect();
/// let job = GcodeJob { timestamp: Some("2024-01-01 at 00:00:00 UTC".into()), ..GcodeJob::default() };
/// let mut stream = GcodeStream::new(&job, Some(tempfile::tempfile().unwrap()), None).unwrap();
/// for p in &plans {
///     stream.layer(p).unwrap();
/// }
/// let (e, body) = stream.finish().unwrap();
/// let mut streamed = Vec::new();
/// body.unwrap().write_to(&mut streamed, &job, &e).unwrap();
/// let mut whole = Vec::new();
/// write_gcode(&mut whole, &job, &plans, &estimate(&job, &plans).unwrap()).unwrap();
/// assert_eq!(streamed, whole);
/// ```
pub struct GcodeStream<'a> {
    generator: Generator<'a, StreamSink<'a>>,
    layers: usize,
}

/// The writer of a streamed body, the estimator and any other consumer (the toolpath
/// the thumbnails are drawn from), fed the same events.
struct StreamSink<'a> {
    estimator: EstimatorSink<'a>,
    body: Option<Writer<'a, File>>,
    also: Option<&'a mut (dyn Sink + Send)>,
}

impl Sink for StreamSink<'_> {
    #[inline]
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError> {
        self.estimator.event(ev)?;
        if let Some(w) = &mut self.body {
            w.event(ev)?;
        }
        match &mut self.also {
            Some(s) => s.event(ev),
            None => Ok(()),
        }
    }
}

impl<'a> GcodeStream<'a> {
    /// Start the job. The body goes to `spill` (a temporary file: it is read back by
    /// [`Body::write_to`]); with no `spill` only the estimate is made. `also`, when
    /// given, receives every event the writer does.
    pub fn new(
        job: &'a GcodeJob,
        spill: Option<File>,
        also: Option<&'a mut (dyn Sink + Send)>,
    ) -> Result<Self, GcodeError> {
        let body = spill.map(|file| Writer::new(file, job, None));
        let sink = StreamSink {
            estimator: EstimatorSink::new(job),
            body,
            also,
        };
        Ok(GcodeStream {
            generator: Generator::new(job, sink)?,
            layers: 0,
        })
    }

    /// Write the next layer.
    pub fn layer(&mut self, plan: &LayerPlan) -> Result<(), GcodeError> {
        let _busy = timing::enter(timing::Stage::Write);
        self.layers += 1;
        self.generator.layer(plan)
    }

    /// End the job: its estimate, and the body (when there is one) ready to be written
    /// out.
    pub fn finish(self) -> Result<(Estimate, Option<Body>), GcodeError> {
        let _busy = timing::enter(timing::Stage::Write);
        let layers = self.layers;
        let sink = self.generator.finish()?;
        let estimate = sink.estimator.finish(layers);
        let body = match sink.body {
            Some(mut w) => {
                w.out.flush()?;
                Some(Body {
                    file: w.out.w,
                    marks: w.marks,
                    layers,
                    stats: w.out.stats,
                })
            }
            None => None,
        };
        Ok((estimate, body))
    }
}

/// The body of a streamed job, waiting for its header.
pub struct Body {
    file: File,
    marks: Vec<(u64, usize)>,
    layers: usize,
    stats: WriteStats,
}

impl Body {
    /// Write the whole G-code file to `w`: the header (with `estimate`'s figures and
    /// `job`'s header lines and thumbnails, which may have changed since the body was
    /// written), the body with its progress lines, the footer.
    pub fn write_to(
        mut self,
        w: &mut dyn Write,
        job: &GcodeJob,
        estimate: &Estimate,
    ) -> Result<WriteStats, GcodeError> {
        let _busy = timing::enter(timing::Stage::Write);
        let mut wr = Writer::new(w, job, Some(estimate));
        wr.header(self.layers, estimate)?;
        self.file.seek(SeekFrom::Start(0))?;
        let mut body = BufReader::with_capacity(COPY_BUFFER, &self.file);
        let mut at = 0u64;
        for &(offset, layer) in &self.marks {
            wr.copy(&mut body, offset - at)?;
            at = offset;
            let p = estimate.progress_at(estimate.elapsed_before(layer));
            wr.progress(p)?;
        }
        wr.copy(&mut body, self.stats.bytes - at)?;
        wr.footer(self.layers, estimate)?;
        wr.out.flush()?;
        wr.out.w.flush()?;
        let mut stats = wr.out.stats;
        stats.lines += self.stats.lines;
        stats.moves += self.stats.moves;
        Ok(stats)
    }
}

impl<'a, W: Write> Writer<'a, W> {
    fn new(w: W, job: &'a GcodeJob, estimate: Option<&'a Estimate>) -> Self {
        Writer {
            out: Out::new(w),
            job,
            estimate,
            e_abs: 0,
            layers_started: 0,
            last_progress: None,
            marks: Vec::new(),
            object: None,
        }
    }

    /// Klipper's name of model `o`: its name with anything but letters, digits, `.`,
    /// `-` and `_` replaced, and its number, so that names are unique.
    fn object_name(&self, o: usize) -> String {
        let name = self.job.models.get(o).map_or("model", String::as_str);
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{clean}_{o}")
    }

    /// `EXCLUDE_OBJECT_DEFINE` for every model with a known outline (Klipper).
    fn define_objects(&mut self) -> Result<(), GcodeError> {
        let f = |x: f64| super::number::fmt_f64(x, XYZ_DECIMALS);
        for (o, outline) in self.job.object_outlines.iter().enumerate() {
            if outline.is_empty() {
                continue;
            }
            let n = outline.len() as f64;
            let cx = outline.iter().map(|p| p[0]).sum::<f64>() / n;
            let cy = outline.iter().map(|p| p[1]).sum::<f64>() / n;
            let polygon: Vec<String> = outline
                .iter()
                .map(|p| format!("[{},{}]", f(p[0]), f(p[1])))
                .collect();
            let line = format!(
                "EXCLUDE_OBJECT_DEFINE NAME={} CENTER={},{} POLYGON=[{}]",
                self.object_name(o),
                f(cx),
                f(cy),
                polygon.join(",")
            );
            self.out.line(&line)?;
        }
        Ok(())
    }

    /// The paths that follow belong to model `o` (or to none): Klipper's
    /// `EXCLUDE_OBJECT_START`/`END` around each model's paths; other firmware has no
    /// such commands.
    fn object(&mut self, o: Option<usize>) -> Result<(), GcodeError> {
        if self.job.flavor != Flavor::Klipper || o == self.object {
            return Ok(());
        }
        if let Some(previous) = self.object.take() {
            let line = format!("EXCLUDE_OBJECT_END NAME={}", self.object_name(previous));
            self.out.line(&line)?;
        }
        if let Some(next) = o {
            let line = format!("EXCLUDE_OBJECT_START NAME={}", self.object_name(next));
            self.out.line(&line)?;
            self.object = Some(next);
        }
        Ok(())
    }

    /// Copy `n` bytes of a streamed body to the output.
    fn copy(&mut self, body: &mut impl Read, n: u64) -> Result<(), GcodeError> {
        self.out.flush()?;
        let copied = std::io::copy(&mut body.take(n), &mut self.out.w)?;
        if copied != n {
            return Err(GcodeError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the temporary G-code file is shorter than what was written to it",
            )));
        }
        self.out.stats.bytes += n;
        Ok(())
    }
    fn header(&mut self, layers: usize, e: &Estimate) -> Result<(), GcodeError> {
        let job = self.job;
        let date = job.timestamp.clone().unwrap_or_else(utc_now);
        self.out.line(&format!(
            "; generated by lamina {} on {}",
            job.version, date
        ))?;
        self.out.line(";")?;
        for t in &job.thumbnails {
            let n = thumbnail::write_block(&mut self.out.buf, t);
            self.out.stats.lines += n;
        }
        for m in &job.models {
            self.out.line(&format!("; model = {m}"))?;
        }
        for l in &job.extra_header {
            self.out.line(&format!("; {l}"))?;
        }
        self.out.line(&format!(
            "; flavor = {}",
            match job.flavor {
                Flavor::Marlin => "marlin",
                Flavor::Klipper => "klipper",
                Flavor::RepRapFirmware => "reprapfirmware",
            }
        ))?;
        self.out.line(&format!(
            "; estimated printing time (normal mode) = {}",
            format_duration(e.total_time)
        ))?;
        if let Some(first) = e.layer_times.first() {
            self.out.line(&format!(
                "; estimated first layer printing time (normal mode) = {}",
                format_duration(*first)
            ))?;
        }
        self.filament_lines(layers, e)?;
        self.out
            .line(&format!("; total toolchanges = {}", e.tool_changes))?;
        self.out.line(";")?;
        if job.flavor.has_progress() {
            let p = e.progress_at(0.0);
            self.progress(p)?;
        }
        if job.emit_machine_limits {
            match job.flavor {
                Flavor::Marlin => self.machine_limits()?,
                Flavor::Klipper => self.klipper_limits()?,
                Flavor::RepRapFirmware => self.reprap_limits()?,
            }
        }
        if job.flavor == Flavor::Klipper {
            self.define_objects()?;
        }
        Ok(())
    }

    fn filament_lines(&mut self, layers: usize, e: &Estimate) -> Result<(), GcodeError> {
        let tools = &e.tools;
        let list = |f: &dyn Fn(&super::estimate::ToolUsage) -> f64| {
            tools
                .iter()
                .map(|t| super::number::fmt_f64(f(t), HEADER_DECIMALS))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let fmt = |v: f64| super::number::fmt_f64(v, HEADER_DECIMALS);
        let lines = [
            format!("; filament used [mm] = {}", list(&|t| t.filament_mm)),
            format!(
                "; filament used [cm3] = {}",
                list(&|t| t.volume_mm3 / 1000.0)
            ),
            format!("; filament used [g] = {}", list(&|t| t.weight_g)),
            format!("; filament cost = {}", list(&|t| t.cost)),
            format!("; total filament used [g] = {}", fmt(e.total_weight_g())),
            format!("; total filament cost = {}", fmt(e.total_cost())),
            format!("; total layers count = {layers}"),
        ];
        for l in lines {
            self.out.line(&l)?;
        }
        Ok(())
    }

    fn machine_limits(&mut self) -> Result<(), GcodeError> {
        let m = self.job.machine;
        let axes = |v: [f64; 4]| {
            let mut b = Vec::new();
            for (l, x) in ["X", "Y", "Z", "E"].iter().zip(v) {
                b.extend_from_slice(b" ");
                b.extend_from_slice(l.as_bytes());
                push_f64(&mut b, x, XYZ_DECIMALS);
            }
            String::from_utf8_lossy(&b).into_owned()
        };
        let f = |x: f64| super::number::fmt_f64(x, XYZ_DECIMALS);
        self.out.line(&format!(
            "M201{} ; maximum accelerations, mm/s^2",
            axes(m.max_acceleration)
        ))?;
        self.out.line(&format!(
            "M203{} ; maximum feedrates, mm/s",
            axes(m.max_feedrate)
        ))?;
        self.out.line(&format!(
            "M204 P{} R{} T{} ; print, retract and travel acceleration, mm/s^2",
            f(m.acceleration),
            f(m.retract_acceleration),
            f(m.travel_acceleration)
        ))?;
        if m.junction_deviation > 0.0 {
            self.out.line(&format!(
                "M205 J{} ; junction deviation, mm",
                f(m.junction_deviation)
            ))?;
        } else {
            self.out
                .line(&format!("M205{} ; jerk limits, mm/s", axes(m.jerk)))?;
        }
        self.out.line(&format!(
            "M205 S{} T{} ; minimum extruding and travel feedrate, mm/s",
            f(m.minimum_feedrate),
            f(m.minimum_travel_feedrate)
        ))
    }

    /// Klipper's limits: one toolhead velocity and acceleration, its corner model.
    fn klipper_limits(&mut self) -> Result<(), GcodeError> {
        let m = self.job.machine;
        let k = m.klipper.unwrap_or_default();
        let f = |x: f64| super::number::fmt_f64(x, XYZ_DECIMALS);
        self.out.line(&format!(
            "SET_VELOCITY_LIMIT VELOCITY={} ACCEL={} SQUARE_CORNER_VELOCITY={} MINIMUM_CRUISE_RATIO={}",
            f(k.max_velocity),
            f(m.acceleration),
            f(k.square_corner_velocity),
            f(k.minimum_cruise_ratio)
        ))
    }

    /// RepRapFirmware's limits, in its units: accelerations in mm/s², feedrates and
    /// jerk in mm/min; jerk applied between any two moves (`P1`), as estimated.
    fn reprap_limits(&mut self) -> Result<(), GcodeError> {
        let m = self.job.machine;
        let axes = |v: [f64; 4], scale: f64| {
            ["X", "Y", "Z", "E"]
                .iter()
                .zip(v)
                .map(|(l, x)| format!(" {l}{}", super::number::fmt_f64(x * scale, XYZ_DECIMALS)))
                .collect::<String>()
        };
        let f = |x: f64| super::number::fmt_f64(x, XYZ_DECIMALS);
        self.out.line(&format!(
            "M201{} ; maximum accelerations, mm/s^2",
            axes(m.max_acceleration, 1.0)
        ))?;
        self.out.line(&format!(
            "M203{} ; maximum speeds, mm/min",
            axes(m.max_feedrate, SECONDS_PER_MINUTE)
        ))?;
        self.out.line(&format!(
            "M204 P{} T{} ; print and travel acceleration, mm/s^2",
            f(m.acceleration),
            f(m.travel_acceleration)
        ))?;
        self.out.line(&format!(
            "M566{} P1 ; maximum instantaneous speed changes, mm/min, between any moves",
            axes(m.jerk, SECONDS_PER_MINUTE)
        ))
    }

    fn footer(&mut self, layers: usize, e: &Estimate) -> Result<(), GcodeError> {
        if self.job.flavor.has_progress() {
            self.progress(Progress {
                percent: 100,
                minutes: 0,
            })?;
        }
        self.out.line("")?;
        self.filament_lines(layers, e)?;
        self.out.line(&format!(
            "; estimated printing time (normal mode) = {}",
            format_duration(e.total_time)
        ))?;
        self.out.line(";")?;
        self.out.line("; lamina_config = begin")?;
        for l in self.job.settings.lines() {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            let l = l.strip_prefix(';').map_or(l, str::trim_start);
            self.out.line(&format!("; {l}"))?;
        }
        self.out.line("; lamina_config = end")
    }

    fn progress(&mut self, p: Progress) -> Result<(), GcodeError> {
        if self.last_progress == Some(p) {
            return Ok(());
        }
        self.last_progress = Some(p);
        let b = &mut self.out.buf;
        b.extend_from_slice(b"M73 P");
        push_uint(b, u64::from(p.percent));
        b.extend_from_slice(b" R");
        push_uint(b, u64::from(p.minutes));
        self.out.end_line()
    }

    #[inline]
    fn write_move(&mut self, m: &Move) -> Result<(), GcodeError> {
        self.out.stats.moves += 1;
        let b = &mut self.out.buf;
        match m.kind {
            MoveKind::FirmwareRetract => b.extend_from_slice(b"G10"),
            MoveKind::FirmwareUnretract => b.extend_from_slice(b"G11"),
            _ => {
                b.extend_from_slice(b"G1");
                if m.axes & AXIS_X != 0 {
                    b.extend_from_slice(b" X");
                    push_fixed(b, m.x, XYZ_DECIMALS);
                }
                if m.axes & AXIS_Y != 0 {
                    b.extend_from_slice(b" Y");
                    push_fixed(b, m.y, XYZ_DECIMALS);
                }
                if m.axes & AXIS_Z != 0 {
                    b.extend_from_slice(b" Z");
                    push_fixed(b, m.z, XYZ_DECIMALS);
                }
                if m.axes & AXIS_E != 0 {
                    self.e_abs += m.e;
                    b.extend_from_slice(b" E");
                    let v = if self.job.relative_e { m.e } else { self.e_abs };
                    push_fixed(b, v, E_DECIMALS);
                }
                if m.axes & AXIS_F != 0 {
                    b.extend_from_slice(b" F");
                    push_uint(b, u64::from(m.feed));
                }
            }
        }
        self.out.end_line()
    }

    fn temperature(
        &mut self,
        tool: usize,
        celsius: f64,
        wait: bool,
        cooling: bool,
    ) -> Result<(), GcodeError> {
        let multi = self.job.tools.len() > 1;
        let b = &mut self.out.buf;
        match self.job.flavor {
            Flavor::RepRapFirmware => {
                b.extend_from_slice(b"G10 P");
                push_uint(b, tool as u64);
                b.extend_from_slice(b" S");
                push_f64(b, celsius, TEMPERATURE_DECIMALS);
                if wait {
                    self.out.end_line()?;
                    let b = &mut self.out.buf;
                    b.extend_from_slice(b"M116 P");
                    push_uint(b, tool as u64);
                }
            }
            flavor => {
                b.extend_from_slice(if wait { b"M109" } else { b"M104" });
                if multi {
                    b.extend_from_slice(b" T");
                    push_uint(b, tool as u64);
                }
                let r = wait && cooling && flavor == Flavor::Marlin;
                b.extend_from_slice(if r { b" R" } else { b" S" });
                push_f64(b, celsius, TEMPERATURE_DECIMALS);
            }
        }
        self.out.end_line()
    }

    fn firmware_retraction(&mut self, t: &ToolConfig) -> Result<(), GcodeError> {
        let r = t.retraction;
        let f = |x: f64| super::number::fmt_f64(x, XYZ_DECIMALS);
        let per_min = |x: f64| super::number::fmt_f64(x * 60.0, 0);
        let text = match self.job.flavor {
            Flavor::Marlin => format!(
                "M207 S{} F{} Z0 ; firmware retraction\nM208 S{} F{} ; firmware unretraction",
                f(r.length),
                per_min(r.speed),
                f(r.restart_extra),
                per_min(r.prime_speed())
            ),
            Flavor::Klipper => format!(
                "SET_RETRACTION RETRACT_LENGTH={} RETRACT_SPEED={} UNRETRACT_EXTRA_LENGTH={} UNRETRACT_SPEED={}",
                f(r.length),
                f(r.speed),
                f(r.restart_extra),
                f(r.prime_speed())
            ),
            Flavor::RepRapFirmware => format!(
                "M207 S{} R{} F{} T{} Z0 ; firmware retraction",
                f(r.length),
                f(r.restart_extra),
                per_min(r.speed),
                per_min(r.prime_speed())
            ),
        };
        self.out.text(&text)
    }
}

impl<W: Write> Sink for Writer<'_, W> {
    #[inline]
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError> {
        match ev {
            Event::Move(m) => self.write_move(&m),
            Event::Custom(text) => self.out.text(text),
            Event::Preamble => self.out.text(if self.job.relative_e {
                "G21 ; set units to millimeters\nG90 ; use absolute coordinates\nM83 ; use relative distances for extrusion"
            } else {
                "G21 ; set units to millimeters\nG90 ; use absolute coordinates\nM82 ; use absolute distances for extrusion"
            }),
            Event::FirmwareRetraction(t) => self.firmware_retraction(t),
            Event::Object(o) => self.object(o),
            Event::LayerStart(plan) => {
                let b = &mut self.out.buf;
                b.extend_from_slice(b";LAYER_CHANGE\n;Z:");
                push_f64(b, plan.z, XYZ_DECIMALS);
                b.extend_from_slice(b"\n;HEIGHT:");
                push_f64(b, plan.height, WIDTH_DECIMALS);
                self.out.stats.lines += 2;
                self.out.end_line()
            }
            Event::LayerReady(_) => {
                let i = self.layers_started;
                self.layers_started += 1;
                if self.job.flavor.has_progress() {
                    match self.estimate {
                        Some(e) => self.progress(e.progress_at(e.elapsed_before(i)))?,
                        None => self.marks.push((self.out.position(), i)),
                    }
                }
                Ok(())
            }
            Event::Role(r) => {
                self.out.buf.extend_from_slice(b";TYPE:");
                self.out.buf.extend_from_slice(r.gcode_name().as_bytes());
                self.out.end_line()
            }
            Event::Width(w) => {
                self.out.buf.extend_from_slice(b";WIDTH:");
                push_f64(&mut self.out.buf, w, WIDTH_DECIMALS);
                self.out.end_line()
            }
            Event::Height(h) => {
                self.out.buf.extend_from_slice(b";HEIGHT:");
                push_f64(&mut self.out.buf, h, WIDTH_DECIMALS);
                self.out.end_line()
            }
            Event::Fan(pct) => {
                if pct == 0 {
                    self.out.buf.extend_from_slice(b"M107");
                } else {
                    self.out.buf.extend_from_slice(b"M106 S");
                    let pwm = (u32::from(pct.min(100)) * FAN_MAX + 50) / 100;
                    push_uint(&mut self.out.buf, u64::from(pwm));
                }
                self.out.end_line()
            }
            Event::Temperature {
                tool,
                celsius,
                wait,
                cooling,
            } => self.temperature(tool, celsius, wait, cooling),
            Event::ToolChange { tool, write_t } => {
                if !write_t {
                    return Ok(());
                }
                self.out.buf.push(b'T');
                push_uint(&mut self.out.buf, tool as u64);
                self.out.end_line()
            }
            Event::ResetE => {
                self.e_abs = 0;
                self.out.line("G92 E0")
            }
            Event::End => Ok(()),
        }
    }
}

/// The current time as `YYYY-MM-DD at HH:MM:SS UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_timestamp(secs)
}

/// A Unix time as `YYYY-MM-DD at HH:MM:SS UTC`.
///
/// ```
/// assert_eq!(lamina::gcode::utc_timestamp(951_782_400), "2000-02-29 at 00:00:00 UTC");
/// assert_eq!(lamina::gcode::utc_timestamp(1_700_000_000), "2023-11-14 at 22:13:20 UTC");
/// ```
pub fn utc_timestamp(unix_seconds: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] at [hour]:[minute]:[second] UTC");
    i64::try_from(unix_seconds)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "an unknown date".to_string())
}
