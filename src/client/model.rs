//! Wire types of the Log Search API, parsed leniently.
//!
//! Rapid7's own examples disagree on details (numbers rendered as strings and
//! back, `rel` in two casings, wrapped and unwrapped objects), so every type
//! here accepts each shape seen in the documentation or real clients.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};

/// A link in a response's `links` array.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Link {
    /// `Self`, `Next`, `Context`, … (compared case-insensitively).
    #[serde(default)]
    pub rel: String,
    /// Absolute URL, followed verbatim.
    #[serde(default)]
    pub href: String,
}

/// The first link with relation `rel` (case-insensitive).
pub(crate) fn find_link<'a>(links: &'a [Link], rel: &str) -> Option<&'a Link> {
    links
        .iter()
        .find(|l| l.rel.eq_ignore_ascii_case(rel) && !l.href.is_empty())
}

/// The `links` of an answer read as JSON; an entry that is not a link is
/// left out (the others still count).
pub(crate) fn links_of(value: &serde_json::Value) -> Vec<Link> {
    value
        .get("links")
        .and_then(serde_json::Value::as_array)
        .map(|links| {
            links
                .iter()
                .filter_map(|l| serde_json::from_value::<Link>(l.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A log set a log belongs to.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct LogSetInfo {
    /// Log set id.
    #[serde(default)]
    pub id: String,
    /// Log set name.
    #[serde(default)]
    pub name: String,
}

/// A log as listed by `/management/logs`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct LogInfo {
    /// The log key used in query paths.
    pub id: String,
    /// Display name (not guaranteed unique).
    #[serde(default)]
    pub name: String,
    /// `syslog`, `token` or `internal`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub source_type: String,
    /// Retention setting (`1w` … `unlimited`, `default`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub retention_period: String,
    /// Log sets the log belongs to.
    #[serde(default, deserialize_with = "null_as_default")]
    pub logsets_info: Vec<LogSetInfo>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A log set as `GET /management/logsets` lists it: its logs in
/// `logs_info` (rapid7-api.md §5).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct LogSetDetail {
    /// Log set id.
    #[serde(default)]
    pub id: String,
    /// Log set name.
    #[serde(default)]
    pub name: String,
    /// Its logs (each an id and a name; the name as the log list has it).
    #[serde(default, deserialize_with = "null_as_default")]
    pub logs_info: Vec<LogSetInfo>,
}

/// `{"logsets": [...]}` or a bare array.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum LogSetList {
    Wrapped {
        #[serde(deserialize_with = "null_as_default")]
        logsets: Vec<LogSetDetail>,
    },
    Bare(Vec<LogSetDetail>),
}

impl LogSetList {
    pub(crate) fn into_sets(self) -> Vec<LogSetDetail> {
        match self {
            LogSetList::Wrapped { logsets } | LogSetList::Bare(logsets) => logsets,
        }
    }
}

/// `{"logs": [...]}` or a bare array.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum LogList {
    Wrapped { logs: Vec<LogInfo> },
    Bare(Vec<LogInfo>),
}

impl LogList {
    pub(crate) fn into_logs(self) -> Vec<LogInfo> {
        match self {
            LogList::Wrapped { logs } | LogList::Bare(logs) => logs,
        }
    }
}

/// `{"log": {...}}` or the bare object.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneLog {
    Wrapped { log: LogInfo },
    Bare(LogInfo),
}

impl OneLog {
    pub(crate) fn into_log(self) -> LogInfo {
        match self {
            OneLog::Wrapped { log } | OneLog::Bare(log) => log,
        }
    }
}

/// The server's message from an error body, whatever its shape:
/// `{"message": …}`, `{"code": …, "message": …}`, `{"errorCode": …, "message": …}`,
/// `{"fields": […], "messages": […]}`, or plain text.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        messages: Option<Vec<String>>,
        #[serde(default)]
        fields: Option<Vec<String>>,
    }
    if let Ok(b) = serde_json::from_slice::<ErrorBody>(body) {
        let mut parts = Vec::new();
        if let Some(m) = b.message {
            parts.push(m);
        }
        if let Some(ms) = b.messages {
            parts.extend(ms);
        }
        if let Some(fs) = b.fields.filter(|f| !f.is_empty()) {
            parts.push(format!("(fields: {})", fs.join(", ")));
        }
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else {
        text.chars().take(500).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_list_shapes() {
        let wrapped = br#"{"logs":[{"id":"a","name":"Firewall","source_type":null,"logsets_info":[{"id":"s","name":"Set","rrn":"x"}],"extra":1}]}"#;
        let logs = serde_json::from_slice::<LogList>(wrapped)
            .unwrap()
            .into_logs();
        assert_eq!(logs[0].name, "Firewall");
        assert_eq!(logs[0].logsets_info[0].name, "Set");
        let bare = br#"[{"id":"a","name":"Firewall"},{"id":"b"}]"#;
        let logs = serde_json::from_slice::<LogList>(bare).unwrap().into_logs();
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[1].name, "");
        let one = br#"{"log":{"id":"a","name":"X"}}"#;
        assert_eq!(
            serde_json::from_slice::<OneLog>(one)
                .unwrap()
                .into_log()
                .name,
            "X"
        );
        let one = br#"{"id":"a","name":"Y"}"#;
        assert_eq!(
            serde_json::from_slice::<OneLog>(one)
                .unwrap()
                .into_log()
                .name,
            "Y"
        );
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_message(br#"{"message":"Unauthorized"}"#),
            "Unauthorized"
        );
        assert_eq!(
            error_message(br#"{"code":404,"message":"Log Not Found"}"#),
            "Log Not Found"
        );
        assert_eq!(
            error_message(br#"{"fields":["time_range"],"messages":["Invalid query: x"]}"#),
            "Invalid query: x; (fields: time_range)"
        );
        assert_eq!(
            error_message(b"API rate limit exceeded\n"),
            "API rate limit exceeded"
        );
        assert_eq!(error_message(b""), "(empty body)");
    }

    #[test]
    fn links_case_insensitive() {
        let links = vec![
            Link {
                rel: "next".into(),
                href: "http://x/n".into(),
            },
            Link {
                rel: "Self".into(),
                href: String::new(),
            },
        ];
        assert_eq!(find_link(&links, "Next").unwrap().href, "http://x/n");
        assert!(find_link(&links, "self").is_none(), "empty href is no link");
    }
}
