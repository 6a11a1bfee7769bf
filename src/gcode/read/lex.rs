//! One G-code line taken apart: its command (`G1`, `M104`, `T1`, Klipper's
//! `SET_RETRACTION ...`), the value of each parameter letter, and its comment.
//!
//! The rules are the firmware's: a `;` starts a comment, `( ... )` is a comment inside
//! the code, `*` starts a checksum, `N<n>` first is a line number, letters are read in
//! either case, a parameter is a letter followed at once by its number (`X10`,
//! `E-.5`; `E` is never an exponent), and words may be packed without spaces
//! (`G1X1Y2E.3`). A parameter that is not a usable number (`X`, `Xabc`, `X1e999`
//! read as `X1` then `E999`, or beyond [`MAX_VALUE`]) is present but has no value.

/// Parameter values beyond this magnitude are not believed, whatever the unit (mm,
/// mm/min, °C, ms): no printer moves a billion millimetres, so such a value comes from
/// a corrupt line, and following it would only carry the corruption into the readers'
/// sums.
pub const MAX_VALUE: f64 = 1e9;

/// Tool numbers from this on are not believed (a corrupt line must not make a reader
/// keep state for billions of tools): the estimator and the preview skip such lines and
/// `lamina stream` refuses a file holding one. No printer has nearly this many tools.
pub const MAX_TOOLS: usize = 256;

/// Powers of ten exactly representable in an f64.
const EXACT_POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];
/// Most significant digits summed exactly in an f64 integer.
const EXACT_DIGITS: u32 = 15;

/// Letters of the alphabet: one parameter slot each.
const LETTERS: usize = 26;

/// `M` commands whose parameters are all numbers that lamina's readers take (progress,
/// temperatures, fan, limits, firmware retraction): a value there that is no number is
/// a corrupt line. Other `M` commands may carry text (`M117 banana`).
pub const NUMERIC_M_CODES: [u32; 17] = [
    73, 82, 83, 104, 106, 107, 109, 116, 140, 141, 190, 191, 201, 203, 204, 205, 566,
];

/// What firmware's number parsers (`strtod`) read as infinite or not a number, longest
/// first: such a value right after a letter is taken whole, as the letter's value.
const NON_FINITE_WORDS: [&[u8]; 3] = [b"infinity", b"inf", b"nan"];

/// A decimal number (`-12.345`, `+.5`, `7.`), the whole of `b`. Up to 15 digits the
/// result is the correctly rounded value (an exact integer divided by an exact power of
/// ten), the same as `str::parse`, which handles anything longer.
///
/// ```
/// use lamina::gcode::read::parse_number;
/// assert_eq!(parse_number(b"-0.8"), Some(-0.8));
/// assert_eq!(parse_number(b"1.2.3"), None);
/// ```
pub fn parse_number(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut int: u64 = 0;
    let mut count = 0u32;
    let mut frac = 0usize;
    let mut dot = false;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                int = int * 10 + u64::from(c - b'0');
                count += 1;
                if dot {
                    frac += 1;
                }
                if count > EXACT_DIGITS {
                    return std::str::from_utf8(b).ok()?.parse().ok();
                }
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    let v = int as f64 / EXACT_POW10[frac];
    Some(if neg { -v } else { v })
}

/// The length of the number that starts `b` (sign, digits and points), 0 if none.
fn number_len(b: &[u8]) -> usize {
    b.iter()
        .position(|c| !matches!(c, b'0'..=b'9' | b'.' | b'-' | b'+'))
        .unwrap_or(b.len())
}

/// The first number in `text` (`0.2` of `Z:0.2`, `2.85` of ` = 2.85`), if any.
pub fn first_number(text: &[u8]) -> Option<f64> {
    let start = text
        .iter()
        .position(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.'))?;
    let rest = &text[start..];
    let n = number_len(rest);
    parse_number(&rest[..n]).filter(|v| v.is_finite())
}

/// Every number in `text` (`0x0,250x0,250x210` gives six), in order.
pub fn numbers(text: &[u8]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() || matches!(text[i], b'-' | b'.') {
            let n = number_len(&text[i..]);
            match parse_number(&text[i..i + n]) {
                Some(v) if v.is_finite() => {
                    out.push(v);
                    i += n;
                }
                _ => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The parameters of one command: a value per letter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Words {
    /// The value of each letter as written (NaN when present without a number).
    value: [f64; LETTERS],
    /// Bit `i` set when letter `A + i` is present.
    present: u32,
    /// Bit `i` set when letter `A + i` is written with a value that is no usable number
    /// (`nan`, `inf`, `1.2.3`, beyond [`MAX_VALUE`]).
    unusable: u32,
}

impl Default for Words {
    fn default() -> Self {
        Words {
            value: [f64::NAN; LETTERS],
            present: 0,
            unusable: 0,
        }
    }
}

impl Words {
    /// Letter `letter` (upper case) with value `v` (NaN: no number); `written`: a value
    /// was written after it (`X`, alone, has none).
    #[inline]
    fn set(&mut self, letter: u8, v: f64, written: bool) {
        let i = usize::from(letter - b'A');
        self.value[i] = v;
        self.present |= 1 << i;
        let usable = v.abs() <= MAX_VALUE;
        if written && !usable {
            self.unusable |= 1 << i;
        } else {
            self.unusable &= !(1 << i);
        }
    }

    /// The first letter (alphabetically) written with a value that is no usable number:
    /// `nan`, `inf`, `1.2.3`, or beyond [`MAX_VALUE`].
    #[inline]
    pub fn unusable(&self) -> Option<u8> {
        (self.unusable != 0).then(|| b'A' + self.unusable.trailing_zeros() as u8)
    }

    /// The letter's value as written, however large (NaN when it has no number).
    #[inline]
    fn raw(&self, letter: u8) -> Option<f64> {
        self.has(letter)
            .then(|| self.value[usize::from(letter - b'A')])
    }

    /// Whether the letter (upper case) appears, with or without a value (`X` of
    /// `G28 X`).
    #[inline]
    pub fn has(&self, letter: u8) -> bool {
        letter.is_ascii_uppercase() && self.present & (1 << (letter - b'A')) != 0
    }

    /// Whether no letter appears at all (`G10` alone, a firmware retraction).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.present == 0
    }

    /// The letter's value when present and a usable number: finite and within
    /// [`MAX_VALUE`].
    #[inline]
    pub fn get(&self, letter: u8) -> Option<f64> {
        self.raw(letter).filter(|v| v.abs() <= MAX_VALUE)
    }
}

/// A classic command: its letter, number and parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Command {
    /// `G`, `M`, `T` (upper case; other letters occur in odd files).
    pub letter: u8,
    /// The number after the letter (`1` of `G1`, `29.1` of `G29.1`).
    pub number: f64,
    /// The parameters.
    pub words: Words,
    /// Whether the number is followed by something other than a space, a letter or
    /// the end (`G1:`, `M1O4`): text that only starts like a command.
    pub ragged: bool,
}

impl Command {
    /// The command's number when it is a whole number (`G1`, `M104`, `T3`), which is
    /// how firmware dispatches; `None` for `G29.1` and negative numbers.
    pub fn code(&self) -> Option<u32> {
        (self.number >= 0.0 && self.number.fract() == 0.0 && self.number <= f64::from(u32::MAX))
            .then_some(self.number as u32)
    }

    /// Whether this is `letter` `n` (`is(b'G', 1)`).
    pub fn is(&self, letter: u8, n: u32) -> bool {
        self.letter == letter && self.code() == Some(n)
    }

    /// The tool number this command names beyond [`MAX_TOOLS`] (`T<n>`, or the `T` or
    /// `P` of a temperature command: `M104`, `M109`, `M116`, RepRapFirmware's `G10`);
    /// `None` when it names none or a real one.
    ///
    /// ```
    /// use lamina::gcode::read::{lex, Code};
    /// let tool = |l: &str| match lex(l.as_bytes()).code {
    ///     Some(Code::Command(c)) => c.absurd_tool(),
    ///     _ => None,
    /// };
    /// assert_eq!(tool("M104 T4000000000 S200"), Some(4e9));
    /// assert_eq!(tool("M104 T1 S200"), None);
    /// assert_eq!(tool("T300"), Some(300.0));
    /// ```
    pub fn absurd_tool(&self) -> Option<f64> {
        let named = match (self.letter, self.code()) {
            (b'T', _) => Some(self.number),
            (b'M', Some(104 | 109 | 116)) | (b'G', Some(10)) => {
                self.words.raw(b'T').or_else(|| self.words.raw(b'P'))
            }
            _ => None,
        };
        named.filter(|t| *t >= MAX_TOOLS as f64)
    }

    /// The first parameter written with a value that is no usable number (`G1 Xnan`,
    /// `M104 S1.2.3`, `G1 X1e12`...) on a command whose parameters are all numbers:
    /// every `G` and `T` command and the [`NUMERIC_M_CODES`]. Such a line is corrupt;
    /// following it without that value would be a guess.
    ///
    /// ```
    /// use lamina::gcode::read::{lex, Code};
    /// let bad = |l: &str| match lex(l.as_bytes()).code {
    ///     Some(Code::Command(c)) => c.unusable().map(char::from),
    ///     _ => None,
    /// };
    /// assert_eq!(bad("G1 X10 YNaN E0.5"), Some('Y'));
    /// assert_eq!(bad("G28 X Y"), None);
    /// assert_eq!(bad("M117 banana"), None);
    /// ```
    pub fn unusable(&self) -> Option<u8> {
        let numeric = match (self.letter, self.code()) {
            (b'G' | b'T', _) => true,
            (b'M', Some(n)) => NUMERIC_M_CODES.contains(&n),
            _ => false,
        };
        self.words.unusable().filter(|_| numeric)
    }
}

/// What the code part of a line is.
// A line is lexed on the stack and used at once, never stored: boxing the command's
// words would cost an allocation per line for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Code<'a> {
    /// A letter with a number and parameters (`G1 X10 E.5 F1800`).
    Command(Command),
    /// A Klipper-style command, `NAME KEY=VALUE ...` (an underscore in its first word):
    /// the trimmed text.
    Extended(&'a str),
    /// Text that is no command (`solid cube`, `hello`).
    Junk,
}

/// One line taken apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line<'a> {
    /// The code, `None` for a blank or comment-only line.
    pub code: Option<Code<'a>>,
    /// The text after `;`, untrimmed.
    pub comment: Option<&'a [u8]>,
}

/// Take a line apart (with or without its line end).
///
/// ```
/// use lamina::gcode::read::{lex, Code};
/// let l = lex(b"N12 g1x1Y-2.5 E.3 (fast) F1800*37 ; wall\n");
/// let Some(Code::Command(c)) = l.code else { panic!() };
/// assert!(c.is(b'G', 1));
/// assert_eq!((c.words.get(b'X'), c.words.get(b'Y')), (Some(1.0), Some(-2.5)));
/// assert_eq!((c.words.get(b'E'), c.words.get(b'F')), (Some(0.3), Some(1800.0)));
/// assert_eq!(l.comment, Some(&b" wall\n"[..]));
/// ```
pub fn lex(line: &[u8]) -> Line<'_> {
    let (code, comment) = match line.iter().position(|&b| b == b';') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    let code = match code.iter().position(|&b| b == b'*') {
        Some(i) => &code[..i],
        None => code,
    };
    let code = trim(code);
    if code.is_empty() {
        return Line {
            code: None,
            comment,
        };
    }
    Line {
        code: Some(lex_code(code)),
        comment,
    }
}

/// The code part of a line, trimmed, without comment or checksum.
fn lex_code(code: &[u8]) -> Code<'_> {
    let first_word = code.iter().take_while(|b| !b.is_ascii_whitespace());
    if code.len() > 3 && first_word.clone().any(|&b| b == b'_') {
        return match std::str::from_utf8(code) {
            Ok(text) => Code::Extended(text),
            Err(_) => Code::Junk,
        };
    }
    let mut i = 0;
    // A line number first.
    if code[0].eq_ignore_ascii_case(&b'N') {
        let n = number_len(&code[1..]);
        if parse_number(&code[1..1 + n]).is_none() {
            return Code::Junk;
        }
        i = 1 + n;
        while i < code.len() && code[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == code.len() {
            return Code::Junk;
        }
    }
    let letter = code[i].to_ascii_uppercase();
    if !letter.is_ascii_uppercase() {
        return Code::Junk;
    }
    i += 1;
    let n = number_len(&code[i..]);
    let Some(number) = parse_number(&code[i..i + n]) else {
        // `M117 Hello` has its number; words like `solid` do not.
        return Code::Junk;
    };
    i += n;
    let ragged =
        i < code.len() && !(code[i].is_ascii_whitespace() || code[i].is_ascii_alphabetic());
    Code::Command(Command {
        letter,
        number,
        words: words(&code[i..]),
        ragged,
    })
}

/// The parameters in `s`: each letter with the number right after it; anything else,
/// and `( ... )` comments, skipped.
fn words(s: &[u8]) -> Words {
    let mut w = Words::default();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        i += 1;
        if b == b'(' {
            match s[i..].iter().position(|&c| c == b')') {
                Some(k) => i += k + 1,
                None => break,
            }
            continue;
        }
        let letter = b.to_ascii_uppercase();
        if !letter.is_ascii_uppercase() {
            continue;
        }
        let mut n = number_len(&s[i..]);
        let mut v = parse_number(&s[i..i + n]).unwrap_or(f64::NAN);
        if n == 0
            && let Some(word) = NON_FINITE_WORDS.iter().find(|word| {
                s.len() - i >= word.len() && s[i..i + word.len()].eq_ignore_ascii_case(word)
            })
        {
            n = word.len();
            v = if word[0] == b'n' {
                f64::NAN
            } else {
                f64::INFINITY
            };
        }
        i += n;
        w.set(letter, v, n > 0);
    }
    w
}

/// `b` without leading and trailing ASCII white space.
pub fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> Command {
        match lex(line.as_bytes()).code {
            Some(Code::Command(c)) => c,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn numbers_parse_exactly() {
        for t in [
            "0",
            "1",
            "-1",
            "10.5",
            "-0.8",
            ".5",
            "-.25",
            "+3",
            "7.",
            "123.45678",
            "0.00001",
            "-9999.999",
            "12345678901234567.5",
            "1.23456789012345678",
        ] {
            assert_eq!(
                parse_number(t.as_bytes()),
                Some(t.parse::<f64>().unwrap()),
                "{t}"
            );
        }
        for t in ["", "-", ".", "1.2.3", "1-2", "--1"] {
            assert_eq!(parse_number(t.as_bytes()), None, "{t}");
        }
        assert_eq!(first_number(b" = 2.85 mm"), Some(2.85));
        assert_eq!(
            numbers(b"0x0,250x0,-5x210.5"),
            vec![0.0, 0.0, 250.0, 0.0, -5.0, 210.5]
        );
    }

    #[test]
    fn words_packed_cased_and_guarded() {
        let c = command("g1x1Y2e.3");
        assert!(c.is(b'G', 1));
        assert_eq!(c.words.get(b'E'), Some(0.3));
        // E after a number is the next word, not an exponent.
        let c = command("G1 X1E5");
        assert_eq!(
            (c.words.get(b'X'), c.words.get(b'E')),
            (Some(1.0), Some(5.0))
        );
        // Present without a value; beyond the largest believable value.
        let c = command("G28 X Y10 Z1234567890123");
        assert!(c.words.has(b'X') && c.words.get(b'X').is_none());
        assert_eq!(c.words.get(b'Y'), Some(10.0));
        assert!(c.words.has(b'Z') && c.words.get(b'Z').is_none());
        assert!(!c.words.has(b'E'));
        // Parenthesised comments hold no words.
        let c = command("G1 (X5) Y1");
        assert!(!c.words.has(b'X'));
        assert_eq!(command("G29.1").code(), None);
        assert!(command("G1.0 X1").is(b'G', 1));
    }

    #[test]
    fn line_numbers_checksums_comments_and_junk() {
        let l = lex(b"N12 G1 X5 F600*37 ; move\r\n");
        assert!(
            matches!(l.code, Some(Code::Command(c)) if c.is(b'G', 1) && c.words.get(b'X') == Some(5.0))
        );
        assert_eq!(l.comment, Some(&b" move\r\n"[..]));
        assert_eq!(lex(b";LAYER_CHANGE").code, None);
        assert_eq!(lex(b"   \n").code, None);
        assert_eq!(lex(b"solid cube").code, Some(Code::Junk));
        assert_eq!(lex(b"N G1").code, Some(Code::Junk));
        assert_eq!(lex(b"\xfegarbage").code, Some(Code::Junk));
        assert!(command("G1:foo").ragged && !command("G1 X1").ragged);
        assert_eq!(
            lex(b"SET_RETRACTION RETRACT_LENGTH=1 ; fw").code,
            Some(Code::Extended("SET_RETRACTION RETRACT_LENGTH=1"))
        );
    }

    #[test]
    fn unusable_values_are_named() {
        for (line, letter) in [
            ("G1 X10 Y5 E0.5", None),
            ("G1 XNaN Y5", Some(b'X')),
            ("G1 X5 Y-inf", Some(b'Y')),
            ("G1 X5 EInfinity F600", Some(b'E')),
            ("G1 X1.2.3", Some(b'X')),
            ("G1 Z1234567890123", Some(b'Z')),
            ("M104 S nan", None),
            ("M104 Snan", Some(b'S')),
            ("T1 Snan", Some(b'S')),
            ("G28 X Y", None),
            ("M117 banana nan", None),
            ("M118 Xnan", None),
        ] {
            assert_eq!(command(line).unusable(), letter, "{line}");
        }
        // A value written again later settles the letter.
        assert_eq!(command("G1 Xnan X5").unusable(), None);
        // Not a number is taken whole: its letters are no parameters.
        let c = command("G1 XNaN Y5");
        assert!(!c.words.has(b'N') && !c.words.has(b'A'));
        assert_eq!(c.words.get(b'Y'), Some(5.0));
    }

    #[test]
    fn absurd_tools_are_named() {
        for (line, tool) in [
            ("T4000000000", Some(4e9)),
            ("M104 T999999999 S200", Some(999_999_999.0)),
            ("G10 P999999999 S200", Some(999_999_999.0)),
            ("M116 P300", Some(300.0)),
            ("M109 T256 S200", Some(256.0)),
            ("M104 T1 S200", None),
            ("T255", None),
            ("G1 X999999999", None),
        ] {
            assert_eq!(command(line).absurd_tool(), tool, "{line}");
        }
        // However large, the tool is named as written.
        assert_eq!(
            command("M104 T99999999999999 S200").absurd_tool(),
            Some(99_999_999_999_999.0)
        );
    }
}
