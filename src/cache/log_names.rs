//! `_LOGS.json` at the cache root: what the cache knows of each log beyond
//! its segments. The names of the logs the cache has seen, so that offline
//! queries (and other readers of the cache) can select logs by name without
//! asking the API; and how each log sends its messages ([`MessageForm`]), so
//! that every session knows for which logs a pushed filter may be cached.
//!
//! ```json
//! {"format": 1,
//!  "logs": {"<log id>": "Firewall"},
//!  "messages": {"<log id>": "text"}}
//! ```
//!
//! `messages` is optional: a file without it (an older writer's) knows no
//! log's form, which only keeps pushed filters out of the cache. The log
//! sets are kept beside it, in `_LOGSETS.json` (`log_sets.rs`).
//!
//! The file is rewritten read-merge-write, so two processes (or hosts over
//! one S3 cache) writing it at once can lose what one of them wrote. Losing
//! a name or a `text` verdict is harmless: names fall back to those stored
//! in the parts, and a log not known to send text only keeps pushed filters
//! out of the cache until a read shows it again. Losing `objects` is not:
//! so `objects` is recorded as a write-once marker per log instead,
//! `_OBJECTS/<log id>` ([`OBJECTS_DIR`]), which nothing rewrites or removes,
//! read with the file (the marker wins). A read of the file that fails for any reason but its
//! absence fails the write too: an unreadable file is never replaced by a
//! near-empty one.

use std::collections::BTreeMap;

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::root_file;
use super::store::CacheRoot;

/// File name of the log directory under the cache root.
pub const LOG_NAMES_FILE: &str = "_LOGS.json";

/// Directory under the cache root of the write-once markers of the logs
/// seen sending JSON objects ([`MessageForm::Objects`]): one empty object
/// per log id.
pub const OBJECTS_DIR: &str = "_OBJECTS";

/// The `format` this version writes; a file of a later one is read, never
/// rewritten (its writer may know fields this one would drop).
const FORMAT: u32 = 1;

/// How a log sends `message`, as far as reads have shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageForm {
    /// As JSON strings: the text this client stores is the text Rapid7
    /// searched, so a pushed LEQL filter is a proven superset of the SQL
    /// filter, and the events it selects may be cached as a filtered
    /// segment.
    Text,
    /// As JSON objects or arrays (some sources do): Rapid7 searched text this
    /// client never sees, so no filter is pushed for the log.
    Objects,
}

impl MessageForm {
    /// What is known once `self` was recorded and `seen` is seen: objects,
    /// once seen, stay (a log that sends text too is still no log a filter
    /// can be trusted on).
    pub fn merge(self, seen: MessageForm) -> MessageForm {
        match (self, seen) {
            (MessageForm::Text, MessageForm::Text) => MessageForm::Text,
            _ => MessageForm::Objects,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LogNames {
    format: u32,
    /// log id → log name.
    logs: BTreeMap<String, String>,
    /// log id → how it sends messages (absent: not known).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    messages: BTreeMap<String, MessageForm>,
}

/// Read-merge-write of the file, one at a time in this process.
static WRITING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn path(root: &CacheRoot) -> Path {
    root.prefix().clone().join(LOG_NAMES_FILE)
}

fn objects_dir(root: &CacheRoot) -> Path {
    root.prefix().clone().join(OBJECTS_DIR)
}

const WHAT: &str = "the log name directory";

async fn load_file(root: &CacheRoot) -> Result<LogNames> {
    root_file::read(
        root,
        LOG_NAMES_FILE,
        WHAT,
        "delete it, it is rewritten on the next online query",
    )
    .await
}

pub(crate) async fn load(root: &CacheRoot) -> Result<BTreeMap<String, String>> {
    Ok(load_file(root).await?.logs)
}

/// How each log the cache knows of sends its messages: the file's record,
/// and every objects marker over it.
pub(crate) async fn load_forms(root: &CacheRoot) -> Result<BTreeMap<String, MessageForm>> {
    let mut forms = load_file(root).await?.messages;
    for id in objects_markers(root).await? {
        forms.insert(id, MessageForm::Objects);
    }
    Ok(forms)
}

/// The log ids with an objects marker.
async fn objects_markers(root: &CacheRoot) -> Result<Vec<String>> {
    let dir = objects_dir(root);
    let listing = match root.store().list_with_delimiter(Some(&dir)).await {
        Ok(listing) => listing.objects,
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(source) => {
            return Err(Error::ObjectStore {
                path: root.display_path(&dir),
                source,
            });
        }
    };
    Ok(listing
        .iter()
        .filter_map(|o| o.location.filename().map(str::to_string))
        .collect())
}

/// Put the objects marker of `log_id`. It is empty and nothing removes it,
/// so a second put of it (another process's) changes nothing.
async fn mark_objects(root: &CacheRoot, log_id: &str) -> Result<()> {
    let dir = objects_dir(root);
    let path = dir.clone().join(log_id);
    root_file::put(root, &dir, &path, PutPayload::new()).await
}

/// Whether `log_id` has an objects marker.
async fn marked_objects(root: &CacheRoot, log_id: &str) -> Result<bool> {
    let path = objects_dir(root).join(log_id);
    match root.store().head(&path).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(source) => Err(Error::ObjectStore {
            path: root.display_path(&path),
            source,
        }),
    }
}

/// Merge `names` into the stored directory (last writer wins per id).
pub(crate) async fn save(root: &CacheRoot, names: &BTreeMap<String, String>) -> Result<()> {
    update(root, |file| {
        file.logs
            .extend(names.iter().map(|(k, v)| (k.clone(), v.clone())));
    })
    .await
    .map(|_| ())
}

/// Record that `log_id` was seen sending `form` ([`MessageForm::merge`] with
/// what is recorded); the form now recorded. Objects are recorded by the
/// log's marker alone; `messages` of older files may say `objects` too.
pub(crate) async fn record_form(
    root: &CacheRoot,
    log_id: &str,
    form: MessageForm,
) -> Result<MessageForm> {
    match form {
        // The marker is the record of objects; the file keeps text only.
        MessageForm::Objects => {
            mark_objects(root, log_id).await?;
            return Ok(MessageForm::Objects);
        }
        MessageForm::Text if marked_objects(root, log_id).await? => {
            return Ok(MessageForm::Objects);
        }
        MessageForm::Text => {}
    }
    let file = update(root, |file| {
        let now = match file.messages.get(log_id) {
            Some(known) => known.merge(form),
            None => form,
        };
        file.messages.insert(log_id.to_string(), now);
    })
    .await?;
    Ok(file.messages.get(log_id).copied().unwrap_or(form))
}

/// Apply `change` to the stored file and write it back when it changed (or
/// when there was none).
async fn update(root: &CacheRoot, change: impl FnOnce(&mut LogNames)) -> Result<LogNames> {
    let _one_at_a_time = WRITING.lock().await;
    // Only an absent file starts empty: any other failure to read it fails
    // the write rather than replace what it holds.
    let before = load_file(root).await?;
    if before.format > FORMAT {
        return Err(Error::Unavailable {
            location: root.display_path(&path(root)),
            message: format!(
                "the log name directory is of format {} (this version writes {FORMAT}): \
                 it is read but not rewritten; upgrade rapid7-sql",
                before.format
            ),
            source: None,
        });
    }
    let mut file = LogNames {
        format: FORMAT,
        logs: before.logs.clone(),
        messages: before.messages.clone(),
    };
    change(&mut file);
    let empty = before.logs.is_empty() && before.messages.is_empty();
    if file.logs == before.logs && file.messages == before.messages && !empty {
        return Ok(file);
    }
    root_file::write(root, LOG_NAMES_FILE, &file, WHAT).await?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_once_seen_stay() {
        use MessageForm::{Objects, Text};
        assert_eq!(Text.merge(Text), Text);
        assert_eq!(Text.merge(Objects), Objects);
        assert_eq!(Objects.merge(Text), Objects);
        // A file of an older writer has no `messages`; a new one round-trips.
        let old: LogNames = serde_json::from_str(r#"{"format":1,"logs":{"a":"A"}}"#).unwrap();
        assert!(old.messages.is_empty());
        let text = serde_json::to_string(&LogNames {
            format: 1,
            logs: old.logs,
            messages: [("a".to_string(), Objects)].into(),
        })
        .unwrap();
        assert!(text.contains(r#""messages":{"a":"objects"}"#), "{text}");
    }
}
