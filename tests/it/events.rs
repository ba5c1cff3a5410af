//! docs/events.md against the code: every `tracing` event the crate emits
//! (library, binary and simulator) is catalogued with its level and exactly
//! its fields, every catalogued event is emitted, and every event's message
//! is its `snake_case` name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

#[derive(Debug, Default, PartialEq, Eq)]
struct Entry {
    levels: BTreeSet<String>,
    fields: BTreeSet<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text between the parenthesis at `open` and its match, strings
/// respected.
fn macro_body(text: &str, open: usize) -> &str {
    let bytes = text.as_bytes();
    let (mut depth, mut in_str, mut i) = (0usize, false, open);
    loop {
        let c = bytes[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return &text[open + 1..i];
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
}

/// Top-level arguments of a macro body.
fn arguments(body: &str) -> Vec<String> {
    let (mut out, mut current) = (Vec::new(), String::new());
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    for c in body.chars() {
        if in_str {
            current.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Every event in the source: name → levels and fields.
fn events_in_code() -> BTreeMap<String, Entry> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("rapid7-sql/src"), &mut files);
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for level in LEVELS {
            let needle = format!("{level}!(");
            for (at, _) in text.match_indices(&needle) {
                // `warn!(`, `tracing::warn!(`; not `error_span!(` or `mywarn!(`.
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let body = macro_body(&text, at + needle.len() - 1);
                let args = arguments(body);
                let line = text[..at].lines().count();
                let place = format!("{}:{line}", file.display());
                let message = args.last().unwrap_or_else(|| panic!("{place}: no message"));
                let name = message
                    .strip_prefix('"')
                    .and_then(|m| m.strip_suffix('"'))
                    .unwrap_or_else(|| {
                        panic!("{place}: the message must be a literal name, is {message}")
                    });
                assert!(
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{place}: the message {name:?} is not a snake_case event name"
                );
                let entry = out.entry(name.to_string()).or_default();
                entry.levels.insert(level.to_uppercase());
                for arg in &args[..args.len() - 1] {
                    let arg = arg.trim_start_matches(['%', '?']);
                    let field: String = arg
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let rest = arg[field.len()..].trim_start();
                    assert!(
                        !field.is_empty() && (rest.is_empty() || rest.starts_with('=')),
                        "{place}: cannot read the field {arg:?} of {name}"
                    );
                    entry.fields.insert(field);
                }
            }
        }
    }
    out
}

/// The rows of docs/events.md's event tables.
fn events_in_catalogue() -> BTreeMap<String, Entry> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/events.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = BTreeMap::new();
    let mut in_events_table = false;
    for line in text.lines() {
        if line.starts_with("| event | level | fields |") {
            in_events_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_events_table = false;
            continue;
        }
        if !in_events_table || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_string();
        let levels = cells[2].split(", ").map(str::to_string).collect();
        let fields = cells[3]
            .split(", ")
            .filter(|f| *f != "–")
            .map(|f| f.trim_matches('`').to_string())
            .collect();
        let previous = out.insert(name.clone(), Entry { levels, fields });
        assert!(previous.is_none(), "{name} is catalogued twice");
    }
    out
}

#[test]
fn the_catalogue_lists_every_event_with_its_level_and_fields() {
    let code = events_in_code();
    let catalogue = events_in_catalogue();
    assert!(code.len() > 50, "{} events found in the code", code.len());
    let mut problems = Vec::new();
    for (name, entry) in &code {
        match catalogue.get(name) {
            None => problems.push(format!("{name} is emitted but not in docs/events.md")),
            Some(listed) if listed != entry => problems.push(format!(
                "{name}: the code has {entry:?}, docs/events.md {listed:?}"
            )),
            Some(_) => {}
        }
    }
    for name in catalogue.keys().filter(|n| !code.contains_key(*n)) {
        problems.push(format!("{name} is in docs/events.md but never emitted"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_event_and_field_the_plans_name_is_emitted() {
    let code = events_in_code();
    let plans = crate::support::plans_events();
    assert!(plans.len() >= 14, "{plans:?}");
    let mut problems = Vec::new();
    for (name, fields) in &plans {
        match code.get(name) {
            None => problems.push(format!("the plans' {name} is never emitted")),
            Some(entry) => {
                for field in fields.difference(&entry.fields) {
                    problems.push(format!("the plans' {name} lacks {field}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
