//! Response bodies, byte for byte as the API shapes them (rapid7-api.md §9).
//!
//! Event pages are written by hand rather than through `serde_json::Value`
//! so that `sequence_number` can be rendered the way the real service's
//! JavaScript-style serializer does: as the nearest `f64`, i.e. imprecise
//! above 2^53 (`3235937417370673152` becomes `3235937417370673000`).

use std::fmt::Write as _;

use serde_json::json;

use super::data::{MockEvent, MockLog};
use super::query::QuerySpec;

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

/// `{"statement":…,"during":{"from":…,"to":…[,"time_range":…]}}`
fn push_leql(out: &mut String, spec: &QuerySpec) {
    out.push_str("{\"statement\":");
    push_json_str(out, &spec.statement);
    let _ = write!(
        out,
        ",\"during\":{{\"from\":{},\"to\":{}",
        spec.from, spec.to
    );
    if let Some(tr) = &spec.time_range {
        out.push_str(",\"time_range\":");
        push_json_str(out, tr);
    }
    out.push_str("}}");
}

fn push_event(out: &mut String, e: &MockEvent, root: &str, numeric_str: bool) {
    out.push_str("{\"labels\":[");
    for (i, label) in e.labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        push_json_str(out, label);
        out.push_str(",\"links\":[{\"rel\":\"Self\",\"href\":");
        push_json_str(
            out,
            &format!("{root}/management/labels/{}", encode_segment(label)),
        );
        out.push_str("}]}");
    }
    // The f64 nearest to the sequence number, printed with all integer digits
    // (Rust's `Display` for f64 never uses an exponent; like JavaScript it
    // prints the shortest round-trip digits padded with zeros).
    let _ = write!(
        out,
        "],\"timestamp\":{},\"sequence_number\":{}",
        e.timestamp, e.sequence_number as f64
    );
    if numeric_str {
        let _ = write!(out, ",\"sequence_number_str\":{}", e.sequence_number);
    } else {
        let _ = write!(out, ",\"sequence_number_str\":\"{}\"", e.sequence_number);
    }
    out.push_str(",\"log_id\":");
    push_json_str(out, &e.log_id);
    out.push_str(",\"message\":");
    push_json_str(out, &e.message);
    out.push_str(",\"links\":[{\"rel\":\"Context\",\"href\":");
    push_json_str(
        out,
        &format!(
            "{root}/query/context/{}?per_page=50&timestamp={}&log_keys={}&context_type=SURROUND",
            e.sequence_number,
            e.timestamp,
            encode_query_value(&e.log_id)
        ),
    );
    out.push_str("}]}");
}

/// A finished page (§9 b/c): `links` only when there is a `Next` href.
pub(crate) fn page(
    spec: &QuerySpec,
    events: &[MockEvent],
    next: Option<&str>,
    root: &str,
    numeric_str: bool,
) -> Vec<u8> {
    let mut out = String::with_capacity(128 + events.len() * 600);
    out.push_str("{\"logs\":[");
    push_json_str(&mut out, &spec.log_id);
    out.push_str("],\"leql\":");
    push_leql(&mut out, spec);
    out.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_event(&mut out, e, root, numeric_str);
    }
    out.push(']');
    if let Some(href) = next {
        out.push_str(",\"links\":[{\"rel\":\"Next\",\"href\":");
        push_json_str(&mut out, href);
        out.push_str("}]");
    }
    out.push('}');
    out.into_bytes()
}

/// An in-progress answer (§9 a): progress, continuation id and its `Self` link.
pub(crate) fn continuation(spec: &QuerySpec, id: &str, progress: u32, self_href: &str) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    out.push_str("{\"logs\":[");
    push_json_str(&mut out, &spec.log_id);
    out.push_str("],\"leql\":");
    push_leql(&mut out, spec);
    let _ = write!(out, ",\"progress\":{progress},\"id\":");
    push_json_str(&mut out, id);
    out.push_str(",\"events\":[],\"links\":[{\"rel\":\"Self\",\"href\":");
    push_json_str(&mut out, self_href);
    out.push_str("}]}");
    out.into_bytes()
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

/// One log as the management API describes it (§5, §9 e).
pub(crate) fn log_json(log: &MockLog) -> serde_json::Value {
    json!({
        "id": log.id,
        "name": log.name,
        "tokens": [],
        "structures": [],
        "logsets_info": [],
        "user_data": {},
        "source_type": "token",
        "token_seed": null,
        "retention_period": "default",
        "rrn": format!("rrn:logsearch:us:{}:log:{}", super::ORG_ID, log.id),
        "links": [],
    })
}

/// One label (`GET /management/labels/{id}`); names are derived from the id.
pub(crate) fn label_json(id: &str) -> serde_json::Value {
    let short: String = id.chars().take(8).collect();
    json!({
        "label": {
            "id": id,
            "sn": 1,
            "name": format!("label-{short}"),
            "color": "ff0000",
            "reserved": false,
        }
    })
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

    #[test]
    fn sequence_numbers_render_like_javascript() {
        assert_eq!(
            format!("{}", 3_235_937_417_370_673_152u64 as f64),
            "3235937417370673000"
        );
    }
}
