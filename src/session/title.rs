//! A session's title from its first message: one line of plain text, as a
//! list of chats shows it (the user can rename it).

/// Longest title, in characters.
const MAX: usize = 80;

/// The first line with words, without markdown syntax, whitespace collapsed,
/// cut at a word near `MAX` characters with an ellipsis.
pub fn from_message(message: &str) -> String {
    let line = message
        .lines()
        .map(plain)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if line.chars().count() <= MAX {
        return line;
    }
    let cut: String = line.chars().take(MAX - 1).collect();
    let at_word = cut.rfind(' ').filter(|&i| i > MAX / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at_word].trim_end())
}

/// One line without its markdown: heading, quote and list markers, emphasis
/// and code marks, fences; `[text](url)` becomes `text`.
fn plain(line: &str) -> String {
    let mut s = line.trim();
    s = s.trim_start_matches(['#', '>']).trim_start();
    for marker in ["- [ ] ", "- [x] ", "- ", "* ", "+ "] {
        if let Some(rest) = s.strip_prefix(marker) {
            s = rest;
            break;
        }
    }
    if s.starts_with("```") || s.starts_with("~~~") {
        return String::new();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut prev = ' ';
    while let Some(c) = rest.chars().next() {
        let next = rest[c.len_utf8()..].chars().next().unwrap_or(' ');
        // `[text](url)`: the text only.
        if c == '[' {
            if let Some((text, after)) = rest[1..].split_once("](") {
                if let Some(close) = after.find(')') {
                    out.push_str(text);
                    rest = &after[close + 1..];
                    continue;
                }
            }
        }
        // `_` inside a word (snake_case) is not emphasis.
        let inside_word = c == '_' && prev.is_alphanumeric() && next.is_alphanumeric();
        if inside_word || !matches!(c, '*' | '_' | '`' | '~') {
            out.push(c);
        }
        prev = c;
        rest = &rest[c.len_utf8()..];
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_one_plain_line() {
        assert_eq!(
            from_message(
                "## Fix the **login** bug\n\nin `auth.rs`, see [the issue](https://x.y/1)"
            ),
            "Fix the login bug"
        );
        assert_eq!(
            from_message("\n\n> - [ ] check  the   [docs](http://d)\nmore"),
            "check the docs"
        );
        assert_eq!(from_message("```rust\nfn main() {}\n```"), "fn main() {}");
        let long = "word ".repeat(40);
        let t = from_message(&long);
        assert!(t.chars().count() <= MAX && t.ends_with('…'), "{t}");
        assert_eq!(from_message("   "), "");
        assert_eq!(
            from_message("_rename_ snake_case_name"),
            "rename snake_case_name"
        );
    }
}
