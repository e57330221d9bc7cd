//! JSON as the line parser reads it: a value checked against the grammar
//! in one pass that builds nothing, and an object walked in place, each
//! member's value read by the caller or passed over. serde_json took each
//! value the parser did not want through a visitor (a call or more per
//! string, number and name); here a short string is one eight-byte test
//! and a name one comparison. Reading lines was 29 % of the server's
//! instructions at the load tool's classic load, 21 % after.
//!
//! What is JSON here is what serde_json skips as a value (RFC 8259: no
//! trailing comma, no leading zero, escapes `\"\\/bfnrt` and `\uXXXX`, no
//! control byte in a string, any depth); a number is not checked for range
//! and an escape not for a surrogate's pair, as JSON.parse in the page does
//! not either.

use crate::protocol::{first_escape_in, plain_prefix};

/// `text` as one JSON value, whitespace around it allowed, read by `read`
/// (given where the value starts, it says where it ends).
pub(super) fn whole(text: &str, read: impl FnOnce(usize) -> Option<usize>) -> Option<()> {
    let b = text.as_bytes();
    let end = read(ws(b, 0))?;
    (ws(b, end) == b.len()).then_some(())
}

/// The object at `at` (its brace, else `None`): each member's name
/// (decoded if it holds an escape; one that is no character, a lone
/// surrogate, is skipped unread) and where its value starts go to `each`,
/// which reads the value in place and says where it ends. Where the
/// object ends.
pub(super) fn object(
    text: &str,
    at: usize,
    mut each: impl FnMut(&str, usize) -> Option<usize>,
) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'{') {
        return None;
    }
    let mut i = ws(b, at + 1);
    if b.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        let (name_end, escaped) = string(b, i)?;
        let start = colon(b, name_end)?;
        i = if !escaped {
            each(&text[i + 1..name_end - 1], start)?
        } else if let Ok(name) = serde_json::from_str::<String>(&text[i..name_end]) {
            each(&name, start)?
        } else {
            skip(text, start)?
        };
        i = ws(b, i);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The array at `at` (its bracket, else `None`): where each element
/// starts goes to `each`, which reads it in place and says where it ends.
/// Where the array ends.
pub(super) fn array(
    text: &str,
    at: usize,
    mut each: impl FnMut(usize) -> Option<usize>,
) -> Option<usize> {
    let b = text.as_bytes();
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let mut i = ws(b, at + 1);
    if b.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    loop {
        i = ws(b, each(i)?);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b']') => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The raw text of the members of object `text` that `slot` gives a
/// place; `None` if `text` is not one JSON object. A name given twice: the
/// last one counts, as in JSON.parse.
pub(super) fn members<const N: usize>(
    text: &str,
    slot: impl Fn(&str) -> Option<usize>,
) -> Option<[Option<&str>; N]> {
    let mut found = [None; N];
    whole(text, |at| {
        object(text, at, |name, start| {
            keep(text, start, slot(name).map(|place| &mut found[place]))
        })
    })?;
    Some(found)
}

/// The value at `start` passed over, and its raw text put in `into` if
/// there is one: where it ends.
#[inline(always)]
pub(super) fn keep<'a>(
    text: &'a str,
    start: usize,
    into: Option<&mut Option<&'a str>>,
) -> Option<usize> {
    let end = skip(text, start)?;
    if let Some(into) = into {
        *into = Some(&text[start..end]);
    }
    Some(end)
}

/// The value at `at`, checked and passed over: where it ends.
#[inline]
pub(super) fn skip(text: &str, at: usize) -> Option<usize> {
    let b = text.as_bytes();
    match *b.get(at)? {
        b'"' => Some(string(b, at)?.0),
        b'{' | b'[' => nested(b, at),
        b't' => literal(b, at, b"true"),
        b'f' => literal(b, at, b"false"),
        b'n' => literal(b, at, b"null"),
        _ => number(b, at),
    }
}

/// A string member's text, borrowed unless it holds an escape; `None` for
/// any other value (and for an escape that is not a character: a lone
/// surrogate).
pub(super) fn str_of(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Into::into)
    } else {
        Some(inner.into())
    }
}

#[inline(always)]
fn ws(b: &[u8], mut i: usize) -> usize {
    // Compact JSON has none: one test for the byte that is not.
    if b.get(i).is_some_and(|&c| c > b' ') {
        return i;
    }
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// After a member's name ending at `i`: the colon, and where its value
/// starts.
fn colon(b: &[u8], i: usize) -> Option<usize> {
    let i = ws(b, i);
    (b.get(i) == Some(&b':')).then(|| ws(b, i + 1))
}

/// The string starting at `i` (its quote): where it ends, and whether it
/// holds an escape.
#[inline(always)]
fn string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    // Most strings (names, short values) end within the eight bytes after
    // the quote: one word tested here, no call.
    if b.get(i) == Some(&b'"') {
        if let Some(word) = b.get(i + 1..i + 9) {
            let word: [u8; 8] = word.try_into().expect("eight bytes");
            if let Some(at) = first_escape_in(word) {
                if word[at] == b'"' {
                    return Some((i + 2 + at, false));
                }
            }
        }
    }
    long_string(b, i)
}

/// A string the one-word test did not settle (longer, or with an escape):
/// runs without a special byte passed over sixteen bytes at a time, each
/// escape checked. Kept out of line so `string` stays small where inlined.
#[inline(never)]
fn long_string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut i = i + 1;
    let mut escaped = false;
    loop {
        i += plain_prefix(&b[i..]);
        match *b.get(i)? {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += match *b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' if b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
                    _ => return None,
                };
            }
            // A control byte.
            _ => return None,
        }
    }
}

/// The number starting at `i`: where it ends.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

/// The object or array at `i` and all inside it: where it ends.
/// Iterative: a line nested a million deep costs a bit per level, not
/// the stack.
#[inline(never)]
fn nested(b: &[u8], mut i: usize) -> Option<usize> {
    let mut open = Open::default();
    loop {
        match *b.get(i)? {
            c @ (b'{' | b'[') => {
                i = ws(b, i + 1);
                let object = c == b'{';
                if b.get(i) == Some(if object { &b'}' } else { &b']' }) {
                    i += 1;
                } else {
                    open.push(object);
                    if object {
                        i = colon(b, string(b, i)?.0)?;
                    }
                    continue;
                }
            }
            b'"' => i = string(b, i)?.0,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            _ => i = number(b, i)?,
        }
        // A value ended at `i`: a comma goes on to the next one, a bracket
        // closes its container (and maybe more).
        loop {
            let Some(object) = open.top() else {
                return Some(i);
            };
            i = ws(b, i);
            match (b.get(i)?, object) {
                (b',', true) => {
                    i = colon(b, string(b, ws(b, i + 1))?.0)?;
                    break;
                }
                (b',', false) => {
                    i = ws(b, i + 1);
                    break;
                }
                (b'}', true) | (b']', false) => {
                    i += 1;
                    open.pop();
                }
                _ => return None,
            }
        }
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b[i..].starts_with(word).then_some(i + word.len())
}

/// The containers a value is inside, a bit each (object or array): the
/// first 64 in a word, deeper ones on the heap.
#[derive(Default)]
struct Open {
    depth: usize,
    near: u64,
    deep: Vec<u64>,
}

impl Open {
    fn push(&mut self, object: bool) {
        let d = self.depth;
        let word = if d < 64 {
            &mut self.near
        } else {
            if (d - 64) / 64 == self.deep.len() {
                self.deep.push(0);
            }
            &mut self.deep[(d - 64) / 64]
        };
        let bit = d % 64;
        *word = (*word & !(1 << bit)) | (u64::from(object) << bit);
        self.depth += 1;
    }

    /// Whether the innermost container is an object; `None` outside any.
    fn top(&self) -> Option<bool> {
        let d = self.depth.checked_sub(1)?;
        let word = if d < 64 {
            self.near
        } else {
            self.deep[(d - 64) / 64]
        };
        Some(word >> (d % 64) & 1 == 1)
    }

    fn pop(&mut self) {
        self.depth -= 1;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What serde_json takes as one object (it skips a value the same way
    /// a field it does not read is skipped).
    fn serde_takes(text: &str) -> bool {
        text.trim_start_matches([' ', '\n', '\t', '\r'])
            .starts_with('{')
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    /// `text` cut at `at`, or `put` put in there (at a character's start).
    pub(in super::super) fn mangle(
        text: &mut String,
        at: prop::sample::Index,
        put: &str,
        cut: bool,
    ) {
        let mut at = at.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        if cut {
            text.truncate(at);
        } else {
            text.insert_str(at, put);
        }
    }

    fn checked(text: &str) -> bool {
        members::<0>(text, |_| None).is_some()
    }

    #[test]
    fn takes_and_refuses_what_serde_json_does() {
        let cases = [
            r#"{}"#,
            r#" { } "#,
            "\t{\"a\":1}\r\n",
            r#"{"a":[1,-2,3.5,4e5,-6.7E-8,0,-0,0.0,1e+2]}"#,
            r#"{"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00\ud800"}"#,
            r#"{"a":{"b":{"c":[[],{},[{}],true,false,null]}}}"#,
            r#"{"a":1e400,"b":-1e-400}"#,
            r#"{"é":"😀","\u0074ype":"x"}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{,"a":1}"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a":nul}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12g4"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"\u{7f}\"}",
            r#"{"a":"unterminated}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"{"a":1}}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}{"#,
            r#"{1:2}"#,
            r#"{'a':1}"#,
            r#"[1]"#,
            r#""s""#,
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "\u{a0}{}",
        ];
        for c in cases {
            assert_eq!(checked(c), serde_takes(c), "{c}");
        }
    }

    #[test]
    fn picks_members_by_name_and_the_last_of_a_name() {
        let text = r#"{"type":"assistant", "n" : [1, {"type":"inner"}] ,"m":{"x":"}"},"type":"last","t\u0079pe":"escaped-last?"}"#;
        let slot = |k: &str| match k {
            "type" => Some(0),
            "n" => Some(1),
            "m" => Some(2),
            _ => None,
        };
        let [kind, n, m] = members::<3>(text, slot).unwrap();
        assert_eq!(kind, Some(r#""escaped-last?""#));
        assert_eq!(n, Some(r#"[1, {"type":"inner"}]"#));
        assert_eq!(m, Some(r#"{"x":"}"}"#));
        assert_eq!(elements(n.unwrap()), Some(vec!["1", r#"{"type":"inner"}"#]));
        assert_eq!(elements("[ ]"), Some(vec![]));
        assert_eq!(elements(r#"{"a":1}"#), None);
        assert_eq!(elements("[[1,2] , 3 ]"), Some(vec!["[1,2]", "3"]));
        assert_eq!(elements("[1,]"), None);
        assert_eq!(elements("[1 2]"), None);
    }

    fn elements(text: &str) -> Option<Vec<&str>> {
        let mut found = Vec::new();
        array(text, 0, |at| {
            let end = skip(text, at)?;
            found.push(&text[at..end]);
            Some(end)
        })?;
        Some(found)
    }

    #[test]
    fn reads_a_string_member() {
        assert_eq!(str_of(r#""plain""#).as_deref(), Some("plain"));
        assert!(matches!(
            str_of(r#""plain""#),
            Some(std::borrow::Cow::Borrowed(_))
        ));
        assert_eq!(str_of(r#""a\"b\u00e9""#).as_deref(), Some("a\"bé"));
        assert_eq!(str_of(r#""\ud800""#), None);
        assert_eq!(str_of("5"), None);
        assert_eq!(str_of("null"), None);
    }

    /// 200,000 levels of nesting neither overflow the stack nor fail.
    #[test]
    fn any_depth() {
        let depth = 200_000;
        let deep = format!(
            "{{\"a\":{}1{}}}",
            "[{\"b\":".repeat(depth),
            "}]".repeat(depth)
        );
        assert!(checked(&deep));
        let mut wrong = deep.clone();
        wrong.replace_range(deep.len() - 2..deep.len() - 1, "}");
        assert!(!checked(&wrong));
    }

    /// A byte of JSON's syntax, a digit, a letter of a literal or escape,
    /// or any character.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(vec![
                "{", "}", "[", "]", "\"", ":", ",", " ", "\\", "\\u00", "-", ".", "e", "0",
                "1", "9", "true", "false", "null", "\"a\":", "\"type\":", "\n",
            ])
            .prop_map(str::to_owned),
            1 => any::<char>().prop_map(String::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        /// Near-JSON from JSON's own pieces: checked exactly as serde_json
        /// skips it.
        #[test]
        fn checks_as_serde_json_does(pieces in prop::collection::vec(piece(), 0..40)) {
            let text = format!("{{{}", pieces.concat());
            prop_assert_eq!(checked(&text), serde_takes(&text), "{}", text);
        }

        /// A valid object cut or changed at one place: still the same verdict.
        #[test]
        fn checks_mangled_json_as_serde_json_does(
            value in any_json(),
            at in any::<prop::sample::Index>(),
            with in piece(),
            cut in any::<bool>(),
        ) {
            let mut text = serde_json::json!({ "v": value, "type": "x" }).to_string();
            mangle(&mut text, at, &with, cut);
            prop_assert_eq!(checked(&text), serde_takes(&text), "{}", text);
        }
    }

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".*".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map("[a-z\"\\\\]{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
