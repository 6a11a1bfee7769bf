//! Tight number formatting for G-code, into a reused byte buffer.
//!
//! G-code files carry millions of numbers; formatting them is the writer's hot path.
//! Values are fixed-point integers (micrometres for X/Y/Z, 10 nm of filament for E), so
//! formatting is integer digit output with trailing zeros dropped: `10`, `2.5`, `-0.8`,
//! never `1.000000` and never `-0`.

/// Powers of ten up to 10^9.
const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Append the decimal digits of `v`.
#[inline]
pub fn push_uint(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Append `v / 10^decimals` with trailing fractional zeros (and a bare `.`) removed.
///
/// ```
/// use lamina::gcode::number::push_fixed;
/// let mut b = Vec::new();
/// for (v, d) in [(10_000, 3), (2_500, 3), (-80_000, 5), (0, 5), (-5, 3), (123_456, 5)] {
///     push_fixed(&mut b, v, d);
///     b.push(b' ');
/// }
/// assert_eq!(String::from_utf8(b).unwrap(), "10 2.5 -0.8 0 -0.005 1.23456 ");
/// ```
#[inline]
pub fn push_fixed(buf: &mut Vec<u8>, v: i64, decimals: u32) {
    let d = (decimals as usize).min(POW10.len() - 1);
    let pow = POW10[d];
    let u = v.unsigned_abs();
    let int = u / pow;
    let mut frac = u % pow;
    if v < 0 {
        buf.push(b'-');
    }
    push_uint(buf, int);
    if frac != 0 {
        let mut digits = d;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        buf.push(b'.');
        let mut tmp = [b'0'; 10];
        let mut i = digits;
        while frac > 0 {
            i -= 1;
            tmp[i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        buf.extend_from_slice(&tmp[..digits]);
    }
}

/// Round `x` to `decimals` places and append it tightly (see [`push_fixed`]).
/// Non-finite values are written as `0`.
///
/// ```
/// use lamina::gcode::number::push_f64;
/// let mut b = Vec::new();
/// push_f64(&mut b, 0.45000000001, 4);
/// b.push(b' ');
/// push_f64(&mut b, -0.00001, 3);
/// assert_eq!(b, b"0.45 0");
/// ```
#[inline]
pub fn push_f64(buf: &mut Vec<u8>, x: f64, decimals: u32) {
    let d = decimals.min(9);
    let scaled = (x * POW10[d as usize] as f64).round();
    let v = if scaled.is_finite() { scaled as i64 } else { 0 };
    push_fixed(buf, v, d);
}

/// `x` formatted as [`push_f64`] does, as a `String` (for headers and messages).
pub fn fmt_f64(x: f64, decimals: u32) -> String {
    let mut b = Vec::with_capacity(24);
    push_f64(&mut b, x, decimals);
    // Only ASCII digits, '-' and '.' were written.
    String::from_utf8_lossy(&b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(v: i64, d: u32) -> String {
        let mut b = Vec::new();
        push_fixed(&mut b, v, d);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn fixed_point_matches_decimal_value() {
        // Against Rust's own formatting of the same decimal, trimmed by hand.
        for v in [
            0i64,
            1,
            -1,
            9,
            10,
            99,
            100,
            101,
            1000,
            1001,
            -1001,
            123456,
            2500,
            -2500,
            100000,
            -100000,
            999999,
            1234567890123,
        ] {
            for d in [0u32, 3, 5] {
                let s = fixed(v, d);
                let expected = {
                    let t = format!("{:.*}", d as usize, v as f64 / 10f64.powi(d as i32));
                    let t = if t.contains('.') {
                        t.trim_end_matches('0').trim_end_matches('.').to_string()
                    } else {
                        t
                    };
                    if t == "-0" { "0".to_string() } else { t }
                };
                assert_eq!(s, expected, "{v} / 10^{d}");
                assert!(!s.starts_with("-0") || s.starts_with("-0."), "{s}");
            }
        }
    }

    #[test]
    fn extremes_do_not_panic() {
        assert_eq!(fixed(i64::MIN, 3).len(), "-9223372036854775.808".len());
        let mut b = Vec::new();
        push_f64(&mut b, f64::NAN, 3);
        push_f64(&mut b, f64::INFINITY, 3);
        assert_eq!(b, b"00");
    }
}
