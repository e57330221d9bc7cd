//! How a session's events are packed into rows of the log, and read back.
//!
//! A row holds consecutive events of one session: `seq` is the first one's,
//! `last` the last one's, and `frames` their frames, each followed by a
//! newline. SQLite's cost is mostly per row (a statement step, a b-tree
//! insert, an index entry), so one row per burst instead of one per event
//! cut the server's CPU at 100 × 2,000 lines by ~15 % (docs/PERFORMANCE.md).
//! A row stays small (`ROW_BYTES`) so a read that needs one event of it
//! loads little more; a larger frame is a row of its own. A frame never
//! holds a raw newline (`SessionEvent::to_frame` makes every stored frame,
//! as compact JSON), so splitting a row on newlines is exact; a row whose
//! count does not match its seqs is refused on reading (`BadRow`).

use crate::protocol::server::Frame;

/// A row is closed before it grows past this (a single larger frame is a
/// row of its own).
pub(super) const ROW_BYTES: usize = 64 * 1024;

/// One row to insert.
#[derive(Debug, PartialEq)]
pub(super) struct Row {
    pub first: u64,
    pub last: u64,
    pub frames: String,
}

/// `events` (ascending seqs) as rows: a row takes the next event while
/// the seqs are consecutive and it stays under `ROW_BYTES`. A row's extent
/// is found first, so its text is allocated once at its size (grown by
/// doubling, a 64 KiB row was copied on every regrowth). Frames hold no
/// raw newline (see the module's note): looking for one in every frame was
/// ~120 instructions per event (1 % of the server's at the load).
pub(super) fn pack(events: &[(u64, Frame)]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut start = 0;
    while let Some((first, frame)) = events.get(start) {
        debug_assert!(!frame.contains('\n'), "a frame with a raw newline: {frame}");
        let mut end = start + 1;
        let mut bytes = frame.len() + 1;
        while let Some((seq, next)) = events.get(end) {
            let consecutive = *seq == events[end - 1].0 + 1;
            if !consecutive || bytes + next.len() >= ROW_BYTES {
                break;
            }
            debug_assert!(!next.contains('\n'), "a frame with a raw newline: {next}");
            bytes += next.len() + 1;
            end += 1;
        }
        let mut frames = String::with_capacity(bytes);
        for (_, f) in &events[start..end] {
            frames.push_str(f);
            frames.push('\n');
        }
        rows.push(Row {
            first: *first,
            last: events[end - 1].0,
            frames,
        });
        start = end;
    }
    rows
}

/// The newest seq stored for the session whose log key is `key` (0: none);
/// its events are stored gap-free from 1, so also their count.
pub(super) fn last_seq(c: &rusqlite::Connection, key: i64) -> Result<u64, rusqlite::Error> {
    c.prepare_cached("SELECT COALESCE(MAX(last), 0) FROM log WHERE session = ?1")?
        .query_row([key], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// The row does not hold as many frames as its seqs say.
#[derive(Debug, thiserror::Error)]
#[error("a log row for events {first}..={last} holds {found} frames")]
pub struct BadRow {
    first: u64,
    last: u64,
    found: usize,
}

/// The events of a row, oldest first.
pub(super) fn unpack(first: u64, last: u64, frames: &str) -> Result<Vec<(u64, Frame)>, BadRow> {
    let body = frames.strip_suffix('\n').unwrap_or(frames);
    if first == last {
        return Ok(vec![(first, Frame::from(body.to_owned()))]);
    }
    let found = body.split('\n').count();
    if last < first || found as u64 != last - first + 1 {
        return Err(BadRow { first, last, found });
    }
    Ok((first..=last)
        .zip(body.split('\n'))
        .map(|(seq, f)| (seq, Frame::from(f.to_owned())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, text: &str) -> (u64, Frame) {
        (seq, Frame::from(text.to_owned()))
    }

    fn roundtrip(events: &[(u64, Frame)]) -> Vec<(u64, Frame)> {
        pack(events)
            .iter()
            .flat_map(|r| unpack(r.first, r.last, &r.frames).unwrap())
            .collect()
    }

    #[test]
    fn a_burst_is_one_row_and_reads_back_whole() {
        let events: Vec<_> = (5..69)
            .map(|s| ev(s, &format!("{{\"seq\":{s}}}")))
            .collect();
        let rows = pack(&events);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].first, rows[0].last), (5, 68));
        assert_eq!(roundtrip(&events), events);
    }

    /// Tried: frames larger than a row, empty frames, a gap in the seqs.
    /// Each reads back exactly; rows stay within `ROW_BYTES` unless they
    /// hold one frame.
    #[test]
    fn awkward_frames_read_back_exactly() {
        let big = "x".repeat(ROW_BYTES * 2);
        let events = vec![
            ev(1, "a"),
            ev(2, &big),
            ev(3, "b"),
            ev(5, ""),
            ev(6, ""),
            ev(9, "after a gap"),
            ev(10, &"y".repeat(ROW_BYTES - 10)),
            ev(11, "z"),
        ];
        let rows = pack(&events);
        for r in &rows {
            assert!(r.first == r.last || r.frames.len() <= ROW_BYTES, "{r:?}");
        }
        assert_eq!(roundtrip(&events), events);
        // The big one is a row of its own; no row spans the gaps.
        assert!(rows.iter().any(|r| r.first == 2 && r.last == 2));
        assert!(rows.iter().all(|r| r.first > 3 || r.last < 5));
        assert!(rows.iter().all(|r| r.first > 6 || r.last < 9));
    }

    /// What the store is given: every kind of line break and control byte
    /// an agent can print, inside the frames of the events that carry
    /// agent text, comes out escaped, so a row splits back exactly.
    #[test]
    fn frames_of_agent_text_hold_no_raw_newline() {
        use crate::protocol::server::SessionEvent;
        let nasty = "a\nb\r\nc\u{0}\u{1f}\u{2028}\\n\"\n";
        let events: Vec<(u64, Frame)> = (1..=3)
            .map(|seq| {
                let event = SessionEvent::Claudejson {
                    content: format!("{nasty}{seq}"),
                };
                (seq, event.to_frame(seq))
            })
            .collect();
        assert!(events.iter().all(|(_, f)| !f.contains('\n')));
        let rows = pack(&events);
        assert_eq!(rows.len(), 1);
        assert_eq!(roundtrip(&events), events);
    }

    #[test]
    fn a_row_with_the_wrong_count_is_an_error() {
        assert!(unpack(1, 3, "a\nb\n").is_err());
        assert!(unpack(1, 2, "a\nb\nc\n").is_err());
        assert!(unpack(3, 1, "a\n").is_err());
        assert_eq!(unpack(7, 7, "a\nb\n").unwrap(), vec![ev(7, "a\nb")]);
    }
}
