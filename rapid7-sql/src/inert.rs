//! What reaches a terminal. Anyone who can put text into a log line (a user
//! name in a failed logon, an HTTP path) or name a log could otherwise set
//! the analyst's window title, colours, hyperlinks or clipboard (OSC 52):
//! the terminal obeys the control characters it prints. Shown here visibly
//! and inertly instead, as `\x1b`: the C0 controls except tab and newline,
//! DEL, and the C1 controls (U+0080 to U+009F).
//!
//! Applied to the table format wherever it goes (it is for people), to
//! every format when stdout is a terminal (and to what the pager gets), and
//! to messages on stderr that carry log names or the API's text. CSV, JSON
//! and NDJSON to files and pipes keep their bytes.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Whether `c` is shown as an escape.
fn is_control(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}')
}

/// Whether `text` holds a control character [`inert`] would show.
pub(crate) fn has_controls(text: &str) -> bool {
    text.chars().any(is_control)
}

/// `text` with every control character (but tab and newline) as `\xHH`.
pub(crate) fn inert(text: &str) -> Cow<'_, str> {
    if !has_controls(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match is_control(c) {
            true => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            false => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `error: MESSAGE` on stderr, the message made inert (it may quote the
/// API, name logs, or hold text from them).
pub(crate) fn print_error(message: &str) {
    eprintln!("error: {}", inert(message));
}

/// A writer that passes UTF-8 text on with its control characters made
/// inert, as [`inert`] does; a C1 control's two bytes may arrive in
/// different writes.
pub(crate) struct Inert<W: Write> {
    inner: W,
    /// The last write ended with `0xC2`, the first byte of a C1 control
    /// (or of another character in U+0080..U+00BF).
    pending: bool,
}

impl<W: Write> Inert<W> {
    pub(crate) fn new(inner: W) -> Self {
        Inert {
            inner,
            pending: false,
        }
    }
}

fn escape(out: &mut Vec<u8>, code: u8) {
    let _ = write!(out, "\\x{code:02x}");
}

impl<W: Write> Write for Inert<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 16);
        for &b in buf {
            if std::mem::take(&mut self.pending) {
                if (0x80..=0x9f).contains(&b) {
                    escape(&mut out, b);
                    continue;
                }
                out.push(0xc2);
            }
            match b {
                0xc2 => self.pending = true,
                b'\t' | b'\n' => out.push(b),
                0x00..=0x1f | 0x7f => escape(&mut out, b),
                _ => out.push(b),
            }
        }
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    /// A pending `0xC2` stays pending: UTF-8 text always completes it.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for Inert<W> {
    fn drop(&mut self) {
        // Only text that was not UTF-8 ends in the middle of a character.
        if self.pending {
            let _ = self.inner.write_all(&[0xc2]);
            let _ = self.inner.flush();
        }
    }
}

/// `bytes` (UTF-8 text) with their control characters made inert.
pub(crate) fn inert_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    {
        let mut w = Inert::new(&mut out);
        let _ = w.write_all(bytes);
    }
    out
}

/// `batch` as the table format shows it, made inert: the column names, and
/// every column that can hold text (strings, lists, structs, maps, …) as
/// the table's display strings. Numbers, times and booleans stay as they
/// are (no control character can be in them), so columns keep their
/// alignment.
pub(crate) fn inert_batch(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let options = FormatOptions::default().with_display_error(true);
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let name = inert(field.name()).into_owned();
        let data_type = field.data_type();
        if data_type.is_primitive() || matches!(data_type, DataType::Boolean | DataType::Null) {
            fields.push(field.as_ref().clone().with_name(name));
            columns.push(Arc::clone(column));
            continue;
        }
        let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
        let shown: StringArray = (0..column.len())
            .map(|i| {
                (!column.is_null(i)).then(|| inert(&formatter.value(i).to_string()).into_owned())
            })
            .collect();
        fields.push(Field::new(name, DataType::Utf8, true));
        columns.push(Arc::new(shown) as ArrayRef);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\x1b]0;title\x07b\x1b[31mc\u{9b}2Jd\x7fe\r\tf\ng\u{85}é✓";
    const SHOWN: &str = "a\\x1b]0;title\\x07b\\x1b[31mc\\x9b2Jd\\x7fe\\x0d\tf\ng\\x85é✓";

    #[test]
    fn controls_are_shown_and_the_rest_is_kept() {
        assert_eq!(inert(HOSTILE), SHOWN);
        assert!(matches!(inert("plain é ✓\ttab\n"), Cow::Borrowed(_)));
        assert_eq!(inert_bytes(HOSTILE.as_bytes()), SHOWN.as_bytes());
    }

    #[test]
    fn the_writer_handles_a_c1_control_split_across_writes() {
        let bytes = HOSTILE.as_bytes();
        for split in 0..=bytes.len() {
            let mut out = Vec::new();
            {
                let mut w = Inert::new(&mut out);
                w.write_all(&bytes[..split]).unwrap();
                w.flush().unwrap();
                w.write_all(&bytes[split..]).unwrap();
                w.flush().unwrap();
            }
            assert_eq!(String::from_utf8(out).unwrap(), SHOWN, "split at {split}");
        }
    }

    #[test]
    fn table_batches_show_text_inertly_and_keep_numbers() {
        use datafusion::arrow::array::{Array, Int64Array, ListBuilder, StringBuilder};
        let mut labels = ListBuilder::new(StringBuilder::new());
        labels.values().append_value("x\x1by");
        labels.append(true);
        labels.append(false);
        let labels = labels.finish();
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("m\x1b", DataType::Utf8, true),
            Field::new("labels", labels.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![
                    Some("\x1b]52;c;ZXZpbA==\x07"),
                    None,
                ])),
                Arc::new(labels),
            ],
        )
        .unwrap();
        let shown = inert_batch(&batch).unwrap();
        assert_eq!(shown.schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(shown.schema().field(1).name(), "m\\x1b");
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&[shown])
            .unwrap()
            .to_string();
        assert!(!text.chars().any(is_control), "{text:?}");
        assert!(text.contains("\\x1b]52;c;ZXZpbA==\\x07"), "{text}");
        assert!(text.contains("[x\\x1by]"), "{text}");
    }
}
