//! The log lines a test's own thread writes (tracing's fmt output, no
//! colours), captured while a [`Logs`] lives.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// What was logged on this thread at `level` or above since
/// [`Logs::capture`].
pub struct Logs {
    written: Written,
    _guard: DefaultGuard,
}

impl Logs {
    pub fn capture(level: tracing::Level) -> Logs {
        // tracing-core caches whether a callsite is on for the whole process,
        // asking only the current thread's subscriber while at most one
        // scoped subscriber is alive: a callsite first hit by another test's
        // thread would stay off for this one. A second subscriber kept alive
        // makes it ask every live one.
        static KEEP: OnceLock<tracing::Dispatch> = OnceLock::new();
        KEEP.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
        let written = Written::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(written.clone())
            .finish();
        Logs {
            written,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.written.0.lock().unwrap()).into_owned()
    }
}

#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl Write for Written {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Written {
    type Writer = Written;

    fn make_writer(&'a self) -> Written {
        self.clone()
    }
}
