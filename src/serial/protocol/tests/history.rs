//! Line numbers and their wrap with `M110`.

use super::*;

#[test]
fn line_numbers_wrap_with_m110() {
    let mut s = Script::new(ProtocolConfig {
        line_number_limit: 4,
        ..ProtocolConfig::default()
    });
    let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5"];
    let mut it = cmds.iter();
    for _ in 0..3 {
        s.feed(&mut it);
        s.printer("ok");
    }
    s.feed(&mut it);
    assert_eq!(s.written[3], numbered(4, "M110 N0"));
    // The counter reset was corrupted: the printer wants line 4 (the M110) again.
    s.printer("Error:checksum mismatch, Last Line: 3");
    s.printer("Resend: 4");
    s.printer("ok");
    assert_eq!(s.written[4], numbered(4, "M110 N0"));
    s.printer("ok");
    assert_eq!(s.written[5], numbered(1, "G1 X4"));
    s.printer("ok");
    s.feed(&mut it);
    assert_eq!(s.written[6], numbered(2, "G1 X5"));
    s.printer("Resend: 2");
    s.printer("ok");
    assert_eq!(s.written[7], numbered(2, "G1 X5"));
}

#[test]
fn nothing_follows_an_m110_before_its_ok() {
    let mut s = Script::new(ProtocolConfig {
        window: 4,
        auto_window: false,
        line_number_limit: 3,
        ..ProtocolConfig::default()
    });
    let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    assert_eq!(
        s.written,
        [
            numbered(1, "G1 X1"),
            numbered(2, "G1 X2"),
            numbered(3, "M110 N0")
        ]
    );
    s.printer("ok");
    s.printer("ok");
    s.feed(&mut it);
    assert_eq!(
        s.written.len(),
        3,
        "held back until the M110 is acknowledged"
    );
    s.printer("ok");
    s.feed(&mut it);
    assert_eq!(s.written[3..], [numbered(1, "G1 X3"), numbered(2, "G1 X4")]);
}
