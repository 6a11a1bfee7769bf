//! Tight number formatting for G-code: fixed decimals, trailing zeros and a trailing
//! point dropped, never `-0`. Written straight into a byte buffer (the hot path of the
//! writer: millions of numbers).

/// Append `v` with at most `decimals` decimals (0-6).
///
/// ```
/// let mut b = Vec::new();
/// lamina::gcode::format::push_number(&mut b, 10.0, 3);
/// b.push(b' ');
/// lamina::gcode::format::push_number(&mut b, 2.5, 3);
/// b.push(b' ');
/// lamina::gcode::format::push_number(&mut b, -0.0001, 3);
/// b.push(b' ');
/// lamina::gcode::format::push_number(&mut b, 0.123456, 5);
/// assert_eq!(String::from_utf8(b).unwrap(), "10 2.5 0 0.12346");
/// ```
pub fn push_number(buf: &mut Vec<u8>, v: f64, decimals: u32) {
    let decimals = decimals.min(6);
    let scale = 10i64.pow(decimals);
    if !v.is_finite() {
        buf.push(b'0');
        return;
    }
    let n = (v * scale as f64).round() as i64;
    if n == 0 {
        buf.push(b'0');
        return;
    }
    if n < 0 {
        buf.push(b'-');
    }
    let n = n.unsigned_abs();
    let int = n / scale as u64;
    let mut frac = n % scale as u64;
    push_uint(buf, int);
    if frac > 0 {
        let mut digits = decimals;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        buf.push(b'.');
        let mut tmp = [b'0'; 6];
        for i in (0..digits as usize).rev() {
            tmp[i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        buf.extend_from_slice(&tmp[..digits as usize]);
    }
}

/// Append an unsigned integer.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64, d: u32) -> String {
        let mut b = Vec::new();
        push_number(&mut b, v, d);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn formats_tightly() {
        assert_eq!(f(1.0, 3), "1");
        assert_eq!(f(0.2, 3), "0.2");
        assert_eq!(f(-12.3456, 3), "-12.346");
        assert_eq!(f(0.00049, 3), "0");
        assert_eq!(f(0.0005, 3), "0.001");
        assert_eq!(f(123456.0, 0), "123456");
        assert_eq!(f(2.10000, 5), "2.1");
        assert_eq!(f(-0.0, 5), "0");
    }
}
