//! Text from users and agents made safe for one log line. A module of its
//! own, importing nothing of the crate, so every layer can use it without
//! depending on another.

/// Control characters escaped, length capped: agent commands contain user text.
pub fn log_safe(s: &str) -> String {
    let mut out: String = s.chars().take(300).flat_map(char::escape_debug).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::log_safe;

    #[test]
    fn control_characters_are_escaped_and_length_capped() {
        assert_eq!(log_safe("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        let long = "x".repeat(400);
        let safe = log_safe(&long);
        assert!(safe.ends_with('…') && safe.chars().count() == 301);
    }
}
