//! The snippets of docs/server.md marked `<!-- tested: NAME -->`, run as
//! written: the token and certificate commands (bash, openssl, sha256sum),
//! the systemd unit (`systemd-analyze verify`, then its `ExecStart` line as
//! the server), and the Python example (ADBC into pandas and polars) against
//! that server over TLS with the token. Only the unit's paths and ports are
//! substituted (`/etc/rapid7-sql` and the cache by temporary directories,
//! the ports by 0).

use std::path::Path;
use std::process::Command;

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::{MODULES, PATIENCE, python_or_skip};
use crate::serve::{Serve, command, spawn};
use crate::support::{self, T0};

const DOC: &str = include_str!("../../../../docs/server.md");

/// The code block after `<!-- tested: NAME -->`.
pub(super) fn snippet(name: &str) -> &'static str {
    let marker = format!("<!-- tested: {name} -->\n");
    let at = DOC
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/server.md has no {marker}"));
    let rest = &DOC[at + marker.len()..];
    let fence = rest.lines().next().unwrap();
    assert!(
        fence.starts_with("```"),
        "{name}: a code block follows its marker"
    );
    let body = &rest[fence.len() + 1..];
    &body[..body.find("\n```").expect("the block ends")]
}

/// `text` as `sha256sum` hashes it (hex).
pub(super) fn sha256_hex(text: &str) -> String {
    let o = Command::new("bash")
        .args([
            "-c",
            "printf %s \"$1\" | sha256sum | cut -d' ' -f1",
            "-",
            text,
        ])
        .output()
        .expect("bash runs");
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// Run `script` in bash (`set -euo pipefail`) with `/etc/rapid7-sql` as
/// `etc`; its stdout.
fn bash(script: &str, etc: &Path) -> Result<String, String> {
    let script = script.replace("/etc/rapid7-sql", etc.to_str().unwrap());
    let o = Command::new("bash")
        .args(["-c", &format!("set -euo pipefail\n{script}")])
        .output()
        .map_err(|e| format!("bash does not run: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{script}\nfailed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8(o.stdout).unwrap())
}

fn have(tool: &str) -> bool {
    Command::new("bash")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The token snippet for `name` (the doc's is for alice); the token.
fn make_token(etc: &Path, name: &str) -> String {
    let script = snippet("tokens").replace("alice:", &format!("{name}:"));
    let token = bash(&format!("{script}\nprintf %s \"$TOKEN\""), etc).unwrap();
    assert_eq!(token.len(), 64, "{token}");
    token
}

#[test]
fn every_tested_snippet_is_there() {
    for name in ["tokens", "tls", "python", "systemd"] {
        assert!(!snippet(name).trim().is_empty(), "{name}");
    }
    assert!(snippet("systemd").contains("\nExecStart=/usr/local/bin/rapid7-sql serve "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_tokens_tls_unit_and_python_example_work() {
    let test = "the_documented_tokens_tls_unit_and_python_example_work";
    let Some(python) = python_or_skip(test, MODULES) else {
        return;
    };
    if !have("openssl") || !have("sha256sum") {
        eprintln!("SKIPPED {test}: the snippets need openssl and sha256sum on PATH");
        return;
    }
    let server = support::server().await;
    let dir = TempDir::new().unwrap();
    let etc = dir.path().join("etc");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&etc).unwrap();

    // The token file and the certificates, made by the doc's commands.
    let token = make_token(&etc, "alice");
    let tokens = std::fs::read_to_string(etc.join("tokens")).unwrap();
    assert_eq!(tokens, format!("alice:{}\n", sha256_hex(&token)));
    bash(snippet("tls"), &etc).unwrap();
    for file in ["ca.pem", "server.pem", "server.key"] {
        assert!(etc.join(file).is_file(), "{file}");
    }

    // The unit, with this machine's paths.
    let unit = snippet("systemd")
        .replace("/usr/local/bin/rapid7-sql", super::BIN)
        .replace("/etc/rapid7-sql", etc.to_str().unwrap())
        .replace("/var/cache/rapid7-sql", cache.to_str().unwrap());
    if have("systemd-analyze") {
        std::fs::write(etc.join("credentials"), "RAPID7_API_KEY=k\n").unwrap();
        let path = dir.path().join("rapid7-sql.service");
        std::fs::write(&path, &unit).unwrap();
        let o = Command::new("systemd-analyze")
            .args(["verify", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        // The user need not exist here; anything else is a mistake in the unit.
        let complaints: Vec<&str> = err
            .lines()
            .filter(|l| {
                !l.contains("rapid7-sql") || l.contains("Unknown") || l.contains("ignoring")
            })
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(o.status.success() && complaints.is_empty(), "{err}");
    } else {
        eprintln!("{test}: no systemd-analyze here; the unit's ExecStart is still run");
    }

    // Its ExecStart line, on free ports.
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap()
        .replace(":8815", ":0")
        .replace(":9464", ":0");
    let mut words = exec.split_whitespace();
    let mut cmd = command(&server, dir.path(), words.next().unwrap());
    cmd.args(words);
    let mut served: Serve = spawn(&mut cmd)
        .await
        .unwrap_or_else(|e| panic!("serve exited ({}):\n{}", e.status, e.stderr));
    assert!(
        served.flight.starts_with("grpc+tls://0.0.0.0:"),
        "{}",
        served.flight
    );
    let uri = format!("grpc+tls://localhost:{}", served.port());

    // The Python example, as written, over TLS with the private CA and alice's token.
    let wrapper = r#"
import json, sys
exec(compile(sys.argv[1], "docs/server.md", "exec"))
minutes = (df["minute"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
print(json.dumps({
    "pandas": [[int(m), int(n)] for m, n in zip(minutes, df["events"])],
    "polars": frame.select(pl.col("minute").dt.epoch("ms"), "events").rows(),
}))
"#;
    let wrapper = format!("import pandas as pd\n{wrapper}");
    let run = tokio::process::Command::new(&python)
        .args(["-c", &wrapper, snippet("python")])
        .env("RAPID7_SQL_URI", &uri)
        .env("RAPID7_SQL_TOKEN", &token)
        .env("RAPID7_SQL_CA", etc.join("ca.pem"))
        .kill_on_drop(true)
        .output();
    let o = tokio::time::timeout(PATIENCE, run).await.unwrap().unwrap();
    assert!(
        o.status.success(),
        "{}\nserver log:\n{}",
        String::from_utf8_lossy(&o.stderr),
        served.log()
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let got: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    // What the simulator holds: Auth Service's events per minute of the hour.
    let mut want: Vec<Value> = Vec::new();
    let mut events = support::truth(
        &server,
        &support::log_id(&server, "Auth Service"),
        T0,
        T0 + 3_600_000,
    );
    events.sort_by_key(|e| (e.0, e.1));
    for e in &events {
        let minute = e.0 - e.0.rem_euclid(60_000);
        match want.last_mut() {
            Some(last) if last[0] == json!(minute) => {
                last[1] = json!(last[1].as_i64().unwrap() + 1);
            }
            _ => want.push(json!([minute, 1])),
        }
    }
    assert!(want.len() > 30, "{want:?}");
    assert_eq!(got["pandas"].as_array().unwrap(), &want);
    assert_eq!(got["polars"].as_array().unwrap(), &want);

    // A token added as documented works after `systemctl reload` (SIGHUP)
    // and not before; alice's still works.
    let bob = make_token(&etc, "bob");
    let works = |token: &str| {
        let spec = json!({"uri": uri, "token": token, "ca": etc.join("ca.pem")});
        let python = python.clone();
        async move {
            let o = tokio::process::Command::new(python)
                .arg(super::script())
                .args(["auth", &spec.to_string()])
                .output()
                .await
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            v["ok"] == json!(true)
        }
    };
    assert!(!works(&bob).await, "bob before the reload");
    served.signal(Signal::SIGHUP);
    served.wait_for_log("serve_tokens_reloaded").await;
    assert!(works(&bob).await, "bob after the reload:\n{}", served.log());
    assert!(works(&token).await, "alice after the reload");

    // SIGTERM (systemctl stop): a clean stop, exit status 0.
    served.signal(Signal::SIGTERM);
    let ended = served.wait().await;
    assert!(
        ended.status.success(),
        "{}:\n{}",
        ended.status,
        ended.stderr
    );
    assert!(ended.stderr.contains("serve_stopped"), "{}", ended.stderr);
}
