//! Lines the printer claims without their ok.

use super::*;

/// The printer asks for line 2 again, then, when it gets no answer to the copy and
/// sends another, claims it (asks for line 3): OctoPrint's virtual printer does so
/// on purpose, Marlin when the copy's ok was lost. `M114` tells which.
fn claimed_line(position: &str) -> Script {
    let mut s = Script::with_window(1);
    let cmds = ["G1 X10 F6000", "G1 X20", "G1 X30"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    s.printer("ok");
    s.feed(&mut it);
    s.printer("Error: Missing checksum");
    s.printer("Resend:2");
    s.printer("ok");
    s.advance(OK_WAIT);
    s.printer("Error: expected line 3 got 2");
    s.printer("Resend:3");
    s.printer("ok");
    assert_eq!(s.written.last().map(String::as_str), Some("M114"));
    assert!(!s.p.ready());
    s.printer(position);
    s
}

#[test]
fn a_claimed_move_that_never_ran_is_sent_again() {
    let mut s = claimed_line("ok X:10.00 Y:0.00 Z:0.00 E:0.00");
    // At the move's start: maybe still on the way there; asked again.
    s.advance(Duration::from_millis(300));
    assert_eq!(s.written.last().map(String::as_str), Some("M114"));
    s.printer("X:10.00 Y:0.00 Z:0.00 E:0.00 Count X:800 Y:0 Z:0");
    s.printer("ok");
    // Still there: the move never ran. It goes under the number the printer expects.
    assert_eq!(s.written.last(), Some(&numbered(3, "G1 X20")));
    s.printer("ok");
    let mut rest = ["G1 X30"].iter();
    s.feed(&mut rest);
    assert_eq!(s.written.last(), Some(&numbered(4, "G1 X30")));
    assert_eq!(s.acked, [1, 3]);
}

#[test]
fn a_claimed_move_that_ran_is_not_sent_again() {
    let mut s = claimed_line("ok X:20.00 Y:0.00 Z:0.00 E:0.00");
    s.flush();
    let mut rest = ["G1 X30"].iter();
    s.feed(&mut rest);
    assert_eq!(s.written.last(), Some(&numbered(3, "G1 X30")));
    assert_eq!(
        s.written.iter().filter(|l| l.contains("G1 X20")).count(),
        3,
        "{:?}",
        s.written
    );
    assert_eq!(s.acked, [1, 2]);
}
