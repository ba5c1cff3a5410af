//! The Python that runs the tests' Python clients: the `deltalake` reader of
//! published tables (tests/it/publish/python.rs) and the ADBC Flight SQL
//! driver with pandas and polars (rapid7-sql/tests/it/serve_python.rs).
//!
//! `scripts/test` installs the pins of `scripts/requirements-test.txt` into a
//! venv at `$CARGO_TARGET_DIR/tmp/py-clients`, once per machine; or
//! `RAPID7_TEST_PYTHON` names a Python that has them. Without one, a test
//! says SKIPPED on stderr, with how to fix it, and checks nothing else: it
//! never passes silently.

use std::process::Command;

/// The pinned packages, as `scripts/test` installs them.
pub const REQUIREMENTS: &str = include_str!("../../../scripts/requirements-test.txt");

/// The pins of [`REQUIREMENTS`], space-separated (`name==version …`).
pub fn pins() -> String {
    REQUIREMENTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Python that imports every module of `modules` (e.g. `"deltalake, pyarrow"`),
/// or why there is none.
pub fn python(modules: &str) -> Result<String, String> {
    let candidate = std::env::var("RAPID7_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/py-clients/bin/python", env!("CARGO_TARGET_TMPDIR")));
    let probe = Command::new(&candidate)
        .args(["-c", &format!("import {modules}")])
        .output();
    match probe {
        Ok(o) if o.status.success() => Ok(candidate),
        Ok(o) => Err(format!(
            "{candidate} cannot import {modules}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{candidate} does not run: {e}")),
    }
}

/// [`python`], or the SKIPPED line for `test` on stderr and `None`.
pub fn python_or_skip(test: &str, modules: &str) -> Option<String> {
    match python(modules) {
        Ok(p) => Some(p),
        Err(why) => {
            eprintln!(
                "SKIPPED {test}: {why}. Run ./scripts/test (it creates \
                 $CARGO_TARGET_DIR/tmp/py-clients with `pip install -r \
                 scripts/requirements-test.txt`: {}), or set RAPID7_TEST_PYTHON to a \
                 Python that has them",
                pins()
            );
            None
        }
    }
}
