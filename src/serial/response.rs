//! What a Marlin printer says, one line at a time: acknowledgements, resend requests,
//! busy and wait notices, errors, temperatures and capability reports.

use serde::Serialize;

/// One line received from the printer, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `ok`, possibly with a temperature report (`ok T:...`, the answer to `M105`) or
    /// Marlin's advanced fields (`ok N12 P15 B3`).
    Ok(OkReply),
    /// `Resend: N` or `rs N`: the printer wants every line from `N` again.
    Resend(u32),
    /// `echo:busy: processing` and friends: a long command is still running.
    Busy(String),
    /// `wait`: the printer's queue is empty and it is waiting for commands.
    Wait,
    /// `start`: the board has just reset.
    Start,
    /// An `Error:` line about a checksum or a line number, whatever its wording: the
    /// resend request that follows repairs it.
    LineError(String),
    /// The printer halted (`kill()`, `Printer halted`, `!!`, a stop awaiting `M999`):
    /// the job cannot go on.
    FatalError(String),
    /// Any other `Error:` line: the printer goes on (a refused command, a warning).
    Warning(String),
    /// A temperature report on its own (autoreport or a late `M105` answer).
    Temperature(Temperatures),
    /// The answer to `M114`: where the printer's moves so far end.
    Position(Position),
    /// `FIRMWARE_NAME:...` from `M115`.
    FirmwareName(FirmwareLine),
    /// `Cap:NAME:0|1` from `M115`.
    Capability(String, bool),
    /// `echo:` and anything else, kept for the log.
    Other(String),
}

/// The fields of an `ok` line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OkReply {
    /// Temperatures carried by the `ok` (the answer to `M105`).
    pub temperatures: Option<Temperatures>,
    /// Advanced ok: the line number of the command acknowledged.
    pub line: Option<u32>,
    /// Advanced ok: free planner blocks.
    pub planner_free: Option<u32>,
    /// Advanced ok: free slots in the command buffer.
    pub buffer_free: Option<u32>,
    /// A position carried by the `ok` (`ok X:10.00 Y:20.00 ...`, the answer to `M114`
    /// of a firmware that writes its ok first).
    pub position: Option<Position>,
}

/// A position report (`X:10.00 Y:20.00 Z:0.30 E:1.50 Count X:800 ...`): the logical
/// coordinates, those missing left out.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Position {
    /// X, Y, Z and E in millimetres.
    pub axes: [Option<f64>; 4],
}

/// Parse an `M114` answer; `None` unless it gives X and Y. Stepper counts that follow
/// (`Count X:800`) are not coordinates and are left out.
///
/// ```
/// let p = lamina::serial::response::parse_position(
///     "X:10.00 Y:20.00 Z:0.30 E:1.50 Count X:800 Y:1600 Z:120").unwrap();
/// assert_eq!(p.axes, [Some(10.0), Some(20.0), Some(0.3), Some(1.5)]);
/// ```
pub fn parse_position(s: &str) -> Option<Position> {
    let mut p = Position::default();
    for word in s.split_whitespace() {
        if word.starts_with("Count") {
            break;
        }
        let Some((key, value)) = word.split_once(':') else {
            continue;
        };
        let slot = match key {
            "X" => 0,
            "Y" => 1,
            "Z" => 2,
            "E" => 3,
            _ => continue,
        };
        if p.axes[slot].is_none() {
            p.axes[slot] = value.parse().ok();
        }
    }
    (p.axes[0].is_some() && p.axes[1].is_some()).then_some(p)
}

/// The first line of an `M115` answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct FirmwareLine {
    /// `Marlin 2.1.2.1 (Github)`.
    pub name: String,
    /// `MACHINE_TYPE`, when reported.
    pub machine: Option<String>,
    /// `EXTRUDER_COUNT`, when reported.
    pub extruders: Option<u32>,
}

/// One heater: current and target temperature in °C.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Heater {
    /// Measured temperature.
    pub actual: f64,
    /// Target (0 = off).
    pub target: f64,
}

/// A temperature report such as `T:210.0 /210.0 B:60.0 /60.0 T0:210.0 /210.0 @:64 B@:0`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Temperatures {
    /// Hotends: `T0`, `T1`... (a lone `T` is the active hotend, stored as tool 0 when
    /// no numbered one is given).
    pub tools: Vec<Heater>,
    /// `B:` the bed.
    pub bed: Option<Heater>,
    /// `C:` the chamber.
    pub chamber: Option<Heater>,
}

impl Temperatures {
    /// A one-line summary for the progress display: `T 209/210 B 60/60`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (i, t) in self.tools.iter().enumerate() {
            let name = if self.tools.len() > 1 {
                format!("T{i}")
            } else {
                "T".to_string()
            };
            parts.push(format!("{name} {:.0}/{:.0}", t.actual, t.target));
        }
        if let Some(b) = self.bed {
            parts.push(format!("B {:.0}/{:.0}", b.actual, b.target));
        }
        if let Some(c) = self.chamber {
            parts.push(format!("C {:.0}/{:.0}", c.actual, c.target));
        }
        parts.join(" ")
    }
}

/// Words of an error about the line itself, as Marlin, Prusa-Firmware, RepRapFirmware
/// and OctoPrint's virtual printer put it (`checksum mismatch`, `Missing checksum`,
/// `Line Number is not Last Line Number+1`, `expected line 110 got 111`, `Last Line:`):
/// the firmware asks for the line again.
const LINE_ERROR_WORDS: &[&str] = &["checksum", "line number", "expected line", "last line"];

/// Words of a printer that halted: Marlin's `kill()` and `Printer halted`, its stop
/// awaiting `M999`, heater faults that always end in one of those (`system stopped!`),
/// and emergency stops.
const HALT_WORDS: &[&str] = &[
    "kill()",
    "printer halted",
    "system stopped",
    "stopped due to errors",
    "m999",
    "emergency shutdown",
    "emergency stop",
];

/// Classify one line received from the printer (without its line ending).
///
/// ```
/// use lamina::serial::response::{parse, Response};
/// assert_eq!(parse("Resend: 42"), Response::Resend(42));
/// assert!(matches!(parse("Error:Thermal Runaway, system stopped! Heater_ID: 0"),
///                  Response::FatalError(_)));
/// assert!(matches!(parse("Error:checksum mismatch, Last Line: 41"), Response::LineError(_)));
/// ```
pub fn parse(line: &str) -> Response {
    let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let lower = line.to_ascii_lowercase();
    if lower == "ok" || lower.starts_with("ok ") || lower.starts_with("ok:") {
        return Response::Ok(parse_ok(&line[2..]));
    }
    if let Some(rest) = strip_prefix_ci(line, "resend:").or_else(|| strip_prefix_ci(line, "rs ")) {
        if let Some(n) = first_number(rest) {
            return Response::Resend(n);
        }
    }
    if lower.starts_with("rs:") {
        if let Some(n) = first_number(&line[3..]) {
            return Response::Resend(n);
        }
    }
    if let Some(rest) = strip_prefix_ci(line, "!!") {
        // Klipper and RepRap's halt marker.
        return Response::FatalError(rest.trim().to_string());
    }
    if let Some(rest) = strip_prefix_ci(line, "error:") {
        return classify_error(rest.trim());
    }
    if is_halt(&lower) {
        // A halt whose `Error:` prefix was garbled on the way.
        return Response::FatalError(line.to_string());
    }
    let echo_stripped = strip_prefix_ci(line, "echo:").unwrap_or(line).trim_start();
    if echo_stripped.to_ascii_lowercase().starts_with("busy:") {
        return Response::Busy(echo_stripped.to_string());
    }
    if lower == "wait" {
        return Response::Wait;
    }
    if is_start(line) {
        return Response::Start;
    }
    if let Some(rest) = line.strip_prefix("FIRMWARE_NAME:") {
        return Response::FirmwareName(parse_firmware(rest));
    }
    if let Some(rest) = line.strip_prefix("Cap:") {
        let mut parts = rest.rsplitn(2, ':');
        let value = parts.next().unwrap_or("");
        let name = parts.next().unwrap_or("");
        if !name.is_empty() {
            return Response::Capability(name.to_string(), value.trim() == "1");
        }
    }
    if looks_like_temperatures(line) {
        if let Some(t) = parse_temperatures(line) {
            return Response::Temperature(t);
        }
    }
    if line.starts_with("X:") {
        if let Some(p) = parse_position(line) {
            return Response::Position(p);
        }
    }
    Response::Other(line.to_string())
}

/// Whether a line is the reset banner `start`, ignoring the noise bytes a board often
/// sends while it boots.
///
/// ```
/// assert!(lamina::serial::response::is_start("\u{0}\u{ff}start"));
/// assert!(!lamina::serial::response::is_start("echo:start SD print"));
/// ```
pub fn is_start(line: &str) -> bool {
    let visible: String = line.chars().filter(|c| c.is_ascii_graphic()).collect();
    visible.eq_ignore_ascii_case("start")
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) {
        let (head, tail) = s.split_at(prefix.len());
        if head.eq_ignore_ascii_case(prefix) {
            return Some(tail);
        }
    }
    None
}

fn first_number(s: &str) -> Option<u32> {
    let digits: String = s
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn is_halt(lower: &str) -> bool {
    HALT_WORDS.iter().any(|w| lower.contains(w))
}

fn classify_error(text: &str) -> Response {
    let lower = text.to_ascii_lowercase();
    if is_halt(&lower) {
        return Response::FatalError(text.to_string());
    }
    if LINE_ERROR_WORDS.iter().any(|e| lower.contains(e)) {
        return Response::LineError(text.to_string());
    }
    Response::Warning(text.to_string())
}

/// Whether a line error is about the line's number (a line out of sequence, which a
/// line sent before a rewind also gets) rather than its checksum (a line refused as it
/// arrived).
///
/// ```
/// use lamina::serial::response::is_line_number_error;
/// assert!(is_line_number_error("Line Number is not Last Line Number+1, Last Line: 9"));
/// assert!(is_line_number_error("expected line 110 got 111"));
/// assert!(!is_line_number_error("checksum mismatch, Last Line: 9"));
/// assert!(!is_line_number_error("No Line Number with checksum, Last Line: 9"));
/// ```
pub fn is_line_number_error(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    !lower.contains("checksum")
        && (lower.contains("line number") || lower.contains("expected line"))
}

/// Whether a temperature line is one a printer writes while `M109`/`M190` wait (it
/// carries Marlin's `W:` field): the printer is at work, not silent.
///
/// ```
/// use lamina::serial::response::is_heating_report;
/// assert!(is_heating_report("T:150.2 /210.0 B:60.0 /60.0 @:127 B@:0 W:?"));
/// assert!(!is_heating_report(" T:210.0 /210.0 B:60.0 /60.0 @:64 B@:0"));
/// ```
pub fn is_heating_report(line: &str) -> bool {
    line.split_whitespace().any(|w| w.starts_with("W:"))
}

fn parse_ok(rest: &str) -> OkReply {
    let rest = rest.trim_start_matches(':').trim();
    let mut reply = OkReply::default();
    if rest.is_empty() {
        return reply;
    }
    if looks_like_temperatures(rest) {
        reply.temperatures = parse_temperatures(rest);
        return reply;
    }
    if rest.starts_with("X:") {
        reply.position = parse_position(rest);
        return reply;
    }
    for word in rest.split_whitespace() {
        let (key, value) = word.split_at(1);
        let value: Option<u32> = value.parse().ok();
        match key {
            "N" => reply.line = value,
            "P" => reply.planner_free = value,
            "B" => reply.buffer_free = value,
            _ => {}
        }
    }
    reply
}

fn looks_like_temperatures(s: &str) -> bool {
    let s = s.trim_start();
    (s.starts_with("T:") || s.starts_with("T0:") || s.starts_with("B:") || s.contains(" T:"))
        && s.contains('/')
}

/// Parse a temperature report. Returns `None` when no heater could be read.
///
/// ```
/// let t = lamina::serial::response::parse_temperatures(
///     "T:209.8 /210.0 B:59.9 /60.0 @:64 B@:0").unwrap();
/// assert_eq!(t.tools[0].target, 210.0);
/// assert_eq!(t.bed.unwrap().actual, 59.9);
/// ```
pub fn parse_temperatures(s: &str) -> Option<Temperatures> {
    let mut lone_tool: Option<Heater> = None;
    let mut numbered: Vec<(usize, Heater)> = Vec::new();
    let mut bed = None;
    let mut chamber = None;
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let Some((key, value)) = word.split_once(':') else {
            i += 1;
            continue;
        };
        // The target follows a slash: "T:209.8 /210.0" (Marlin), "T:209.8/210.0",
        // "T:209.8/ 210.0" (OctoPrint's virtual printer) or "T:209.8 / 210.0".
        let (value, mut target_text) = match value.split_once('/') {
            Some((a, t)) => (a, Some(t)),
            None => (value, None),
        };
        let actual: Option<f64> = value.trim().parse().ok();
        i += 1;
        if target_text.is_none() {
            if let Some(t) = words.get(i).and_then(|w| w.strip_prefix('/')) {
                target_text = Some(t);
                i += 1;
            }
        }
        if target_text == Some("") {
            target_text = words.get(i).copied();
            if target_text.is_some_and(|t| t.parse::<f64>().is_ok()) {
                i += 1;
            }
        }
        let target: Option<f64> = target_text.and_then(|t| t.parse().ok());
        let Some(actual) = actual else { continue };
        let heater = Heater {
            actual,
            target: target.unwrap_or(0.0),
        };
        match key {
            "T" => lone_tool = Some(heater),
            "B" => bed = Some(heater),
            "C" => chamber = Some(heater),
            _ => {
                if let Some(n) = key.strip_prefix('T').and_then(|n| n.parse::<usize>().ok()) {
                    numbered.push((n, heater));
                }
            }
        }
    }
    let tools: Vec<Heater> = if numbered.is_empty() {
        lone_tool.into_iter().collect()
    } else {
        numbered.sort_by_key(|(n, _)| *n);
        numbered.into_iter().map(|(_, h)| h).collect()
    };
    if tools.is_empty() && bed.is_none() && chamber.is_none() {
        return None;
    }
    Some(Temperatures {
        tools,
        bed,
        chamber,
    })
}

fn parse_firmware(rest: &str) -> FirmwareLine {
    // Keys are upper-case words followed by ':'; values may contain spaces.
    const KEYS: &[&str] = &[
        " SOURCE_CODE_URL:",
        " PROTOCOL_VERSION:",
        " MACHINE_TYPE:",
        " EXTRUDER_COUNT:",
        " UUID:",
        " KINEMATICS:",
    ];
    let cut = |s: &str| -> String {
        let end = KEYS
            .iter()
            .filter_map(|k| s.find(k))
            .min()
            .unwrap_or(s.len());
        s[..end].trim().to_string()
    };
    let field =
        |key: &str| -> Option<String> { rest.find(key).map(|i| cut(&rest[i + key.len()..])) };
    FirmwareLine {
        name: cut(rest),
        machine: field(" MACHINE_TYPE:"),
        extruders: field(" EXTRUDER_COUNT:").and_then(|s| s.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_variants() {
        assert_eq!(parse("ok"), Response::Ok(OkReply::default()));
        let Response::Ok(adv) = parse("ok N123 P15 B3") else {
            panic!("not an ok")
        };
        assert_eq!(adv.line, Some(123));
        assert_eq!(adv.planner_free, Some(15));
        assert_eq!(adv.buffer_free, Some(3));
        let Response::Ok(temp) = parse("ok T:210.00 /210.00 B:60.00 /60.00 @:0 B@:0") else {
            panic!("not an ok")
        };
        let t = temp.temperatures.expect("temperatures");
        assert_eq!(
            t.tools,
            vec![Heater {
                actual: 210.0,
                target: 210.0
            }]
        );
        assert_eq!(
            t.bed,
            Some(Heater {
                actual: 60.0,
                target: 60.0
            })
        );
    }

    #[test]
    fn resend_forms() {
        assert_eq!(parse("Resend: 7"), Response::Resend(7));
        assert_eq!(parse("Resend:7"), Response::Resend(7));
        assert_eq!(parse("rs N7"), Response::Resend(7));
        assert_eq!(parse("rs 7"), Response::Resend(7));
    }

    #[test]
    fn errors_are_classified() {
        for fatal in [
            "Error:Printer halted. kill() called!",
            "Error:Thermal Runaway, system stopped! Heater_ID: bed",
            "Error:MINTEMP triggered, system stopped! Heater_ID: 0",
            "Error:MAXTEMP triggered, system stopped! Heater_ID: 0",
            "Error:Heating failed, system stopped! Heater_ID: 0",
            "Error:Printer stopped due to errors. Fix the error and use M999 to restart.",
        ] {
            assert!(matches!(parse(fatal), Response::FatalError(_)), "{fatal}");
        }
        for recoverable in [
            "Error:checksum mismatch, Last Line: 9",
            "Error:Line Number is not Last Line Number+1, Last Line: 9",
            "Error:No Checksum with line number, Last Line: 9",
        ] {
            assert!(
                matches!(parse(recoverable), Response::LineError(_)),
                "{recoverable}"
            );
        }
    }

    #[test]
    fn busy_wait_start() {
        assert!(matches!(parse("echo:busy: processing"), Response::Busy(_)));
        assert!(matches!(parse("busy: paused for user"), Response::Busy(_)));
        assert_eq!(parse("wait"), Response::Wait);
        assert_eq!(parse("start"), Response::Start);
        assert!(matches!(
            parse("echo:Unknown command: \"X\""),
            Response::Other(_)
        ));
    }

    #[test]
    fn multi_tool_temperatures() {
        let t = parse_temperatures("T:200.0 /205.0 B:55.5 /60.0 T0:200.0 /205.0 T1:150.0 /0.0 @:0")
            .expect("parsed");
        assert_eq!(t.tools.len(), 2);
        assert_eq!(
            t.tools[1],
            Heater {
                actual: 150.0,
                target: 0.0
            }
        );
        assert_eq!(
            t.bed,
            Some(Heater {
                actual: 55.5,
                target: 60.0
            })
        );
        assert!(matches!(
            parse("T:21.3 /0.0 B:20.9 /0.0 @:0 B@:0"),
            Response::Temperature(_)
        ));
    }

    #[test]
    fn temperature_targets_however_spaced() {
        for line in [
            "T:209.8 /210.0 B:59.9 /60.0 @:64",
            "T:209.8/210.0 B:59.9/60.0 @:64",
            "T:209.8/ 210.0 B:59.9/ 60.0 @:64",
            "T:209.8 / 210.0 B:59.9 / 60.0 @:64",
        ] {
            let t = parse_temperatures(line).expect(line);
            assert_eq!(
                t.tools,
                [Heater {
                    actual: 209.8,
                    target: 210.0
                }],
                "{line}"
            );
            assert_eq!(
                t.bed,
                Some(Heater {
                    actual: 59.9,
                    target: 60.0
                }),
                "{line}"
            );
        }
        // OctoPrint's virtual printer answers M105 so: an ok that closes the lines
        // before its M105.
        let Response::Ok(reply) = parse("ok T:21.30/ 0.00 B:32.72/ 60.00 @:64") else {
            panic!("not an ok");
        };
        assert!(reply.temperatures.is_some());
    }

    #[test]
    fn position_reports() {
        let Response::Position(p) = parse("X:10.00 Y:20.00 Z:0.30 E:0.00 Count X:800 Y:1600 Z:120")
        else {
            panic!("not a position");
        };
        assert_eq!(p.axes, [Some(10.0), Some(20.0), Some(0.3), Some(0.0)]);
        // OctoPrint's virtual printer: the ok first, then its own counts.
        let Response::Ok(reply) =
            parse("ok X:102.323 Y:81.309 Z:0.2 E:3.17893 Count: A:10232 B:8130 C:20")
        else {
            panic!("not an ok");
        };
        assert_eq!(
            reply.position.map(|p| p.axes),
            Some([Some(102.323), Some(81.309), Some(0.2), Some(3.17893)])
        );
        assert!(matches!(parse("X:1 Z:2"), Response::Other(_)));
    }

    #[test]
    fn m115_reply() {
        let Response::FirmwareName(f) = parse(
            "FIRMWARE_NAME:Marlin 2.1.2.1 (Github) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin \
             PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 V2 EXTRUDER_COUNT:1 UUID:cede2a2f",
        ) else {
            panic!("not a firmware line")
        };
        assert_eq!(f.name, "Marlin 2.1.2.1 (Github)");
        assert_eq!(f.machine.as_deref(), Some("Ender-3 V2"));
        assert_eq!(f.extruders, Some(1));
        assert_eq!(
            parse("Cap:AUTOREPORT_TEMP:1"),
            Response::Capability("AUTOREPORT_TEMP".into(), true)
        );
        assert_eq!(
            parse("Cap:EMERGENCY_PARSER:0"),
            Response::Capability("EMERGENCY_PARSER".into(), false)
        );
    }
}
