//! A tiny 5 x 7 bitmap font for labels in PNG pictures: capitals, digits and a few
//! signs, drawn for lamina (lower case is shown as capitals). Pictures need only short
//! labels (roles, tools, speeds, heights); a font file would be far larger than the
//! rest of the module.

/// Glyph width in font pixels.
pub const GLYPH_W: u32 = 5;
/// Glyph height in font pixels.
pub const GLYPH_H: u32 = 7;
/// Horizontal advance per character in font pixels (glyph plus a gap).
pub const ADVANCE: u32 = 6;

/// The glyphs, each seven rows of five columns (`#` is ink).
#[rustfmt::skip]
const GLYPHS: &[(char, [&str; 7])] = &[
    ('A', [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]),
    ('B', ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."]),
    ('C', [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."]),
    ('D', ["####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."]),
    ('E', ["#####", "#....", "#....", "####.", "#....", "#....", "#####"]),
    ('F', ["#####", "#....", "#....", "####.", "#....", "#....", "#...."]),
    ('G', [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"]),
    ('H', ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"]),
    ('I', [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('J', ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."]),
    ('K', ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"]),
    ('L', ["#....", "#....", "#....", "#....", "#....", "#....", "#####"]),
    ('M', ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"]),
    ('N', ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"]),
    ('O', [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]),
    ('P', ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."]),
    ('Q', [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"]),
    ('R', ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"]),
    ('S', [".####", "#....", "#....", ".###.", "....#", "....#", "####."]),
    ('T', ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."]),
    ('U', ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."]),
    ('V', ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."]),
    ('W', ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."]),
    ('X', ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"]),
    ('Y', ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."]),
    ('Z', ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"]),
    ('0', [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."]),
    ('1', ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."]),
    ('2', [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"]),
    ('3', ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."]),
    ('4', ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."]),
    ('5', ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."]),
    ('6', ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."]),
    ('7', ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."]),
    ('8', [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."]),
    ('9', [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."]),
    ('.', [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."]),
    (',', [".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."]),
    (':', [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."]),
    ('-', [".....", ".....", ".....", ".###.", ".....", ".....", "....."]),
    ('/', [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."]),
    ('(', ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."]),
    (')', [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."]),
    ('=', [".....", ".....", "#####", ".....", "#####", ".....", "....."]),
];

/// The rows of a character as bit masks (bit 4 is the leftmost column); `None` for a
/// space or a character the font lacks.
pub fn glyph(c: char) -> Option<[u8; 7]> {
    let c = c.to_ascii_uppercase();
    let (_, rows) = GLYPHS.iter().find(|(g, _)| *g == c)?;
    let mut out = [0u8; 7];
    for (o, row) in out.iter_mut().zip(rows.iter()) {
        for (k, b) in row.bytes().enumerate() {
            if b == b'#' {
                *o |= 1 << (4 - k);
            }
        }
    }
    Some(out)
}

/// Width of a text in font pixels.
#[cfg(test)]
pub fn text_width(text: &str) -> u32 {
    let n = text.chars().count() as u32;
    if n == 0 { 0 } else { n * ADVANCE - 1 }
}

/// Call `dot(x, y)` for every ink pixel of `text` drawn at font pixel size `scale`
/// with its top-left corner at `(x, y)`; each font pixel is a `scale` x `scale`
/// square whose top-left corner is passed.
pub fn draw_text(text: &str, x: i32, y: i32, scale: u32, mut dot: impl FnMut(i32, i32)) {
    let s = scale as i32;
    for (k, c) in text.chars().enumerate() {
        let Some(rows) = glyph(c) else { continue };
        let gx = x + k as i32 * ADVANCE as i32 * s;
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..GLYPH_W as i32 {
                if bits & (1 << (4 - col)) != 0 {
                    dot(gx + col * s, y + r as i32 * s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_glyph_is_five_by_seven_and_distinct() {
        for (c, rows) in GLYPHS {
            assert!(rows.iter().all(|r| r.len() == 5), "{c}");
        }
        for (i, (a, _)) in GLYPHS.iter().enumerate() {
            for (b, _) in &GLYPHS[i + 1..] {
                assert_ne!(glyph(*a), glyph(*b), "{a} and {b} look alike");
            }
        }
        assert_eq!(glyph('a'), glyph('A'));
        assert_eq!(glyph(' '), None);
    }

    #[test]
    fn text_is_drawn_where_asked() {
        let mut dots = Vec::new();
        draw_text("1", 10, 20, 2, |x, y| dots.push((x, y)));
        // The stem of the 1 is its third column.
        assert!(dots.contains(&(10 + 2 * 2, 20)));
        assert!(
            dots.iter()
                .all(|&(x, y)| (10..20).contains(&x) && (20..34).contains(&y))
        );
        assert_eq!(text_width("ab"), 11);
    }
}
