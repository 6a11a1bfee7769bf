//! Lost oks found by deadlines and probes; a silent printer.

use super::*;
use crate::serial::protocol::{DEFAULT_LONG_TIMEOUT, DEFAULT_SILENCE_LIMIT};

#[test]
fn a_probe_answer_closes_an_m105_whose_answer_was_lost() {
    let mut s = Script::with_window(1);
    s.p.send("M105", None).expect("ready");
    s.flush();
    s.advance(OK_WAIT);
    assert_eq!(s.written, [numbered(1, "M105"), numbered(2, "M105")]);
    // One answer comes: the probe's (the first M105's was lost).
    s.printer("ok T:200.0 /200.0");
    assert!(s.p.ready() && s.p.is_idle());
    assert_eq!(s.acked, [1, 2]);
}

#[test]
fn refused_probe_behind_a_lost_ok_is_sent_again_out_of_turn() {
    let mut s = Script::with_window(1);
    let cmds = ["G1 X1", "G1 X2"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    // The ok for line 1 is lost; the probe is garbled on the way.
    s.advance(OK_WAIT);
    assert_eq!(s.written[1], numbered(2, "M105"));
    s.printer("Error:No Checksum with line number, Last Line: 1");
    s.printer("Resend: 2");
    s.printer("ok");
    // The window is still held by line 1: the refused probe goes again on the next
    // timeout, not a new probe the printer would refuse as out of sequence.
    s.advance(OK_WAIT);
    assert_eq!(s.written[2], numbered(2, "M105"));
    s.printer("ok T:200.0 /200.0");
    assert_eq!(s.acked, [1, 2]);
    s.feed(&mut it);
    assert_eq!(s.written[3], numbered(3, "G1 X2"));
    s.printer("ok");
    assert!(s.p.is_idle());
}

#[test]
fn lost_ok_is_recovered_by_a_probe_without_resending() {
    let mut s = Script::with_window(1);
    let cmds = ["G1 X1", "G1 X2"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    // The ok for line 1 is lost. Nothing happens before the deadline, well under a
    // second for a printer with nothing else to do...
    let deadline = s.p.deadline().expect("a deadline");
    assert!(deadline - s.now < Duration::from_millis(500));
    s.advance(deadline - s.now - Duration::from_millis(1));
    assert_eq!(s.written.len(), 1);
    // ...then a probe, never the command again.
    s.advance(Duration::from_millis(1));
    assert_eq!(s.written[1], numbered(2, "M105"));
    s.printer("T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0"); // autoreport: not an answer
    assert!(!s.p.ready());
    s.printer("ok T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0");
    assert_eq!(s.acked, [1, 2], "line 1 and the probe");
    s.feed(&mut it);
    assert_eq!(
        s.written,
        [
            numbered(1, "G1 X1"),
            numbered(2, "M105"),
            numbered(3, "G1 X2")
        ]
    );
}

#[test]
fn lost_ok_then_probe_answered_after_queued_commands() {
    // Window 3, two oks lost: the probe's answer closes everything before it.
    let mut s = Script::with_window(3);
    let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    s.printer("ok");
    s.feed(&mut it);
    assert_eq!(s.written.len(), 4);
    s.advance(OK_WAIT);
    assert_eq!(s.written[4], numbered(5, "M105"));
    s.printer("ok T:200.0 /200.0");
    assert_eq!(s.acked, [1, 2, 3, 4, 5]);
    assert!(s.p.is_idle());
}

#[test]
fn busy_for_a_minute_is_not_a_lost_ok() {
    let mut s = Script::with_window(1);
    let cmds = ["G29", "G1 X1"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    for _ in 0..30 {
        s.advance(Duration::from_secs(2));
        s.printer("echo:busy: processing");
    }
    assert!(s.elapsed() >= Duration::from_secs(60));
    assert_eq!(s.written.len(), 1, "no probe while the printer says busy");
    s.printer("ok");
    s.feed(&mut it);
    assert_eq!(s.written.last(), Some(&numbered(2, "G1 X1")));
}

#[test]
fn heating_gets_a_long_timeout_even_without_keepalive() {
    let mut s = Script::with_window(1);
    let cmds = ["M109 S215"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    for _ in 0..60 {
        s.advance(Duration::from_secs(1));
        s.printer("T:150.0 /215.0 B:60.0 /60.0 W:?");
    }
    assert_eq!(s.written.len(), 1);
    s.advance(DEFAULT_LONG_TIMEOUT);
    assert_eq!(s.written.last(), Some(&numbered(2, "M105")));
}

#[test]
fn silent_printer_fails_the_job() {
    let mut s = Script::with_window(1);
    s.p.send("G1 X1", None).expect("ready");
    s.flush();
    let mut waited = Duration::ZERO;
    while s.p.failure().is_none() && waited < DEFAULT_SILENCE_LIMIT * 2 {
        s.advance(OK_WAIT);
        waited += OK_WAIT;
    }
    assert!(
        s.p.failure()
            .is_some_and(|f| f.contains("not said anything"))
    );
    assert!(waited >= DEFAULT_SILENCE_LIMIT);
}
