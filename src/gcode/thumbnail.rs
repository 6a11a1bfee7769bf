//! Thumbnails in G-code: `; thumbnail begin WxH LEN` blocks of base64 PNG, the format
//! PrusaSlicer writes and printer screens and OctoPrint read.

use super::config::Thumbnail;

/// Base64 characters per comment line (PrusaSlicer's).
pub const LINE_LENGTH: usize = 78;

/// Standard base64 with padding.
///
/// ```
/// assert_eq!(lamina::gcode::thumbnail::base64(b"lamina"), "bGFtaW5h");
/// assert_eq!(lamina::gcode::thumbnail::base64(b"PNG!"), "UE5HIQ==");
/// ```
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Append a thumbnail block (with its surrounding `;` lines) to `buf`; returns the
/// number of lines written.
pub fn write_block(buf: &mut Vec<u8>, t: &Thumbnail) -> u64 {
    let encoded = base64(&t.png);
    let head = format!(
        ";\n; thumbnail begin {}x{} {}\n",
        t.width,
        t.height,
        encoded.len()
    );
    buf.extend_from_slice(head.as_bytes());
    let mut lines = 2;
    for row in encoded.as_bytes().chunks(LINE_LENGTH) {
        buf.extend_from_slice(b"; ");
        buf.extend_from_slice(row);
        buf.push(b'\n');
        lines += 1;
    }
    buf.extend_from_slice(b"; thumbnail end\n;\n");
    lines + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn block_lines_are_short_and_decode() {
        let png: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let t = Thumbnail {
            width: 16,
            height: 12,
            png: png.clone(),
        };
        let mut buf = Vec::new();
        let lines = write_block(&mut buf, &t);
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(lines as usize, text.lines().count());
        let mut it = text
            .lines()
            .skip_while(|l| !l.starts_with("; thumbnail begin"));
        let head = it.next().unwrap();
        let len: usize = head.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(head.contains(" 16x12 "));
        let body: String = it
            .take_while(|l| *l != "; thumbnail end")
            .map(|l| {
                let row = l.strip_prefix("; ").unwrap();
                assert!(row.len() <= LINE_LENGTH);
                row
            })
            .collect();
        assert_eq!(body.len(), len);
        assert_eq!(decode(&body), png);
    }
}
