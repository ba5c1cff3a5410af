//! Syntax highlighting of the line being typed, from sqlparser's tokenizer
//! (the one DataFusion parses with): keywords, strings, numbers, quoted
//! identifiers and comments in colour, everything else as typed. Only
//! colour codes are added, so the line keeps its width; a line that does
//! not tokenize yet (an unclosed quote) stays plain.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

const KEYWORD: &str = "\x1b[1;34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[33m";
const IDENT: &str = "\x1b[36m";
const COMMENT: &str = "\x1b[2m";
const COMMAND: &str = "\x1b[35m";
const RESET: &str = "\x1b[0m";

/// `line` with colour codes; `None` when nothing would be coloured.
pub(crate) fn highlight(line: &str) -> Option<String> {
    if line.trim_start().starts_with('\\') {
        return Some(format!("{COMMAND}{line}{RESET}"));
    }
    let tokens = Tokenizer::new(&GenericDialect {}, line)
        .tokenize_with_location()
        .ok()?;
    let starts: Vec<usize> = tokens
        .iter()
        .map(|t| offset(line, t.span.start.line, t.span.start.column))
        .collect();
    let mut out = String::with_capacity(line.len() * 2);
    let mut coloured = false;
    for (i, t) in tokens.iter().enumerate() {
        let (from, to) = (starts[i], starts.get(i + 1).copied().unwrap_or(line.len()));
        let text = line.get(from..to)?;
        match colour(&t.token) {
            Some(c) => {
                coloured = true;
                out.push_str(c);
                out.push_str(text);
                out.push_str(RESET);
            }
            None => out.push_str(text),
        }
    }
    // Anything before the first token (nothing, in practice).
    let first = starts.first().copied().unwrap_or(line.len());
    let out = format!("{}{out}", &line[..first.min(line.len())]);
    coloured.then_some(out)
}

fn colour(token: &Token) -> Option<&'static str> {
    match token {
        Token::Word(w) if w.quote_style.is_some() => Some(IDENT),
        Token::Word(w) if w.keyword != Keyword::NoKeyword => Some(KEYWORD),
        Token::Number(..) => Some(NUMBER),
        Token::SingleQuotedString(_)
        | Token::EscapedStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::DollarQuotedString(_) => Some(STRING),
        Token::Whitespace(Whitespace::SingleLineComment { .. })
        | Token::Whitespace(Whitespace::MultiLineComment(_)) => Some(COMMENT),
        _ => None,
    }
}

/// The byte offset of 1-based `line` and `column` (in characters) in `text`.
fn offset(text: &str, line: u64, column: u64) -> usize {
    let mut at = 0;
    for _ in 1..line {
        match text[at..].find('\n') {
            Some(nl) => at += nl + 1,
            None => return text.len(),
        }
    }
    text[at..]
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(text.len(), |(i, _)| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s` without colour codes.
    fn plain(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn keywords_strings_and_names_are_coloured_and_nothing_else_changes() {
        let line = "SELECT count(*) AS n FROM rapid7.\"Auth Service\" -- hi\n  WHERE log_name = 'é x' AND n > 10;";
        let h = highlight(line).unwrap();
        assert_eq!(plain(&h), line);
        assert!(h.contains(&format!("{KEYWORD}SELECT{RESET}")), "{h:?}");
        assert!(
            h.contains(&format!("{IDENT}\"Auth Service\"{RESET}")),
            "{h:?}"
        );
        assert!(h.contains(&format!("{STRING}'é x'{RESET}")), "{h:?}");
        assert!(h.contains(&format!("{NUMBER}10{RESET}")), "{h:?}");
        assert!(h.contains(&format!("{COMMENT}-- hi\n{RESET}")), "{h:?}");
        assert!(h.contains(" rapid7."), "names stay plain: {h:?}");
    }

    #[test]
    fn unfinished_lines_and_commands() {
        assert_eq!(highlight("SELECT 'unclosed"), None);
        assert_eq!(highlight("foo bar"), None);
        assert_eq!(
            highlight("\\d x").unwrap(),
            format!("{COMMAND}\\d x{RESET}")
        );
    }
}
