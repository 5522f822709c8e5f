//! Log setup: text or JSON lines on standard error.
//!
//! The filter comes from `SESSATTR_LOG` (tracing-subscriber's `EnvFilter`
//! syntax), `info` by default. Nothing secret is ever logged: request logs
//! carry only the module's `log` fields (cid, op, app, status, codes, names).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Environment variable holding the log filter.
pub const FILTER_ENV: &str = "SESSATTR_LOG";

/// Installs the global subscriber. Calling it twice keeps the first one.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env(FILTER_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
