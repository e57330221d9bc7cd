//! Property tests over arbitrary input: the client-message decoder and the
//! agent-line parser take any bytes without panicking. Failures proptest
//! finds are kept in `proptest-regressions/` (the corpus) and replayed first.

use crate::agent::claude::lines::parse_line;
use crate::protocol::client::decode_client_message;
use proptest::prelude::*;

const FIXTURE: &str = include_str!(
    "../../tests/fixtures/claude-code-2.1.197/duplex-allow-partial-messages.transcript"
);

fn fixture_lines() -> Vec<&'static str> {
    FIXTURE
        .lines()
        .map(|l| l.strip_prefix(">> ").unwrap_or(l))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decoder_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_client_message(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn decoder_takes_json_shaped_noise(
        t in prop_oneof![Just("hello"), Just("message"), Just("stop"), Just("permission_response"),
            Just("cancel_queued"), Just("fuzzy_search"), Just("x")],
        key in "[a-zA-Z]{1,12}",
        value in prop_oneof![Just("null".to_owned()), Just("-1".to_owned()), Just("1e400".to_owned()),
            Just("[]".to_owned()), Just("{}".to_owned()), "\"[^\"\\\\]{0,20}\"", any::<i64>().prop_map(|n| n.to_string())],
    ) {
        let text = format!(r#"{{"type":"{t}","{key}":{value},"runId":{value},"requestId":{value},"decision":{value}}}"#);
        let _ = decode_client_message(&text);
    }

    #[test]
    fn line_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_line(&String::from_utf8_lossy(&bytes));
    }

    /// Real lines, cut short or with one byte changed.
    #[test]
    fn line_parser_takes_damaged_real_lines(pick in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let lines = fixture_lines();
        let line = lines[pick.index(lines.len())].as_bytes();
        let mut damaged = line[..cut.index(line.len() + 1)].to_vec();
        if !damaged.is_empty() {
            let i = flip.index(damaged.len());
            damaged[i] = byte;
        }
        let _ = parse_line(&String::from_utf8_lossy(&damaged));
    }
}
