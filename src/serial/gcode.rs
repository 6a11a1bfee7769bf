//! G-code lines as the host protocol sees them: comments stripped, framing with a line
//! number and an XOR checksum, and which commands take a long time to answer.

use std::fmt::Write as _;

use crate::gcode::read::{self, Code, Command};

/// Strip a G-code line down to the command the printer must receive.
///
/// Removes `;` comments, parenthesised `( ... )` comments and surrounding whitespace.
/// Returns `None` when nothing is left (a blank or comment-only line), which is never
/// sent to the printer.
///
/// ```
/// use lamina::serial::gcode::clean_line;
/// assert_eq!(clean_line("G1 X10 Y5 ; move"), Some("G1 X10 Y5".to_string()));
/// assert_eq!(clean_line("  G1 (fast) X1  "), Some("G1 X1".to_string()));
/// assert_eq!(clean_line(";LAYER_CHANGE"), None);
/// assert_eq!(clean_line("   "), None);
/// ```
pub fn clean_line(raw: &str) -> Option<String> {
    let without_semicolon = match raw.find(';') {
        Some(i) => &raw[..i],
        None => raw,
    };
    let trimmed = without_semicolon.trim();
    if trimmed.is_empty() {
        return None;
    }
    if !trimmed.contains('(') && !trimmed.contains('*') {
        return Some(trimmed.to_string());
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut depth = 0usize;
    for c in trimmed.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            // A '*' would be taken for the start of a checksum by the firmware.
            '*' if depth == 0 => break,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let collapsed = collapse_spaces(&out);
    if collapsed.is_empty() {
        None
    } else {
        Some(collapsed)
    }
}

/// Collapse runs of whitespace left by removed comments into one space.
fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// XOR of every byte, the checksum Marlin expects after `*`.
///
/// ```
/// // The line OctoPrint and Printrun send to reset the line counter.
/// assert_eq!(lamina::serial::gcode::checksum(b"N0 M110 N0"), 125);
/// ```
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, b| acc ^ b)
}

/// Frame a command for the wire: `N<number> <command>*<checksum>\n`.
///
/// ```
/// assert_eq!(lamina::serial::gcode::frame(0, "M110 N0"), "N0 M110 N0*125\n");
/// ```
pub fn frame(number: u32, command: &str) -> String {
    let mut line = String::with_capacity(command.len() + 16);
    let _ = write!(line, "N{number} {command}");
    let sum = checksum(line.as_bytes());
    let _ = writeln!(line, "*{sum}");
    line
}

/// A cleaned line taken apart by lamina's G-code lexer ([`crate::gcode::read`]), if it
/// is a classic command (letter and number).
pub(crate) fn lexed(command: &str) -> Option<Command> {
    match read::lex(command.as_bytes()).code {
        Some(Code::Command(c)) => Some(c),
        _ => None,
    }
}

/// The command word of a cleaned line, upper-cased: `G1`, `M109`, `T0`...
///
/// ```
/// assert_eq!(lamina::serial::gcode::command_word("m109 S210"), Some("M109".to_string()));
/// assert_eq!(lamina::serial::gcode::command_word("G1X10"), Some("G1".to_string()));
/// ```
pub fn command_word(command: &str) -> Option<String> {
    let c = lexed(command)?;
    let letter = char::from(c.letter);
    Some(match c.code() {
        Some(n) => format!("{letter}{n}"),
        None => format!("{letter}{}", c.number),
    })
}

/// Commands that can keep the printer from answering for minutes: heating and waiting,
/// homing, probing, PID tuning, leveling, waiting for moves to finish.
pub const LONG_COMMANDS: &[&str] = &[
    "M109", "M190", "M191", "M303", "M400", "G28", "G29", "G34", "G35", "G76", "M48", "M600", "M0",
    "M1", "G4", "M226", "M116", "G12", "M701", "M702",
];

/// Whether a command can take minutes before its `ok` (see [`LONG_COMMANDS`]).
///
/// ```
/// assert!(lamina::serial::gcode::is_long_command("M109 S215"));
/// assert!(lamina::serial::gcode::is_long_command("G28 X Y"));
/// assert!(!lamina::serial::gcode::is_long_command("G1 X10"));
/// ```
pub fn is_long_command(command: &str) -> bool {
    match command_word(command) {
        Some(word) => LONG_COMMANDS.contains(&word.as_str()),
        None => false,
    }
}

/// The value of parameter `letter` in a cleaned command (`S` of `M104 S210`), when it
/// is a usable number.
///
/// ```
/// assert_eq!(lamina::serial::gcode::param("M104 S210 T1", 'S'), Some(210.0));
/// assert_eq!(lamina::serial::gcode::param("G1X10.5Y3", 'X'), Some(10.5));
/// assert_eq!(lamina::serial::gcode::param("G1 X10", 'Z'), None);
/// ```
pub fn param(command: &str, letter: char) -> Option<f64> {
    let letter = u8::try_from(letter.to_ascii_uppercase()).ok()?;
    lexed(command)?.words.get(letter)
}

/// Whether parameter `letter` appears in the command at all (`X` in `G28 X Y`).
pub fn has_param(command: &str, letter: char) -> bool {
    let Ok(letter) = u8::try_from(letter.to_ascii_uppercase()) else {
        return false;
    };
    lexed(command).is_some_and(|c| c.words.has(letter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_known_marlin_lines() {
        // XOR of "N1 G28" computed by hand: N^1^' '^G^2^8.
        let expected = b"N1 G28".iter().fold(0u8, |a, b| a ^ b);
        assert_eq!(frame(1, "G28"), format!("N1 G28*{expected}\n"));
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(b"A"), b'A');
    }

    #[test]
    fn comments_and_blanks_are_stripped() {
        assert_eq!(clean_line(""), None);
        assert_eq!(clean_line("; estimated printing time = 1h"), None);
        assert_eq!(clean_line("(only a comment)"), None);
        assert_eq!(clean_line("\tM104 S200\r"), Some("M104 S200".into()));
        assert_eq!(clean_line("G1 (a) X1 (b) Y2 ; c"), Some("G1 X1 Y2".into()));
        assert_eq!(clean_line("M117 hi*5"), Some("M117 hi".into()));
    }

    #[test]
    fn command_words_normalise() {
        assert_eq!(command_word("G01 X1"), Some("G1".into()));
        assert_eq!(command_word("G0 X1"), Some("G0".into()));
        assert_eq!(command_word("T1"), Some("T1".into()));
        assert_eq!(command_word("G29.1"), Some("G29.1".into()));
        assert_eq!(command_word("123"), None);
    }

    #[test]
    fn params_read_signed_values() {
        assert_eq!(param("G92 E-1.5", 'E'), Some(-1.5));
        assert_eq!(param("M106 S255", 's'), Some(255.0));
        assert!(has_param("G28 X Y", 'Y'));
        assert!(!has_param("G28 X", 'Y'));
    }
}
