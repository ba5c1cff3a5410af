//! `key=value` text: `time=2026-02-10T00:00:00Z user=alice ua="Mozilla/5.0 (X11)"`.
//!
//! Pairs are separated by ASCII whitespace. A key is everything up to the
//! first `=` of a token; a value is either everything up to the next
//! whitespace, or a double-quoted string that may hold whitespace, with `\"`
//! and `\\` escapes. Tokens without `=` (free words) are skipped. When a key
//! appears twice, the first value counts.

use std::borrow::Cow;

/// One `key=value` pair of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPair<'a> {
    /// The key.
    pub key: &'a str,
    /// The value, unquoted and unescaped.
    pub value: Cow<'a, str>,
    /// Whether the value was double-quoted.
    pub quoted: bool,
}

/// Iterator over the pairs of a message; see the module docs for the rules.
#[derive(Debug, Clone)]
pub struct KvPairs<'a> {
    text: &'a str,
    pos: usize,
}

/// The pairs of `text`, in order.
pub fn kv_pairs(text: &str) -> KvPairs<'_> {
    KvPairs { text, pos: 0 }
}

/// The first value of `key` in `text`, if any.
pub fn kv_find<'a>(text: &'a str, key: &str) -> Option<Cow<'a, str>> {
    kv_pairs(text).find(|p| p.key == key).map(|p| p.value)
}

impl<'a> Iterator for KvPairs<'a> {
    type Item = KvPair<'a>;

    fn next(&mut self) -> Option<KvPair<'a>> {
        let bytes = self.text.as_bytes();
        loop {
            // Skip whitespace.
            while self.pos < bytes.len() && bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if self.pos >= bytes.len() {
                return None;
            }
            let start = self.pos;
            // The key runs to `=` or whitespace.
            while self.pos < bytes.len()
                && bytes[self.pos] != b'='
                && !bytes[self.pos].is_ascii_whitespace()
            {
                self.pos += 1;
            }
            if self.pos >= bytes.len() || bytes[self.pos] != b'=' || self.pos == start {
                // A free word (or `=value` without a key): skip to its end.
                while self.pos < bytes.len() && !bytes[self.pos].is_ascii_whitespace() {
                    self.pos += 1;
                }
                continue;
            }
            let key = &self.text[start..self.pos];
            self.pos += 1; // '='
            if bytes.get(self.pos) == Some(&b'"') {
                self.pos += 1;
                let (value, end) = quoted(self.text, self.pos);
                self.pos = end;
                return Some(KvPair {
                    key,
                    value,
                    quoted: true,
                });
            }
            let value_start = self.pos;
            while self.pos < bytes.len() && !bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            return Some(KvPair {
                key,
                value: Cow::Borrowed(&self.text[value_start..self.pos]),
                quoted: false,
            });
        }
    }
}

/// A quoted value starting at `start` (after the opening quote): the value
/// and the position after the closing quote (or the end of an unterminated
/// value).
fn quoted(text: &str, start: usize) -> (Cow<'_, str>, usize) {
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return (Cow::Borrowed(&text[start..i]), i + 1),
            b'\\' => return unescape(text, start),
            _ => i += 1,
        }
    }
    (Cow::Borrowed(&text[start..]), bytes.len())
}

/// The slow path of [`quoted`]: the value holds escapes.
fn unescape(text: &str, start: usize) -> (Cow<'_, str>, usize) {
    let mut out = String::new();
    let mut chars = text[start..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (Cow::Owned(out), start + i + 1),
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    (Cow::Owned(out), text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, bool)> {
        kv_pairs(text)
            .map(|p| (p.key.to_string(), p.value.into_owned(), p.quoted))
            .collect()
    }

    #[test]
    fn plain_quoted_and_escaped_values() {
        let text = r#"time=2026-02-10T00:00:00Z user=alice url=https://h/a?q=1 ua="Mozilla/5.0 (X11; Linux)" note="say \"hi\" \\ bye" ok=true"#;
        assert_eq!(
            pairs(text),
            vec![
                ("time".into(), "2026-02-10T00:00:00Z".into(), false),
                ("user".into(), "alice".into(), false),
                ("url".into(), "https://h/a?q=1".into(), false),
                ("ua".into(), "Mozilla/5.0 (X11; Linux)".into(), true),
                ("note".into(), r#"say "hi" \ bye"#.into(), true),
                ("ok".into(), "true".into(), false),
            ]
        );
    }

    #[test]
    fn free_words_empty_values_and_odd_tokens() {
        let text = "INFO started =x a= b==c  \t last=\"unterminated value";
        assert_eq!(
            pairs(text),
            vec![
                ("a".into(), "".into(), false),
                ("b".into(), "=c".into(), false),
                ("last".into(), "unterminated value".into(), true),
            ]
        );
        assert!(pairs("").is_empty());
        assert!(pairs("no pairs here").is_empty());
    }

    #[test]
    fn first_value_of_a_repeated_key_counts() {
        assert_eq!(kv_find("k=1 k=2", "k").as_deref(), Some("1"));
        assert_eq!(kv_find("k=1 k=2", "K"), None);
        assert_eq!(kv_find("kk=1", "k"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_finds_what_was_written(
            words in proptest::collection::vec("[a-z]{1,8}", 1..6),
            values in proptest::collection::vec("[ -~]{0,12}", 1..6),
            noise in "\\PC{0,40}",
        ) {
            // Any text: no panic.
            let _ = pairs(&noise);
            // Written pairs come back, quoted with escapes where needed.
            let mut text = String::new();
            let mut expected = Vec::new();
            for (i, (k, v)) in words.iter().zip(&values).enumerate() {
                let key = format!("{k}{i}");
                let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
                text.push_str(&format!("{key}=\"{escaped}\" "));
                expected.push((key, v.clone(), true));
            }
            proptest::prop_assert_eq!(pairs(&text), expected);
        }
    }
}
