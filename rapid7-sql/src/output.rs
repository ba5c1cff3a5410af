//! Where results go: stdout, or a file (`\o FILE` in the shell); in the
//! shell, with stdout a terminal, a result longer or wider than the screen
//! goes through the pager (`$PAGER`, default `less -FRX`; an empty `PAGER`
//! turns it off).
//!
//! Whatever goes to the terminal (stdout, the pager) has its control
//! characters made inert ([`crate::inert`]); a file gets the bytes of its
//! format. `\o FILE` creates the file owner-only and refuses a symbolic
//! link there (`\o! FILE` writes through one).

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::inert::{Inert, inert_bytes};

/// The pager when `$PAGER` is not set.
const DEFAULT_PAGER: &str = "less -FRX";

/// The destination of a session's results.
#[derive(Debug)]
pub(crate) struct Destination {
    file: Option<(PathBuf, File)>,
    pager: Option<Pager>,
}

/// A pager command and the screen it pages for.
#[derive(Debug, Clone)]
pub(crate) struct Pager {
    command: String,
    rows: usize,
    cols: usize,
}

impl Destination {
    /// Stdout, never paged (`-c`, `-f`, subcommands).
    pub(crate) fn stdout() -> Self {
        Destination {
            file: None,
            pager: None,
        }
    }

    /// Stdout for the shell: paged when stdout is a terminal and a pager
    /// is configured.
    pub(crate) fn shell() -> Self {
        let command = match std::env::var("PAGER") {
            Ok(p) => p.trim().to_string(),
            Err(_) => DEFAULT_PAGER.to_string(),
        };
        let pager = (std::io::stdout().is_terminal() && !command.is_empty()).then_some(Pager {
            command,
            rows: 24,
            cols: 80,
        });
        Destination { file: None, pager }
    }

    /// The screen's size, as the line editor last saw it (`(columns, rows)`).
    /// A terminal that reports no height (0, or the line editor's "endless"
    /// `u16::MAX`) counts as 24 rows, as `less` assumes.
    pub(crate) fn set_screen(&mut self, size: Option<(usize, usize)>) {
        if let (Some(p), Some((cols, rows))) = (&mut self.pager, size) {
            if cols > 0 {
                p.cols = cols;
            }
            p.rows = match rows {
                0 => 24,
                r if r >= usize::from(u16::MAX) => 24,
                r => r,
            };
        }
    }

    /// `\o FILE`: results to `path` (created or truncated) from now on;
    /// `\o! FILE` (`through_link`) also through a symbolic link.
    pub(crate) fn send_to_file(&mut self, path: &Path, through_link: bool) -> io::Result<()> {
        let file = open_results_file(path, through_link)?;
        self.file = Some((path.to_path_buf(), file));
        Ok(())
    }

    /// `\o`: results to stdout again.
    pub(crate) fn send_to_stdout(&mut self) {
        self.file = None;
    }

    /// Where results go now, for people.
    pub(crate) fn describe(&self) -> String {
        match &self.file {
            Some((path, _)) => path.display().to_string(),
            None => "stdout".into(),
        }
    }

    /// The output of one statement: written through to a file or an
    /// unpaged stdout; buffered for the pager decision otherwise.
    pub(crate) fn statement(&mut self) -> StatementOutput<'_> {
        match (&mut self.file, &self.pager) {
            (Some((_, file)), _) => StatementOutput::Direct(Box::new(file)),
            (None, Some(pager)) => StatementOutput::Paged {
                buffer: Vec::new(),
                pager,
            },
            (None, None) => StatementOutput::Direct(results_stdout()),
        }
    }
}

/// Stdout for results: control characters made inert when it is a terminal.
pub(crate) fn results_stdout() -> Box<dyn Write> {
    match io::stdout().is_terminal() {
        true => Box::new(Inert::new(io::stdout())),
        false => Box::new(io::stdout()),
    }
}

/// Open `path` for results: a new file is created owner-only (0600: results
/// hold log data), an existing one truncated. A symbolic link there is
/// refused unless `through_link`: whoever can write the directory (`/tmp`)
/// could have planted one at a file of the user's.
fn open_results_file(path: &Path, through_link: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        if !through_link {
            options.custom_flags(nix::libc::O_NOFOLLOW);
        }
    }
    let is_link = || std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    #[cfg(not(unix))]
    if !through_link && is_link() {
        return Err(link_refused(path));
    }
    options
        .open(path)
        .map_err(|e| match !through_link && is_link() {
            true => link_refused(path),
            false => e,
        })
}

fn link_refused(path: &Path) -> io::Error {
    io::Error::other(format!(
        "it is a symbolic link, not followed; \\o! {} writes through it",
        path.display()
    ))
}

/// Output of one statement; [`StatementOutput::finish`] ends it.
pub(crate) enum StatementOutput<'a> {
    /// Straight to the destination.
    Direct(Box<dyn Write + 'a>),
    /// Held until the statement ends, then shown directly or paged.
    Paged { buffer: Vec<u8>, pager: &'a Pager },
}

impl Write for StatementOutput<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            StatementOutput::Direct(w) => w.write(buf),
            StatementOutput::Paged { buffer, .. } => buffer.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            StatementOutput::Direct(w) => w.flush(),
            StatementOutput::Paged { .. } => Ok(()),
        }
    }
}

impl StatementOutput<'_> {
    /// Show what was held: through the pager when it does not fit the
    /// screen, else on stdout. Quitting the pager early is no error.
    pub(crate) fn finish(self) -> io::Result<()> {
        match self {
            StatementOutput::Direct(mut w) => w.flush(),
            StatementOutput::Paged { buffer, pager } => {
                // The pager shows it on the terminal.
                let buffer = inert_bytes(&buffer);
                if needs_pager(&buffer, pager.rows, pager.cols) && page(&pager.command, &buffer) {
                    return Ok(());
                }
                // Fits the screen, or the pager could not start.
                let mut out = io::stdout();
                out.write_all(&buffer)?;
                out.flush()
            }
        }
    }
}

/// Whether `text` needs more than `rows - 2` lines (the statement's summary
/// line and the next prompt keep two) or more than `cols` columns.
fn needs_pager(text: &[u8], rows: usize, cols: usize) -> bool {
    let text = String::from_utf8_lossy(text);
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        if line.chars().count() > cols {
            return true;
        }
    }
    lines > rows.saturating_sub(2)
}

/// Run `command` through the shell with `text` on its stdin; `false` when
/// it cannot start.
fn page(command: &str, text: &[u8]) -> bool {
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "warning: cannot start the pager {command:?} ({e}); set PAGER, or PAGER= for none"
            );
            return false;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // The pager quitting before reading it all (q in less) closes the
        // pipe: not an error.
        let _ = stdin.write_all(text);
    }
    let _ = child.wait();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_does_not_fit_is_paged() {
        let lines = |n: usize| "x\n".repeat(n).into_bytes();
        assert!(!needs_pager(&lines(22), 24, 80));
        assert!(needs_pager(&lines(23), 24, 80));
        assert!(needs_pager(
            format!("{}\n", "y".repeat(81)).as_bytes(),
            24,
            80
        ));
        assert!(!needs_pager(b"", 24, 80));
    }
}
