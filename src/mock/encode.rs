//! Encoding helpers shared by the message templates, the bodies and the
//! router: JSON string literals, percent-encoding of path segments and query
//! values, and the small JSON error bodies of the API (rapid7-api.md §9).

use std::fmt::Write as _;

use serde_json::json;

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-encodes a query-string value.
pub(crate) fn encode_query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Decodes `%XX` escapes of a path segment; `None` if the result is not UTF-8.
pub(crate) fn decode_segment(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(v as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `{"message": msg}`
pub(crate) fn message_body(msg: &str) -> Vec<u8> {
    json!({ "message": msg }).to_string().into_bytes()
}

/// `{"code": code, "message": msg}`
pub(crate) fn code_body(code: u16, msg: &str) -> Vec<u8> {
    json!({ "code": code, "message": msg })
        .to_string()
        .into_bytes()
}

/// `{"fields": [...], "messages": [...]}`, the validation error shape.
pub(crate) fn validation_body(fields: &[&str], message: &str) -> Vec<u8> {
    json!({ "fields": fields, "messages": [message] })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_round_trip() {
        for s in [
            "plain",
            "q\"uote\\back",
            "line\nbreak\ttab\r",
            "\u{1}ctl",
            "zoë 東京 — ✓",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }

    #[test]
    fn segments_round_trip() {
        let s = "a b/c:d%e\"—";
        assert_eq!(decode_segment(&encode_segment(s)).as_deref(), Some(s));
        assert_eq!(decode_segment("a%3Ab%zz").as_deref(), Some("a:b%zz"));
        assert_eq!(decode_segment("%ff"), None);
    }
}
