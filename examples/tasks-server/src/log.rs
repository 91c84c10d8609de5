//! Log lines written to stderr in batches.
//!
//! A server that logs a line per request makes, with
//! `tracing_subscriber::fmt()` writing straight to stderr, one `write`
//! system call per line: a few microseconds each, a visible share of a
//! request that costs a few dozen. Here lines gather in a 64 KiB buffer that
//! is written when it fills and every [`FLUSH_EVERY`]; warnings and errors
//! are written at once, and [`BatchedStderr::flush`] writes the rest at
//! shutdown. The price: if the process is killed, the `info` lines of its
//! last [`FLUSH_EVERY`] are lost.

use std::{
    io::{self, BufWriter, Stderr, Write},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
const BUFFER_BYTES: usize = 64 * 1024;

/// A `tracing_subscriber` writer to stderr that batches lines.
#[derive(Clone)]
pub struct BatchedStderr {
    buffer: Arc<Mutex<BufWriter<Stderr>>>,
}

impl BatchedStderr {
    pub fn new() -> Self {
        Self {
            buffer: Arc::new(Mutex::new(BufWriter::with_capacity(
                BUFFER_BYTES,
                io::stderr(),
            ))),
        }
    }

    /// Writes what the buffer holds.
    pub fn flush(&self) {
        let _ = self.lock().flush();
    }

    /// Flushes every [`FLUSH_EVERY`], for as long as the runtime runs.
    pub fn flush_periodically(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FLUSH_EVERY);
            loop {
                ticks.tick().await;
                this.flush();
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, BufWriter<Stderr>> {
        // A panic while holding the lock leaves at worst a partial line.
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            log: self,
            at_once: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            log: self,
            at_once: *meta.level() <= Level::WARN,
        }
    }
}

/// One log line on its way to the buffer.
pub struct Line<'a> {
    log: &'a BatchedStderr,
    at_once: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.log.lock();
        buffer.write_all(bytes)?;
        if self.at_once {
            buffer.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.log.lock().flush()
    }
}
