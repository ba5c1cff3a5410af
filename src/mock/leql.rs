//! The LEQL the simulator understands: a parser and an evaluator for
//! `where(...)`, `calculate(count|sum|average|min|max[:field])`,
//! `groupby(field[, field])` and `timeslice(N)`, clause names in any case
//! (`calculate(COUNT)`, `timeSlice(50)`, `GroupBy(...)`, as Rapid7's own saved
//! queries spell them).
//!
//! `where` takes regex terms `/…/` (with the `i` flag for case-insensitive),
//! keywords (bare or quoted with `'`, `"` or `'''`) and `AND`, `OR`, `NOT`
//! with parentheses. Keywords are token-based and case-sensitive, as Rapid7
//! documents: a keyword matches where the message holds it with no letter or
//! digit right before or after it (`fail` does not match `failed`). Regexes
//! follow Java's escaping: a backslash before any character that is not a
//! letter or digit stands for that character. Named groups of a regex term
//! (`/(?P<level>[A-Z]+)/`) are fields of the events it matches.
//!
//! **Fields** (for `calculate(FN:field)` and `groupby`): a named group of a
//! regex term, else a key of a JSON message (`"http.status"` as one key, or a
//! dotted path into nested objects), else a `key=value` pair of the message
//! (the value quoted with `"` or up to the next space). `groupby` values are
//! lower-cased, as Rapid7 returns them; events without every groupby field
//! are in no group. `sum`, `average`, `min` and `max` take the field's value
//! as a number and leave out events where it is missing or not a number.
//!
//! Anything else (field comparisons, `count:field`, other functions, more
//! than two groupby keys, `sort`, `limit`) is not simulated and answers 400
//! "Invalid Query Request", as Rapid7 answers a statement it cannot run.

use regex::{Regex, RegexBuilder};

/// A parsed statement.
#[derive(Clone, Debug, Default)]
pub(crate) struct Statement {
    /// The `where(...)` filter.
    pub(crate) filter: Option<Expr>,
    /// `calculate(...)`.
    pub(crate) calculate: Option<Calculate>,
    /// `groupby(...)`: one or two field names.
    pub(crate) groupby: Vec<String>,
    /// `timeslice(N)`.
    pub(crate) timeslice: Option<u32>,
}

/// `calculate(FN[:field])`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Calculate {
    /// The function.
    pub(crate) function: Function,
    /// The field (none for `count`).
    pub(crate) field: Option<String>,
}

/// The functions the simulator computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    Count,
    Sum,
    Average,
    Min,
    Max,
}

impl Function {
    /// The `type` Rapid7 answers with, the key of every value object.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Function::Count => "count",
            Function::Sum => "sum",
            Function::Average => "average",
            Function::Min => "min",
            Function::Max => "max",
        }
    }
}

/// A `where(...)` expression.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    /// `/…/` or `/…/i`.
    Regex(Regex),
    /// A keyword: a full token (or phrase) of the message, case-sensitive.
    Keyword(String),
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Not.
    Not(Box<Expr>),
}

impl Statement {
    /// Whether the event with `message` is one the statement selects.
    pub(crate) fn matches(&self, message: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(message))
    }

    /// Whether Rapid7 answers the statement with statistics.
    pub(crate) fn is_statistical(&self) -> bool {
        self.calculate.is_some() || !self.groupby.is_empty()
    }

    /// The function computed (`groupby` alone counts).
    pub(crate) fn function(&self) -> Function {
        self.calculate
            .as_ref()
            .map_or(Function::Count, |c| c.function)
    }

    /// The value of field `name` in `message` (see the module docs).
    pub(crate) fn field(&self, message: &str, name: &str) -> Option<String> {
        let mut regexes = Vec::new();
        if let Some(f) = &self.filter {
            f.regexes(&mut regexes);
        }
        for re in regexes {
            if let Some(m) = re.captures(message).and_then(|c| c.name(name)) {
                return Some(m.as_str().to_string());
            }
        }
        json_field(message, name).or_else(|| kv_field(message, name))
    }
}

/// A key of a JSON object message: the key as written, else a dotted path.
fn json_field(message: &str, name: &str) -> Option<String> {
    if !message.trim_start().starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(message).ok()?;
    let found = v
        .get(name)
        .or_else(|| name.split('.').try_fold(&v, |at, part| at.get(part)))?;
    match found {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `name=value` in a message: at its start or after a space; the value in
/// `"…"`, or up to the next space.
fn kv_field(message: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=");
    message.match_indices(&needle).find_map(|(at, _)| {
        let before = message[..at].chars().next_back();
        if before.is_some_and(|c| !c.is_whitespace()) {
            return None;
        }
        let rest = &message[at + needle.len()..];
        Some(match rest.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next().unwrap_or("").to_string(),
            None => rest.split_whitespace().next().unwrap_or("").to_string(),
        })
    })
}

impl Expr {
    /// The regex terms, in order (their named groups are fields).
    fn regexes<'a>(&'a self, out: &mut Vec<&'a Regex>) {
        match self {
            Expr::Regex(re) => out.push(re),
            Expr::Keyword(_) => {}
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.regexes(out);
                b.regexes(out);
            }
            Expr::Not(a) => a.regexes(out),
        }
    }

    fn matches(&self, message: &str) -> bool {
        match self {
            Expr::Regex(re) => re.is_match(message),
            Expr::Keyword(k) => keyword_matches(k, message),
            Expr::And(a, b) => a.matches(message) && b.matches(message),
            Expr::Or(a, b) => a.matches(message) || b.matches(message),
            Expr::Not(a) => !a.matches(message),
        }
    }
}

fn keyword_matches(keyword: &str, message: &str) -> bool {
    if keyword.is_empty() {
        return true;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    message.match_indices(keyword).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + keyword.len()..].chars().next();
        !is_word(before) && !is_word(after)
    })
}

/// Parse `text`; `Err` is the reason it is not simulated.
pub(crate) fn parse(text: &str) -> Result<Statement, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    let mut st = Statement::default();
    loop {
        p.skip_ws();
        if p.i >= p.s.len() {
            return Ok(st);
        }
        let word = p.word().to_string();
        p.skip_ws();
        if !p.eat(b'(') {
            return Err(format!("expected `(` after {word:?}"));
        }
        match word.to_ascii_lowercase().as_str() {
            "where" if st.filter.is_none() => {
                let e = p.or()?;
                p.skip_ws();
                if !p.eat(b')') {
                    return Err("expected `)` closing where(".into());
                }
                st.filter = Some(e);
            }
            "calculate" if st.calculate.is_none() => {
                st.calculate = Some(calculate(&p.until(b')')?)?);
            }
            "groupby" if st.groupby.is_empty() => {
                let keys: Vec<String> = p
                    .until(b')')?
                    .split(',')
                    .map(|k| k.trim().to_string())
                    .collect();
                if keys
                    .iter()
                    .any(|k| k.is_empty() || k.contains(char::is_whitespace))
                {
                    return Err(format!("groupby({}) needs field names", keys.join(", ")));
                }
                if keys.len() > 2 {
                    return Err(format!(
                        "groupby with {} keys is not simulated (one or two)",
                        keys.len()
                    ));
                }
                st.groupby = keys;
            }
            "timeslice" if st.timeslice.is_none() => {
                let n = p.until(b')')?;
                let n: u32 = n
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| format!("timeslice({n}) needs a count of 1 to 1000"))?;
                st.timeslice = Some(n);
            }
            other => return Err(format!("{other}(...) is not simulated")),
        }
    }
}

/// `FN[:field]` of `calculate(...)`, the function in any case.
fn calculate(text: &str) -> Result<Calculate, String> {
    let (name, field) = match text.split_once(':') {
        Some((n, f)) => (n.trim(), Some(f.trim().to_string())),
        None => (text.trim(), None),
    };
    let function = match name.to_ascii_lowercase().as_str() {
        "count" => Function::Count,
        "sum" => Function::Sum,
        "average" => Function::Average,
        "min" => Function::Min,
        "max" => Function::Max,
        _ => return Err(format!("calculate({text}) is not simulated")),
    };
    match (function, field) {
        (Function::Count, None) => Ok(Calculate {
            function,
            field: None,
        }),
        (Function::Count, Some(_)) => Err(format!("calculate({text}) is not simulated")),
        (_, Some(f)) if !f.is_empty() && !f.contains(char::is_whitespace) => Ok(Calculate {
            function,
            field: Some(f),
        }),
        _ => Err(format!("calculate({text}) needs a field: {name}:field")),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &str {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        &self.text[start..self.i]
    }

    fn until(&mut self, c: u8) -> Result<String, String> {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != c {
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err("unclosed `(`".into());
        }
        let out = self.text[start..self.i].to_string();
        self.i += 1;
        Ok(out)
    }

    fn keyword_ahead(&self, kw: &str) -> bool {
        let end = self.i + kw.len();
        self.text
            .get(self.i..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(kw))
            && self.s.get(end).is_none_or(|c| !c.is_ascii_alphanumeric())
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        loop {
            self.skip_ws();
            if self.keyword_ahead("OR") {
                self.i += 2;
                let right = self.and()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            if self.keyword_ahead("AND") {
                self.i += 3;
                let right = self.unary()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.skip_ws();
        if self.keyword_ahead("NOT") {
            self.i += 3;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat(b'(') {
            let e = self.or()?;
            self.skip_ws();
            if !self.eat(b')') {
                return Err("expected `)`".into());
            }
            return Ok(e);
        }
        self.term()
    }

    fn term(&mut self) -> Result<Expr, String> {
        match self.s.get(self.i) {
            None => Err("expected a term".into()),
            Some(b'/') => {
                self.i += 1;
                let mut body = String::new();
                loop {
                    let Some(&c) = self.s.get(self.i) else {
                        return Err("unclosed regex".into());
                    };
                    if c == b'/' {
                        self.i += 1;
                        break;
                    }
                    if c == b'\\' {
                        let Some(next) = self.text[self.i + 1..].chars().next() else {
                            return Err("regex ends with a backslash".into());
                        };
                        push_escape(&mut body, next);
                        self.i += 1 + next.len_utf8();
                        continue;
                    }
                    let ch = self.text[self.i..].chars().next().unwrap_or('\u{fffd}');
                    body.push(ch);
                    self.i += ch.len_utf8();
                }
                let insensitive = self.s.get(self.i) == Some(&b'i');
                if insensitive {
                    self.i += 1;
                }
                RegexBuilder::new(&body)
                    .case_insensitive(insensitive)
                    .build()
                    .map(Expr::Regex)
                    .map_err(|e| format!("bad regex /{body}/: {e}"))
            }
            Some(&q @ (b'"' | b'\'')) => {
                let triple = self.text[self.i..].starts_with("'''");
                let close = if triple {
                    "'''"
                } else if q == b'"' {
                    "\""
                } else {
                    "'"
                };
                self.i += close.len();
                let rest = &self.text[self.i..];
                let end = rest.find(close).ok_or("unclosed quote")?;
                let k = rest[..end].to_string();
                self.i += end + close.len();
                Ok(Expr::Keyword(k))
            }
            Some(_) => {
                let start = self.i;
                while let Some(&c) = self.s.get(self.i) {
                    if c.is_ascii_whitespace() || c == b')' || c == b'(' {
                        break;
                    }
                    if matches!(c, b'=' | b'<' | b'>' | b'!') {
                        return Err("field comparisons are not simulated".into());
                    }
                    self.i += 1;
                }
                Ok(Expr::Keyword(self.text[start..self.i].to_string()))
            }
        }
    }
}

/// Java's rule: `\` before a letter or digit is a regex escape (`\d`, `\b`,
/// `\1`), before anything else it is that character itself.
fn push_escape(body: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        body.push('\\');
        body.push(c);
    } else {
        body.push_str(&regex::escape(&c.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(statement: &str, message: &str) -> bool {
        parse(statement).unwrap().matches(message)
    }

    #[test]
    fn clauses() {
        let st = parse("where(/x/) calculate(count) timeslice(24)").unwrap();
        assert!(st.is_statistical() && st.timeslice == Some(24) && st.filter.is_some());
        assert_eq!(st.function(), Function::Count);
        assert!(!parse("").unwrap().is_statistical());
        // Rapid7's own spellings.
        let st = parse("where(/x/) GroupBy(target, host) CALCULATE(AVERAGE:bytes) timeSlice(50)")
            .unwrap();
        assert_eq!(st.groupby, ["target", "host"]);
        assert_eq!(
            st.calculate,
            Some(Calculate {
                function: Function::Average,
                field: Some("bytes".into())
            })
        );
        assert_eq!(st.timeslice, Some(50));
        assert!(parse("groupby(host)").unwrap().is_statistical());
        for bad in [
            "calculate(sum(bytes))",
            "calculate(sum)",
            "calculate(count:bytes)",
            "calculate(unique:ip)",
            "groupby(a, b, c)",
            "groupby(host) groupby(user)",
            "where(status=500)",
            "timeslice(0)",
            "where(/x/",
            "limit(5)",
            "where(/(/)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_come_from_named_groups_json_and_key_value_pairs() {
        let st = parse(r"where(/memory usage is (?P<MemUsage>\d+)/)").unwrap();
        assert_eq!(
            st.field("x memory usage is 42 y", "MemUsage").as_deref(),
            Some("42")
        );
        let json = r#"{"http.status": "500", "src": {"port": 443}, "n": null}"#;
        assert_eq!(st.field(json, "http.status").as_deref(), Some("500"));
        assert_eq!(st.field(json, "src.port").as_deref(), Some("443"));
        assert_eq!(st.field(json, "n"), None);
        let kv = r#"time=1 user=bob ua="Mozilla 5" xbytes=9 bytes=12"#;
        assert_eq!(st.field(kv, "ua").as_deref(), Some("Mozilla 5"));
        assert_eq!(st.field(kv, "bytes").as_deref(), Some("12"));
        assert_eq!(st.field(kv, "missing"), None);
    }

    #[test]
    fn regexes_follow_java_escaping() {
        assert!(m(r"where(/10\.1\.2\.3/)", "src=10.1.2.3 ok"));
        assert!(!m(r"where(/10\.1\.2\.3/)", "src=10x1x2x3"));
        assert!(m(r"where(/a\ b\=c\<d\>e\/f/)", "a b=c<d>e/f"));
        assert!(m(r"where(/FAIL/i)", "login failed"));
        assert!(!m(r"where(/FAIL/)", "login failed"));
        assert!(m(r"where(/\d+/)", "n=42"));
    }

    #[test]
    fn keywords_are_tokens_and_case_sensitive() {
        assert!(m("where(fail)", "auth fail for bob"));
        assert!(!m("where(fail)", "auth failed for bob"));
        assert!(!m("where(Fail)", "auth fail for bob"));
        assert!(m("where('fail for')", "auth fail for bob"));
        assert!(m("where(\"10.1.2.3\")", "src=10.1.2.3 x"));
    }

    #[test]
    fn boolean_operators() {
        assert!(m("where(/a/ AND /b/)", "ab"));
        assert!(!m("where(/a/ AND /c/)", "ab"));
        assert!(m("where(/c/ or /b/)", "ab"));
        assert!(m("where(NOT /c/)", "ab"));
        assert!(!m("where(NOT (/a/ OR /c/))", "ab"));
    }
}
