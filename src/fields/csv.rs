//! One CSV record per message (RFC 4180 quoting): fields separated by `,`; a
//! field that starts with `"` is quoted, may hold commas and newlines, and
//! writes a quote as `""`. Characters after a closing quote and before the
//! next comma are kept (lenient, as firewalls write them).

use std::borrow::Cow;

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvField<'a> {
    /// The text, unquoted.
    pub value: Cow<'a, str>,
    /// Whether the field was quoted.
    pub quoted: bool,
}

/// Iterator over the fields of one record.
#[derive(Debug, Clone)]
pub struct CsvFields<'a> {
    text: &'a str,
    /// Start of the next field; `None` once the record is exhausted.
    pos: Option<usize>,
}

/// The fields of `text`, in order. An empty text is one empty field.
pub fn csv_fields(text: &str) -> CsvFields<'_> {
    CsvFields { text, pos: Some(0) }
}

/// Field `index` (0-based) of `text`, if the record has that many fields.
pub fn csv_field(text: &str, index: usize) -> Option<CsvField<'_>> {
    csv_fields(text).nth(index)
}

impl<'a> Iterator for CsvFields<'a> {
    type Item = CsvField<'a>;

    fn next(&mut self) -> Option<CsvField<'a>> {
        let start = self.pos?;
        let bytes = self.text.as_bytes();
        if bytes.get(start) != Some(&b'"') {
            let end = memchr_comma(bytes, start);
            self.pos = (end < bytes.len()).then_some(end + 1);
            return Some(CsvField {
                value: Cow::Borrowed(&self.text[start..end]),
                quoted: false,
            });
        }
        // Quoted: find the closing quote that is not a doubled one.
        let mut i = start + 1;
        let mut doubled = false;
        let close = loop {
            match bytes.get(i) {
                None => break bytes.len(),
                Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                    doubled = true;
                    i += 2;
                }
                Some(b'"') => break i,
                Some(_) => i += 1,
            }
        };
        let inner = &self.text[start + 1..close];
        let mut value = if doubled {
            Cow::Owned(inner.replace("\"\"", "\""))
        } else {
            Cow::Borrowed(inner)
        };
        let after = (close + 1).min(bytes.len());
        let end = memchr_comma(bytes, after);
        if end > after {
            // Text between the closing quote and the comma.
            value.to_mut().push_str(&self.text[after..end]);
        }
        self.pos = (end < bytes.len()).then_some(end + 1);
        Some(CsvField {
            value,
            quoted: true,
        })
    }
}

fn memchr_comma(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b',')
        .map_or(bytes.len(), |p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<(String, bool)> {
        csv_fields(text)
            .map(|f| (f.value.into_owned(), f.quoted))
            .collect()
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_newlines() {
        let text = "2026-02-10T00:00:00.000Z,DENY,,\"a, b\",\"multi\nline\",\"say \"\"hi\"\"\",x";
        assert_eq!(
            fields(text),
            vec![
                ("2026-02-10T00:00:00.000Z".into(), false),
                ("DENY".into(), false),
                ("".into(), false),
                ("a, b".into(), true),
                ("multi\nline".into(), true),
                ("say \"hi\"".into(), true),
                ("x".into(), false),
            ]
        );
        assert_eq!(csv_field(text, 3).map(|f| f.value), Some("a, b".into()));
        assert_eq!(csv_field(text, 7), None);
    }

    #[test]
    fn edges() {
        assert_eq!(fields(""), vec![("".into(), false)]);
        assert_eq!(fields(","), vec![("".into(), false), ("".into(), false)]);
        assert_eq!(fields("a,"), vec![("a".into(), false), ("".into(), false)]);
        assert_eq!(
            fields("\"open, never closed"),
            vec![("open, never closed".into(), true)]
        );
        assert_eq!(
            fields("\"q\"tail,b"),
            vec![("qtail".into(), true), ("b".into(), false)]
        );
        assert_eq!(fields("\"\""), vec![("".into(), true)]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_round_trips(
            values in proptest::collection::vec("\\PC{0,12}", 1..8),
            noise in "\\PC{0,60}",
        ) {
            let _ = fields(&noise);
            let record = values
                .iter()
                .map(|v| format!("\"{}\"", v.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(",");
            let back: Vec<String> = fields(&record).into_iter().map(|(v, _)| v).collect();
            proptest::prop_assert_eq!(back, values);
        }
    }
}
