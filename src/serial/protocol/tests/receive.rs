//! What the printer says: fatal errors, resets, the `rs` form, split reads.

use super::*;
use crate::serial::protocol::SendError;

#[test]
fn fatal_error_stops_at_once() {
    let mut s = Script::with_window(2);
    let cmds = ["G1 X1", "G1 X2", "G1 X3"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    s.printer("Error:Thermal Runaway, system stopped! Heater_ID: 0");
    s.printer("Error:Printer halted. kill() called!");
    s.printer("ok");
    let sent = s.written.len();
    assert!(!s.p.ready());
    assert!(matches!(s.p.send("G1 X3", None), Err(SendError::Failed(_))));
    s.advance(OK_WAIT * 2);
    assert_eq!(s.written.len(), sent, "nothing sent after a fatal error");
    assert!(s.p.failure().is_some_and(|f| f.contains("Thermal Runaway")));
}

#[test]
fn printer_reset_mid_job_is_fatal() {
    let mut s = Script::with_window(1);
    s.p.send("G1 X1", None).expect("ready");
    s.flush();
    s.printer("start");
    assert!(s.p.failure().is_some_and(|f| f.contains("restarted")));
}

#[test]
fn rs_form_and_split_reads() {
    let mut s = Script::with_window(1);
    let cmds = ["G1 X1", "G1 X2"];
    let mut it = cmds.iter();
    s.feed(&mut it);
    s.p.receive(b"rs N", s.now);
    s.p.receive(b"1\r\no", s.now);
    s.p.receive(b"k\n", s.now);
    s.flush();
    assert_eq!(s.written, [numbered(1, "G1 X1"), numbered(1, "G1 X1")]);
}
