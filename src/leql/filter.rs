//! [`Filter`]: the inside of a `where(...)` that pushdown sends, built only of
//! regex terms for literal substrings, in one canonical text per meaning.

use std::fmt;

/// Longest `where(…)` statement pushdown sends to Rapid7, in bytes (64
/// KiB: an IOC list of a thousand or two `LIKE`s). A longer one is not
/// pushed at all (`EXPLAIN` says so): the rows are fetched unfiltered and
/// DataFusion applies the SQL filter. Statements past
/// [`MAX_GET_STATEMENT_BYTES`](crate::client::MAX_GET_STATEMENT_BYTES) go in
/// a `POST` body.
pub const MAX_PUSHED_STATEMENT_BYTES: usize = 64 * 1024;

/// A `where(...)` expression: substrings the message must contain.
///
/// Built only from regex terms `/…/` (and `/…/i`) of escaped literals,
/// joined with `AND` / `OR`; never keywords, which Rapid7 matches as whole
/// tokens and so are no superset of a substring. Constructors flatten,
/// sort and deduplicate, so equal meanings print equal text
/// (its `Display` text, `filter.to_string()`, is the canonical statement
/// segments are keyed by).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Filter {
    /// `/literal/`, or `/literal/i` ignoring (ASCII) case.
    Contains {
        /// The substring, unescaped.
        literal: String,
        /// Whether case is ignored.
        case_insensitive: bool,
    },
    /// Every part.
    And(Vec<Filter>),
    /// Any part.
    Or(Vec<Filter>),
}

impl Filter {
    /// `/literal/` (or `/literal/i`).
    pub fn contains(literal: impl Into<String>, case_insensitive: bool) -> Filter {
        Filter::Contains {
            literal: literal.into(),
            case_insensitive,
        }
    }

    /// Every one of `parts` (`None` for none).
    pub fn all(parts: impl IntoIterator<Item = Filter>) -> Option<Filter> {
        let mut flat = Vec::new();
        for p in parts {
            match p {
                Filter::And(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        flat.sort();
        flat.dedup();
        match flat.len() {
            0 => None,
            1 => flat.pop(),
            _ => Some(Filter::And(flat)),
        }
    }

    /// Any one of `parts` (`None` for none).
    pub fn any(parts: impl IntoIterator<Item = Filter>) -> Option<Filter> {
        let mut flat = Vec::new();
        for p in parts {
            match p {
                Filter::Or(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        flat.sort();
        flat.dedup();
        match flat.len() {
            0 => None,
            1 => flat.pop(),
            _ => Some(Filter::Or(flat)),
        }
    }

    /// Whether `message` satisfies the filter, by its own meaning (substring
    /// tests; ASCII case folding for `i`): what Rapid7 is asked to evaluate.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Filter::Contains {
                literal,
                case_insensitive: false,
            } => message.contains(literal.as_str()),
            Filter::Contains {
                literal,
                case_insensitive: true,
            } => message
                .to_ascii_lowercase()
                .contains(&literal.to_ascii_lowercase()),
            Filter::And(parts) => parts.iter().all(|p| p.matches(message)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(message)),
        }
    }

    /// `where(…)`.
    pub fn statement(&self) -> String {
        super::events_statement(Some(&self.to_string()))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Contains {
                literal,
                case_insensitive,
            } => {
                write!(f, "/{}/", escape_literal(literal))?;
                if *case_insensitive {
                    f.write_str("i")?;
                }
                Ok(())
            }
            Filter::And(parts) => join(f, parts, " AND "),
            Filter::Or(parts) => join(f, parts, " OR "),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, parts: &[Filter], op: &str) -> fmt::Result {
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            f.write_str(op)?;
        }
        match p {
            Filter::Contains { .. } => write!(f, "{p}")?,
            nested => write!(f, "({nested})")?,
        }
    }
    Ok(())
}

/// A regex for the literal `s`: every ASCII character that is not a letter or
/// digit gets a backslash (so `/`, `.`, `(` and spaces stand for
/// themselves); other characters are themselves.
pub fn escape_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `s` can go into a regex term: no control characters (a raw
/// newline or tab inside a query string is not worth the risk).
pub fn pushable_literal(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text() {
        let a = Filter::contains("10.1.2.3", false);
        let b = Filter::contains("Failed Logon", true);
        assert_eq!(a.to_string(), r"/10\.1\.2\.3/");
        assert_eq!(b.to_string(), r"/Failed\ Logon/i");
        let both = Filter::all([b.clone(), a.clone(), a.clone()]).unwrap();
        assert_eq!(
            both,
            Filter::all([a.clone(), Filter::all([b.clone()]).unwrap()]).unwrap()
        );
        assert_eq!(both.to_string(), r"/10\.1\.2\.3/ AND /Failed\ Logon/i");
        let either = Filter::any([b.clone(), a.clone()]).unwrap();
        assert_eq!(either.to_string(), r"/10\.1\.2\.3/ OR /Failed\ Logon/i");
        let nested = Filter::all([either, Filter::contains("x/y", false)]).unwrap();
        assert_eq!(
            nested.statement(),
            r"where(/x\/y/ AND (/10\.1\.2\.3/ OR /Failed\ Logon/i))"
        );
        assert_eq!(Filter::all([]), None);
        assert_eq!(escape_literal("é(ü)"), "é\\(ü\\)");
    }

    #[test]
    fn matching_is_substring_and_ascii_case() {
        let f = Filter::all([
            Filter::contains("user=", false),
            Filter::contains("FAIL", true),
        ])
        .unwrap();
        assert!(f.matches("user=bob result=failed"));
        assert!(!f.matches("User=bob result=failed"));
        assert!(!f.matches("user=bob result=ok"));
    }
}
