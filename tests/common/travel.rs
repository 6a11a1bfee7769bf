//! Travel read back from the G-code: how far the nozzle moves without printing, how
//! far it prints, and how often it retracts.
#![allow(dead_code)]

/// Motion figures of a G-code file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Motion {
    /// XY length of moves that do not extrude, mm (wipes included).
    pub travel: f64,
    /// XY length of extruding moves, mm.
    pub extrusion: f64,
    /// Retractions: runs of moves that pull filament back (a wipe spread over several
    /// moves is one).
    pub retractions: usize,
    /// Filament fed on extruding moves, mm (not the restoring of a retraction, which
    /// moves no XY).
    pub filament: f64,
}

impl Motion {
    /// Travel per millimetre of extrusion.
    pub fn ratio(&self) -> f64 {
        if self.extrusion > 0.0 {
            self.travel / self.extrusion
        } else {
            0.0
        }
    }
}

/// Read `G0`/`G1` moves (absolute XY; absolute or relative E, `G92 E`) and sum them up.
/// Firmware retraction (`G10`) counts as a retraction too.
pub fn motion(text: &str) -> Motion {
    motion_by_tool(text)
        .into_iter()
        .fold(Motion::default(), |a, m| Motion {
            travel: a.travel + m.travel,
            extrusion: a.extrusion + m.extrusion,
            retractions: a.retractions + m.retractions,
            filament: a.filament + m.filament,
        })
}

/// What [`walk`] reads from a G-code file, line by line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    /// `T<n>`: the tool from here on.
    Tool(usize),
    /// `G10`: a firmware retraction.
    Retract,
    /// `G11`: the end of a firmware retraction.
    Unretract,
    /// A `G0`/`G1` move in XY (absolute) with the filament it feeds (negative when it
    /// pulls back; absolute or relative E, `G92 E`), at height `z`, in the role of the
    /// last `;TYPE:` comment.
    Move {
        role: &'a str,
        z: f64,
        from: (f64, f64),
        to: (f64, f64),
        de: f64,
    },
}

/// Read a G-code file's tool changes, firmware retractions and moves in order.
pub fn walk<'a>(text: &'a str, mut f: impl FnMut(Step<'a>)) {
    let (mut x, mut y, mut z, mut e) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut relative_e = false;
    let mut role = "";
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(t) = line.strip_prefix(";TYPE:") {
            role = t;
            continue;
        }
        let code = line.split(';').next().unwrap_or("").trim();
        let mut words = code.split_whitespace();
        let Some(cmd) = words.next() else { continue };
        let value = |w: &str| w[1..].parse::<f64>().ok();
        if let Some(t) = cmd.strip_prefix('T').and_then(|t| t.parse::<usize>().ok()) {
            f(Step::Tool(t));
            continue;
        }
        match cmd {
            "M83" => relative_e = true,
            "M82" => relative_e = false,
            "G92" => {
                for w in words {
                    if let (Some('E'), Some(v)) = (w.chars().next(), value(w)) {
                        e = v;
                    }
                }
            }
            "G10" => f(Step::Retract),
            "G11" => f(Step::Unretract),
            "G0" | "G1" => {
                let (mut nx, mut ny, mut de) = (x, y, 0.0);
                for w in words {
                    match (w.chars().next(), value(w)) {
                        (Some('X'), Some(v)) => nx = v,
                        (Some('Y'), Some(v)) => ny = v,
                        (Some('Z'), Some(v)) => z = v,
                        (Some('E'), Some(v)) => {
                            de = if relative_e { v } else { v - e };
                            e = if relative_e { e + v } else { v };
                        }
                        _ => {}
                    }
                }
                f(Step::Move {
                    role,
                    z,
                    from: (x, y),
                    to: (nx, ny),
                    de,
                });
                (x, y) = (nx, ny);
            }
            _ => {}
        }
    }
}

/// [`motion`] per tool (index = tool, selected by `T<n>` lines; tool 0 until one is).
pub fn motion_by_tool(text: &str) -> Vec<Motion> {
    let mut retracting = false;
    let mut tool = 0usize;
    let mut tools = vec![Motion::default()];
    walk(text, |step| match step {
        Step::Tool(t) => {
            tool = t;
            retracting = false;
            if tools.len() <= t {
                tools.resize(t + 1, Motion::default());
            }
        }
        Step::Retract => {
            if !retracting {
                tools[tool].retractions += 1;
            }
            retracting = true;
        }
        Step::Unretract => retracting = false,
        Step::Move { from, to, de, .. } => {
            let m = &mut tools[tool];
            let d = (to.0 - from.0).hypot(to.1 - from.1);
            if de > 1e-9 && d > 0.0 {
                m.extrusion += d;
                m.filament += de;
            } else {
                m.travel += d;
            }
            if de < -1e-9 {
                if !retracting {
                    m.retractions += 1;
                }
                retracting = true;
            } else if de > 1e-9 {
                retracting = false;
            }
        }
    });
    tools
}
