//! Log name → id resolution with suggestions for typos.

use super::error::{Error, Result};
use super::model::LogInfo;

/// The log whose id is `name_or_id`, else whose name is exactly it, else whose
/// name matches ignoring case (only when that match is unique).
pub fn resolve_log<'a>(logs: &'a [LogInfo], name_or_id: &str) -> Result<&'a LogInfo> {
    if let Some(l) = logs.iter().find(|l| l.id == name_or_id) {
        return Ok(l);
    }
    if let Some(l) = logs.iter().find(|l| l.name == name_or_id) {
        return Ok(l);
    }
    let mut folded = logs
        .iter()
        .filter(|l| l.name.to_lowercase() == name_or_id.to_lowercase());
    if let (Some(l), None) = (folded.next(), folded.next()) {
        return Ok(l);
    }
    Err(Error::UnknownLog {
        name: name_or_id.to_string(),
        suggestions: suggest(logs.iter().map(|l| l.name.as_str()), name_or_id),
    })
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
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
