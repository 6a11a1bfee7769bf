//! A line the printer claims though its `ok` never came, checked by asking where the
//! head is (`M114`) before it is taken as done or sent again.

use std::time::{Duration, Instant};

use super::super::response::Position;
use super::{Event, Protocol};

/// A line the printer claims to have taken though its `ok` never came, being checked
/// by asking the printer where its moves end (see [`Protocol::check_claim`]).
#[derive(Debug, Clone)]
pub(super) struct Claim {
    /// History position and number of the line claimed.
    pub(super) at: u64,
    pub(super) number: u32,
    /// The line the printer asked for instead, and its history position.
    pub(super) asked: (u32, u64),
    pub(super) started: Instant,
    /// The position in the answer awaited, and the one before.
    pub(super) position: Option<Position>,
    pub(super) previous: Option<Position>,
    /// When to ask again (the head was still on its way).
    pub(super) ask_at: Option<Instant>,
    /// A line to write out now.
    pub(super) outgoing: Option<String>,
}

/// Millimetres within which a reported position is taken for a move's end (Marlin
/// reports two decimals).
const POSITION_TOLERANCE: f64 = 0.02;

/// Longest a claim check goes on: the head may have a planner full of moves to run
/// before it stands still.
pub(super) const CLAIM_WAIT: Duration = Duration::from_secs(60);

/// Wait before asking for the position again while the head is on its way.
const CLAIM_ASK_AGAIN: Duration = Duration::from_millis(250);

/// The command that asks for the position.
pub(super) const POSITION_COMMAND: &str = "M114";

impl Protocol {
    /// The printer asks for line `n` (history position `seq`) right after the line it
    /// was last asked for, whose `ok` never came: it claims that line. Marlin does so
    /// when the line's ok was lost; a firmware that dropped the line without a word
    /// (OctoPrint's virtual printer does, on purpose) does the same, and the move would
    /// be missing from the part. For a move in absolute coordinates the printer can tell
    /// which: once its moves have run (`M400`), `M114` says where the head is. Returns
    /// whether a check started (the request is then settled by its outcome).
    pub(super) fn check_claim(&mut self, n: u32, seq: u64, now: Instant) -> bool {
        let Some(at) = self.rewound_to else {
            return false;
        };
        let checkable = seq == at + 1
            && self.inflight.iter().all(|s| *s == at)
            && self.urgent_inflight.is_empty()
            && self
                .entry(at)
                .and_then(|e| e.span)
                .is_some_and(|(from, to)| {
                    from.iter()
                        .zip(to)
                        .any(|(a, b)| (a - b).abs() > 2.0 * POSITION_TOLERANCE)
                });
        let Some(number) = self.entry(at).map(|e| e.number).filter(|_| checkable) else {
            return false;
        };
        self.events.push_back(Event::Notice(format!(
            "the printer asks for line {n} though line {number} was never acknowledged: \
             asking where its moves end (M114)"
        )));
        self.claim = Some(Claim {
            at,
            number,
            asked: (n, seq),
            started: now,
            position: None,
            previous: None,
            ask_at: None,
            outgoing: Some(POSITION_COMMAND.to_string()),
        });
        true
    }

    /// The `ok` of the claim check's `M114`. The head at the end of the claimed move:
    /// it ran. At its start, twice in a row (a firmware may report where the head is
    /// rather than where its planned moves end, so the head may still be on its way):
    /// it never ran. Anything else: ask again a little later.
    pub(super) fn claim_answered(&mut self, position: Option<Position>, now: Instant) {
        let Some(mut c) = self.claim.take() else {
            return;
        };
        let Some(position) = position.or(c.position.take()) else {
            // An ok without a position: a late one of something else.
            self.claim = Some(c);
            return;
        };
        let near = |p: &Position, q: [f64; 3]| {
            p.axes
                .iter()
                .zip(q)
                .all(|(a, b)| a.is_none_or(|a| (a - b).abs() <= POSITION_TOLERANCE))
        };
        let Some((from, to)) = self.entry(c.at).and_then(|e| e.span) else {
            self.accept_claim(c.asked);
            return;
        };
        if near(&position, to) {
            self.accept_claim(c.asked);
            return;
        }
        let not_run = near(&position, from) && c.previous.is_some_and(|p| near(&p, from));
        if !not_run {
            c.previous = Some(position);
            c.ask_at = Some(now + CLAIM_ASK_AGAIN);
            self.claim = Some(c);
            return;
        }
        // Send the line again under the number the printer expects (and the lines after
        // it renumbered in turn): no M110, which some firmwares take as a reason to forget
        // what they had already refused.
        let (n, _) = c.asked;
        self.events.push_back(Event::Notice(format!(
            "the printer never ran line {} though it claims it: sending it again as line {n}",
            c.number
        )));
        let shift = n.wrapping_sub(c.number);
        let skip = usize::try_from(c.at - self.base).unwrap_or(usize::MAX);
        for e in self.history.iter_mut().skip(skip) {
            e.number = e.number.wrapping_add(shift);
        }
        self.next_number = self.next_number.wrapping_add(shift);
        self.recovery_retried = false;
        self.rewind(n, c.at);
    }

    /// Take the printer at its word: the claimed line is done, go on from the line it
    /// asked for.
    pub(super) fn accept_claim(&mut self, (n, seq): (u32, u64)) {
        if self.inflight.front().is_some_and(|s| *s + 1 == seq) {
            self.acknowledge_front();
        }
        self.rewind(n, seq);
    }
}
