//! Oks, the flow window and urgent commands.

use super::*;
use crate::serial::protocol::{DEFAULT_WINDOW, SendError};

#[test]
fn window_of_one_waits_for_each_ok() {
    let mut s = Script::with_window(1);
    let cmds = ["G28", "G1 X10 ; go", "", "G1 Y10"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    assert_eq!(s.written, [numbered(1, "G28")]);
    s.printer("ok");
    s.feed(&mut it);
    assert_eq!(s.written.last(), Some(&numbered(2, "G1 X10")));
    s.printer("ok");
    // The blank line is refused (never sent), the next command goes.
    assert_eq!(s.p.send("", None), Err(SendError::Empty));
    s.p.send("G1 Y10", None).expect("ready");
    s.flush();
    s.printer("ok");
    assert_eq!(
        s.written,
        [
            numbered(1, "G28"),
            numbered(2, "G1 X10"),
            numbered(3, "G1 Y10")
        ]
    );
    assert_eq!(s.acked, [1, 2, 3]);
    assert!(s.p.is_idle());
}

#[test]
fn window_of_one_sends_nothing_beside_a_probe() {
    let mut s = Script::with_window(1);
    let cmds = ["M84", "G1 X10"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    s.advance(OK_WAIT);
    assert_eq!(s.written, [numbered(1, "M84"), numbered(2, "M105")]);
    // The late ok of line 1: the probe is still out, so line 2 waits for its answer
    // (a printer that reads one line of a burst would leave it unread).
    s.printer("ok");
    assert!(!s.p.ready());
    s.printer("ok T:200.0 /200.0");
    assert!(s.p.ready());
    s.feed(&mut it);
    assert_eq!(s.written.last(), Some(&numbered(3, "G1 X10")));
}

#[test]
fn urgent_commands_take_their_own_oks() {
    let mut s = Script::with_window(2);
    let cmds = ["G1 X1", "G1 X2", "M104 S0"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    assert_eq!(s.written.len(), 2);
    s.p.send_urgent("M108");
    s.flush();
    assert_eq!(s.written[2], "M108");
    // Oks come in the order the printer queued the lines.
    s.printer("ok");
    s.printer("ok");
    assert_eq!(s.acked, [1, 2]);
    s.printer("ok"); // M108's
    assert!(s.p.is_idle());
    s.feed(&mut it);
    s.printer("ok");
    assert_eq!(s.acked, [1, 2, 3]);
    assert!(s.p.is_idle());
    // An urgent command whose ok is lost does not hold the stream forever.
    s.p.send_urgent("M410");
    s.flush();
    assert!(!s.p.is_idle());
    s.advance(OK_WAIT);
    assert!(s.p.is_idle());
}

#[test]
fn advanced_ok_sizes_the_window_and_names_lines() {
    let mut s = Script::new(ProtocolConfig::default());
    assert_eq!(s.p.window(), DEFAULT_WINDOW);
    let cmds = [
        "G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5", "G1 X6", "G1 X7", "G1 X8",
    ];
    let mut it = cmds.iter();
    s.feed(&mut it);
    assert_eq!(s.written.len(), 4);
    s.printer("ok N1 P15 B5");
    assert_eq!(s.p.window(), 6);
    s.feed(&mut it);
    assert_eq!(s.written.len(), 7);
    // The oks for lines 2 and 3 are lost; the one for line 4 names it.
    s.printer("ok N4 P14 B2");
    assert_eq!(s.acked, [1, 2, 3, 4]);
    s.feed(&mut it);
    for n in 5..=8 {
        s.printer(&format!("ok N{n} P14 B3"));
    }
    assert!(s.p.is_idle());
}
