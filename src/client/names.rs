//! Log name → id resolution with suggestions for typos.

use super::error::{Error, Result};
use super::model::LogInfo;

/// The log whose id is `name_or_id`, else the one log whose name is exactly
/// it, else the one log whose name matches ignoring case. A name that
/// several logs share (Rapid7 allows it) is [`Error::AmbiguousLog`], listing
/// their ids: the one rule wherever a name must mean one log
/// ([`pick_log`]).
pub fn resolve_log<'a>(logs: &'a [LogInfo], name_or_id: &str) -> Result<&'a LogInfo> {
    pick_log(
        logs,
        name_or_id,
        |l| l.id.as_str(),
        |l| Some(l.name.as_str()),
    )
}

/// [`resolve_log`] over any list of logs, given how to read a log's id and
/// name: exact id first, then exact name, then name ignoring case; two or
/// more logs at the first step that matches are ambiguous.
pub fn pick_log<'a, T>(
    logs: &'a [T],
    name_or_id: &str,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> Option<&str>,
) -> Result<&'a T> {
    if let Some(l) = logs.iter().find(|l| id(l) == name_or_id) {
        return Ok(l);
    }
    let wanted = name_or_id.to_lowercase();
    let exact: Vec<&T> = logs
        .iter()
        .filter(|l| name(l) == Some(name_or_id))
        .collect();
    let matches = if exact.is_empty() {
        logs.iter()
            .filter(|l| name(l).is_some_and(|n| n.to_lowercase() == wanted))
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::UnknownLog {
            name: name_or_id.to_string(),
            suggestions: suggest(logs.iter().filter_map(&name), name_or_id),
        }),
        several => Err(Error::AmbiguousLog {
            name: name_or_id.to_string(),
            ids: several.iter().map(|l| id(l).to_string()).collect(),
        }),
    }
}

/// Up to three of `candidates` close to `wanted` (substring or small edit
/// distance), closest first.
pub fn suggest<'a>(candidates: impl Iterator<Item = &'a str>, wanted: &str) -> Vec<String> {
    let w = wanted.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let lc = c.to_lowercase();
            let d = edit_distance(&lc, &w);
            let close = d <= (w.chars().count() / 3).max(2);
            let contains = !w.is_empty() && (lc.contains(&w) || w.contains(&lc));
            (close || contains).then_some((if contains { d.min(1) } else { d }, c))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs() -> Vec<LogInfo> {
        ["Firewall", "Web Proxy", "Auth Service", "firewall-old"]
            .iter()
            .enumerate()
            .map(|(i, n)| LogInfo {
                id: format!("id-{i}"),
                name: n.to_string(),
                source_type: String::new(),
                retention_period: String::new(),
                logsets_info: vec![],
            })
            .collect()
    }

    #[test]
    fn resolves_by_id_name_and_case() {
        let logs = logs();
        assert_eq!(resolve_log(&logs, "id-2").unwrap().name, "Auth Service");
        assert_eq!(resolve_log(&logs, "Web Proxy").unwrap().id, "id-1");
        assert_eq!(resolve_log(&logs, "web proxy").unwrap().id, "id-1");
    }

    #[test]
    fn unknown_lists_close_matches() {
        let logs = logs();
        let e = resolve_log(&logs, "Firewal").unwrap_err();
        let Error::UnknownLog { suggestions, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(suggestions[0], "Firewall");
        assert!(suggestions.contains(&"firewall-old".to_string()));
        assert!(e.to_string().contains("did you mean Firewall"), "{e}");
        let e = resolve_log(&logs, "zzzzzzzzzzzz").unwrap_err();
        assert!(matches!(e, Error::UnknownLog { ref suggestions, .. } if suggestions.is_empty()));
    }

    #[test]
    fn a_shared_name_is_ambiguous_and_lists_the_ids() {
        let mut logs = logs();
        logs[3].name = "Firewall".into();
        let e = resolve_log(&logs, "Firewall").unwrap_err();
        assert!(
            matches!(&e, Error::AmbiguousLog { ids, .. } if ids == &["id-0", "id-3"]),
            "{e}"
        );
        assert!(
            e.to_string().contains("id-0") && e.to_string().contains("id-3"),
            "{e}"
        );
        // Ignoring case too; the id still picks one.
        assert!(matches!(
            resolve_log(&logs, "FIREWALL"),
            Err(Error::AmbiguousLog { .. })
        ));
        assert_eq!(resolve_log(&logs, "id-3").unwrap().id, "id-3");
        // An exact name wins over names that match only ignoring case.
        logs[1].name = "firewall".into();
        logs[3].name = "FireWall".into();
        assert_eq!(resolve_log(&logs, "firewall").unwrap().id, "id-1");
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
