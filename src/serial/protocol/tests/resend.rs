//! Resend requests: rewinds, repeats, doubtful numbers.

use super::*;

#[test]
fn resend_in_the_middle_of_a_window() {
    let mut s = Script::with_window(4);
    let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5", "G1 X6"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    assert_eq!(s.written.len(), 4);
    // Line 1 executes; line 2 arrives corrupted; lines 3 and 4 are refused in turn.
    s.printer("ok");
    s.printer("Error:checksum mismatch, Last Line: 1");
    s.printer("Resend: 2");
    s.printer("ok");
    s.printer("Error:Line Number is not Last Line Number+1, Last Line: 1");
    s.printer("Resend: 2");
    s.printer("ok");
    s.printer("Error:Line Number is not Last Line Number+1, Last Line: 1");
    s.printer("Resend: 2");
    s.printer("ok");
    // Lines 2, 3, 4 went again exactly once, then line 5 (window 4).
    assert_eq!(
        s.written[4..],
        [
            numbered(2, "G1 X2"),
            numbered(3, "G1 X3"),
            numbered(4, "G1 X4"),
        ]
    );
    assert_eq!(s.acked, [1]);
    s.feed(&mut it);
    assert_eq!(s.written.last(), Some(&numbered(5, "G1 X5")));
    for _ in 0..4 {
        s.printer("ok");
        s.feed(&mut it);
    }
    s.printer("ok");
    assert_eq!(s.acked, [1, 2, 3, 4, 5, 6]);
    assert!(s.p.is_idle());
    assert_eq!(s.p.last_acknowledged().map(|x| x.line), Some(6));
}

#[test]
fn resend_for_a_line_already_acknowledged() {
    let mut s = Script::with_window(2);
    let cmds = ["G1 X1", "G1 X2", "G1 X3"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    s.printer("ok");
    s.printer("ok");
    assert_eq!(s.acked, [1, 2]);
    let acked_line = s.p.last_acknowledged().map(|x| x.line);
    s.feed(&mut it);
    assert_eq!(s.written.last(), Some(&numbered(3, "G1 X3")));
    // The printer says it never took line 2: the ok counted for it was not its own.
    s.printer("Resend: 2");
    s.printer("ok");
    assert_eq!(s.written[3..], [numbered(2, "G1 X2"), numbered(3, "G1 X3")]);
    assert!(s.p.last_acknowledged().map(|x| x.line) < acked_line);
    s.printer("ok");
    s.printer("ok");
    assert!(s.p.is_idle());
    assert_eq!(s.p.last_acknowledged().map(|x| x.line), Some(3));
}

#[test]
fn request_far_behind_the_window_is_a_restart() {
    let mut s = Script::with_window(1);
    let cmds: Vec<String> = (0..60).map(|i| format!("G1 X{i}")).collect();
    for c in &cmds {
        s.p.send(c, None).expect("ready");
        s.flush();
        s.printer("ok");
    }
    s.p.send("G1 Y1", None).expect("ready");
    s.flush();
    // A board that reset asks for line 1: resending would print 60 lines twice.
    // It might also be a garbled number: a probe asks again first.
    s.printer("Resend: 1");
    assert!(s.p.failure().is_none());
    assert_eq!(s.written[61], numbered(62, "M105"));
    // The printer's counter did start over: it refuses the probe and asks again.
    s.printer("Error:Line Number is not Last Line Number+1, Last Line: 0");
    s.printer("Resend: 1");
    assert!(s.p.failure().is_some_and(|f| f.contains("restarted")));
    assert_eq!(s.written.len(), 62, "nothing resent");
}

#[test]
fn a_garbled_resend_number_is_checked_not_obeyed() {
    let mut s = Script::with_window(1);
    for i in 0..100 {
        s.p.send(&format!("G1 X{i}"), None).expect("ready");
        s.flush();
        s.printer("ok");
    }
    s.p.send("G1 Y1", None).expect("ready");
    s.flush();
    let sent = s.written.len();
    // "Resend: 101" arrives with its digits garbled: a line far behind.
    s.printer("Error:checksum mismatch, Last Line: 100");
    s.printer("Resend: 41");
    s.printer("ok");
    assert!(s.p.failure().is_none());
    assert_eq!(
        s.written[sent..],
        [numbered(102, "M105")],
        "a probe, nothing resent"
    );
    // The probe, numbered after the refused line, makes the printer ask properly.
    s.printer("Error:Line Number is not Last Line Number+1, Last Line: 100");
    s.printer("Resend: 101");
    s.printer("ok");
    assert_eq!(s.written[sent + 1], numbered(101, "G1 Y1"));
    s.printer("ok");
    s.printer("ok T:210.0 /210.0");
    assert!(s.p.is_idle());
    assert!(s.p.failure().is_none());
    assert_eq!(s.acked.len(), 102);
}

#[test]
fn m110_not_taken_restarts_from_it() {
    let t = Instant::now();
    let mut p = Protocol::new(ProtocolConfig::default());
    p.start();
    assert!(p.poll_transmit(t).is_some());
    // A printer still counting from an earlier session, M110 corrupted on the way.
    p.receive(
        b"Error:checksum mismatch, Last Line: 5000\nResend: 5001\nok\n",
        t,
    );
    assert_eq!(
        p.poll_transmit(t).map(|o| o.line),
        Some("N0 M110 N0*125\n".into())
    );
}

#[test]
fn repeated_request_after_a_probe_is_honoured() {
    // The resent line is lost again while the repeat budget is still open: the
    // request looks like a repeat. Without an answer the line goes once more, then a
    // probe settles it.
    let mut s = Script::with_window(2);
    let cmds = ["G1 X1", "G1 X2", "G1 X3"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    s.printer("Resend: 1");
    s.printer("ok");
    assert_eq!(s.written[2..], [numbered(1, "G1 X1"), numbered(2, "G1 X2")]);
    // Line 2's original transmission was flushed by the firmware (no repeat came),
    // and the resent line 1 is lost again:
    s.printer("Resend: 1");
    s.printer("ok");
    assert_eq!(
        s.written.len(),
        4,
        "taken for the repeat of the first request"
    );
    s.advance(OK_WAIT);
    assert_eq!(s.written[4..], [numbered(1, "G1 X1")]);
    // Lost once more: the probe, numbered after the lines sent, makes the printer
    // ask for the missing one.
    s.advance(OK_WAIT);
    assert_eq!(s.written.last(), Some(&numbered(3, "M105")));
    s.printer("Error:Line Number is not Last Line Number+1, Last Line: 0");
    s.printer("Resend: 1");
    s.printer("ok");
    assert_eq!(s.written[6..], [numbered(1, "G1 X1"), numbered(2, "G1 X2")]);
    s.printer("ok");
    s.printer("ok");
    // The probe goes again in its turn (harmless), and the stream goes on.
    assert_eq!(s.written.last(), Some(&numbered(3, "M105")));
    s.printer("ok T:210.0 /210.0");
    assert!(s.p.is_idle());
    assert_eq!(s.acked, [1, 2, 3]);
}
