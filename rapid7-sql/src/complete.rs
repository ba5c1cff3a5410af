//! Tab completion over a snapshot of the session's catalog ([`Names`]):
//! keywords, schemas, tables (quoted where SQL needs it:
//! `rapid7."Auth Service"`), columns, functions, and the shell's commands.
//! Pure: the snapshot is taken before each prompt from DataFusion's catalog
//! (the `rapid7` schema lists its tables from the log list it already
//! holds), so no keystroke reaches the Rapid7 API.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;

/// What can be completed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    /// Schemas of the default catalog.
    pub(crate) schemas: Vec<String>,
    /// The default schema's name.
    pub(crate) default_schema: String,
    /// Table names by schema.
    pub(crate) tables: BTreeMap<String, Vec<String>>,
    /// Column names of the tables known.
    pub(crate) columns: BTreeSet<String>,
    /// Scalar, aggregate, window and table functions.
    pub(crate) functions: BTreeSet<String>,
}

/// The shell's commands, for `\` completion.
pub(crate) const COMMANDS: [&str; 7] = ["\\?", "\\d", "\\format", "\\h", "\\o", "\\q", "\\timing"];

/// An identifier as SQL must write it: as it is when DataFusion would read
/// it back unchanged (lower case letters, digits and `_`), else in double
/// quotes.
pub(crate) fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    match plain {
        true => name.to_string(),
        false => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// The word being completed: where it starts, its text, and the name
/// before a `.` in front of it.
#[derive(Debug, PartialEq)]
struct Word {
    start: usize,
    text: String,
    qualifier: Option<String>,
}

/// Where the cursor is in `line[..pos]`: inside a string or comment
/// (`None`: nothing to complete), in a quoted identifier (starting at its
/// quote), or after plain characters.
fn word_at(line: &str, pos: usize) -> Option<Word> {
    let before = &line[..pos];
    let mut quote: Option<usize> = None;
    let mut in_string = false;
    let mut in_comment = false;
    let bytes = before.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_comment {
            in_comment = b != b'\n';
        } else if in_string {
            in_string = b != b'\'';
        } else if quote.is_some() {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quote = None;
                }
            }
        } else if b == b'\'' {
            in_string = true;
        } else if b == b'"' {
            quote = Some(i);
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            in_comment = true;
        }
        i += 1;
    }
    if in_string || in_comment {
        return None;
    }
    let start = match quote {
        Some(q) => q,
        None => before
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map_or(pos, |(i, _)| i),
    };
    Some(Word {
        start,
        text: before[start..].to_string(),
        qualifier: qualifier(&before[..start]),
    })
}

/// The identifier just before a trailing `.` of `before`, as DataFusion
/// reads it (a plain one in lower case).
fn qualifier(before: &str) -> Option<String> {
    let before = before.strip_suffix('.')?;
    if let Some(inner) = before.strip_suffix('"') {
        // Back to the opening quote, over doubled quotes.
        let bytes = inner.as_bytes();
        let mut i = bytes.len();
        while i > 0 {
            i -= 1;
            if bytes[i] == b'"' {
                if i > 0 && bytes[i - 1] == b'"' {
                    i -= 1;
                    continue;
                }
                return Some(inner[i + 1..].replace("\"\"", "\""));
            }
        }
        return None;
    }
    let name: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!name.is_empty()).then(|| name.to_lowercase())
}

/// Whether `candidate` (as written) completes `typed`: by its written form
/// when the user opened a quote, else by the name itself; in any case.
fn completes(typed: &str, name: &str, written: &str) -> bool {
    let against = if typed.starts_with('"') {
        written
    } else {
        name
    };
    against.to_lowercase().starts_with(&typed.to_lowercase())
}

/// Completions of `line` at `pos`: where the replaced word starts, and the
/// candidates as they would be written, sorted.
pub(crate) fn complete(names: &Names, line: &str, pos: usize) -> (usize, Vec<String>) {
    if line.trim_start().starts_with('\\') {
        return complete_command(names, line, pos);
    }
    let Some(word) = word_at(line, pos) else {
        return (pos, Vec::new());
    };
    let mut out = BTreeSet::new();
    let mut offer = |name: &str, written: String| {
        if completes(&word.text, name, &written) {
            out.insert(written);
        }
    };
    match &word.qualifier {
        Some(q) if names.tables.contains_key(q) => {
            for t in &names.tables[q] {
                offer(t, ident(t));
            }
        }
        Some(_) => {
            for c in &names.columns {
                offer(c, ident(c));
            }
        }
        None => {
            for s in &names.schemas {
                offer(s, ident(s));
            }
            for t in names
                .tables
                .get(&names.default_schema)
                .into_iter()
                .flatten()
            {
                offer(t, ident(t));
            }
            if !word.text.is_empty() {
                for c in &names.columns {
                    offer(c, ident(c));
                }
                for f in &names.functions {
                    offer(f, ident(f));
                }
                if !word.text.starts_with('"') {
                    let lower = word.text.chars().all(|c| !c.is_uppercase());
                    for k in ALL_KEYWORDS {
                        let k = if lower {
                            k.to_lowercase()
                        } else {
                            k.to_string()
                        };
                        offer(&k, k.clone());
                    }
                }
            }
        }
    }
    (word.start, out.into_iter().collect())
}

/// `\` commands, then their arguments: tables after `\d`, formats after
/// `\format`, `on`/`off` after `\timing` (files after `\o` are the
/// helper's).
fn complete_command(names: &Names, line: &str, pos: usize) -> (usize, Vec<String>) {
    let before = &line[..pos];
    let lead = before.len() - before.trim_start().len();
    let Some((command, _)) = before.trim_start().split_once(char::is_whitespace) else {
        let typed = &before[lead..];
        let found = COMMANDS
            .iter()
            .filter(|c| c.starts_with(typed))
            .map(|c| c.to_string())
            .collect();
        return (lead, found);
    };
    let start = before.rfind(char::is_whitespace).map_or(pos, |i| i + 1);
    let typed = &before[start..];
    let choose = |options: &[&str]| {
        options
            .iter()
            .filter(|o| o.starts_with(typed))
            .map(|o| o.to_string())
            .collect()
    };
    let found = match command {
        "\\format" => choose(&["csv", "json", "ndjson", "table"]),
        "\\timing" => choose(&["off", "on"]),
        "\\d" => return complete_table(names, line, pos),
        _ => Vec::new(),
    };
    (start, found)
}

/// A table name after `\d`: schema-qualified unless in the default schema.
fn complete_table(names: &Names, line: &str, pos: usize) -> (usize, Vec<String>) {
    let Some(word) = word_at(line, pos) else {
        return (pos, Vec::new());
    };
    let mut out = BTreeSet::new();
    match &word.qualifier {
        Some(q) => {
            for t in names.tables.get(q).into_iter().flatten() {
                if completes(&word.text, t, &ident(t)) {
                    out.insert(ident(t));
                }
            }
        }
        None => {
            for (schema, tables) in &names.tables {
                if *schema == names.default_schema {
                    for t in tables {
                        if completes(&word.text, t, &ident(t)) {
                            out.insert(ident(t));
                        }
                    }
                } else if completes(&word.text, schema, &ident(schema)) {
                    out.insert(format!("{}.", ident(schema)));
                }
            }
        }
    }
    (word.start, out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut tables = BTreeMap::new();
        tables.insert("public".to_string(), vec!["rapid7_logs".to_string()]);
        tables.insert("rapid7_parsed".to_string(), vec!["Firewall".to_string()]);
        tables.insert(
            "rapid7".to_string(),
            vec![
                "Auth Service".into(),
                "Firewall".into(),
                "web \"proxy\"".into(),
                "syslog".into(),
            ],
        );
        Names {
            schemas: vec!["public".into(), "rapid7".into(), "rapid7_parsed".into()],
            default_schema: "public".into(),
            tables,
            columns: ["timestamp", "log_name", "message"]
                .map(String::from)
                .into(),
            functions: ["rapid7_cache", "rapid7_coverage", "kv_get", "count"]
                .map(String::from)
                .into(),
        }
    }

    fn at_end(line: &str) -> (usize, Vec<String>) {
        complete(&names(), line, line.len())
    }

    #[test]
    fn quoted_per_log_tables_complete_from_a_quote_or_a_prefix() {
        let line = "SELECT * FROM rapid7.\"Au";
        assert_eq!(at_end(line), (21, vec!["\"Auth Service\"".to_string()]));
        let line = "SELECT * FROM rapid7.au";
        assert_eq!(at_end(line), (21, vec!["\"Auth Service\"".to_string()]));
        let line = "SELECT * FROM RAPID7.";
        let (start, all) = at_end(line);
        assert_eq!(start, line.len());
        assert_eq!(
            all,
            [
                "\"Auth Service\"",
                "\"Firewall\"",
                "\"web \"\"proxy\"\"\"",
                "syslog"
            ]
        );
        assert_eq!(
            at_end("FROM rapid7.\"web \"\"pr").1,
            ["\"web \"\"proxy\"\"\""]
        );
    }

    #[test]
    fn keywords_functions_columns_and_schemas() {
        let sel = at_end("sel").1;
        assert!(sel.contains(&"select".to_string()), "{sel:?}");
        assert!(sel.iter().all(|k| k.starts_with("sel")), "{sel:?}");
        assert!(at_end("SEL").1.contains(&"SELECT".to_string()));
        assert_eq!(
            at_end("SELECT * FROM rapid7_c").1,
            ["rapid7_cache", "rapid7_coverage"]
        );
        assert!(at_end("SELECT log_n").1.contains(&"log_name".to_string()));
        assert_eq!(at_end("SELECT kv_").1, ["kv_get"]);
        assert_eq!(at_end("SELECT * FROM rapid7_p").1, ["rapid7_parsed"]);
        assert_eq!(
            at_end("SELECT l.mess").1,
            ["message"],
            "columns after an alias"
        );
        assert!(
            at_end("SELECT * FROM ")
                .1
                .contains(&"rapid7_logs".to_string())
        );
        assert!(!at_end("SELECT * FROM ").1.iter().any(|c| c == "SELECT"));
    }

    #[test]
    fn nothing_inside_strings_and_comments() {
        assert!(at_end("SELECT 'rap").1.is_empty());
        assert!(at_end("SELECT 1 -- rap").1.is_empty());
        // Closed strings and quotes are passed over.
        assert_eq!(
            at_end("SELECT 'a' AS \"x\", rapid7_cov").1,
            ["rapid7_coverage"]
        );
    }

    #[test]
    fn shell_commands_and_their_arguments() {
        assert_eq!(at_end("\\f"), (0, vec!["\\format".to_string()]));
        assert_eq!(at_end("\\format j"), (8, vec!["json".to_string()]));
        assert_eq!(at_end("\\timing o").1, ["off", "on"]);
        assert_eq!(
            at_end("\\d rap").1,
            ["rapid7.", "rapid7_logs", "rapid7_parsed."]
        );
        assert_eq!(at_end("\\d rapid7.\"Fi").1, ["\"Firewall\""]);
    }

    #[test]
    fn identifiers_are_quoted_when_sql_needs_it() {
        assert_eq!(ident("rapid7_logs"), "rapid7_logs");
        assert_eq!(ident("Firewall"), "\"Firewall\"");
        assert_eq!(ident("Auth Service"), "\"Auth Service\"");
        assert_eq!(ident("timestamp"), "timestamp");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("1st"), "\"1st\"");
    }
}
