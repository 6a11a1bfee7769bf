//! Streaming G-code to a Marlin printer over a serial port.
//!
//! - [`gcode`]: line cleaning, framing (`N<n> ...*<xor>`), long commands;
//! - [`response`]: what the printer says, classified;
//! - [`protocol`]: the host protocol as a sans-IO state machine;
//! - [`port`]: the serial port itself (open, reset banner, reads with timeouts);
//! - [`state`]: what the printer was doing at a given line (temperatures, position,
//!   modes) and the job state file used to resume;
//! - [`stream`]: a whole job: file, progress, pause/resume/cancel, resume after a
//!   disconnect.

pub mod check;
pub mod gcode;
pub mod pace;
pub mod port;
pub mod protocol;
pub mod response;
pub mod state;
pub mod stream;
