//! `keys rotate` and the counting behind `keys status` / `keys retire`: a
//! walk over every session that has attributes, one [`Rekey`] page at a
//! time through the module, as any other operation (same retries on a
//! lost race, same nonce budget).
//!
//! Sessions are found by their attribute index keys (`sa:i:{SID}`), paged
//! from the store so that the walk never holds them all.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use sessattr_core::protocol::{Operation, Rekey};

use crate::Error;
use crate::service::Service;

/// Prefix of the attribute index keys, one per session with attributes.
const INDEX_PREFIX: &str = "sa:i:{";
/// Sessions read from the store at a time.
const SESSIONS_PER_PAGE: usize = 500;
/// Attributes looked at (and at most re-sealed) by one step.
pub const ATTRS_PER_PAGE: u32 = 200;
/// Passes of `rotate` at most: a value written under the old key by a
/// server that had not yet seen the new primary is caught by the next one.
const MAX_PASSES: usize = 3;

/// What a walk found, and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Sessions with a live session record visited.
    pub sessions: u64,
    /// Live encrypted values by the id of the key that seals them after
    /// the walk (re-sealed ones count for the primary).
    pub by_key: BTreeMap<String, u64>,
    /// Values re-sealed under the primary key.
    pub rewritten: u64,
    /// Values no key of the keyring opens, left as they were.
    pub unreadable: u64,
}

/// The session id in an index key `sa:i:{SID}`.
fn session_of(index_key: &str) -> Option<&str> {
    index_key.strip_prefix(INDEX_PREFIX)?.strip_suffix('}')
}

/// Runs one page through the module; its answer's fields.
fn page(service: &Service, rekey: Rekey) -> Result<Value, Error> {
    let outcome = service.execute(&Operation::Rekey(rekey));
    let body: Value = serde_json::from_str(&outcome.response.body).unwrap_or_default();
    if body["status"] == "ok" {
        return Ok(body);
    }
    let code = body["sub_status"][0]
        .as_str()
        .unwrap_or("E008004")
        .to_owned();
    Err(Error::Rekey {
        code,
        reason: outcome.failure.map_or_else(
            || body["message"].as_str().unwrap_or("refused").to_owned(),
            |failure| failure.to_string(),
        ),
    })
}

/// Visits every session: `on_session(sid)` for each, in key order.
fn each_session(
    service: &Service,
    mut on_session: impl FnMut(&str) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut after: Option<String> = None;
    loop {
        let keys = service
            .store()
            .scan_keys(INDEX_PREFIX, after.as_deref(), SESSIONS_PER_PAGE)?;
        for key in &keys {
            if let Some(sid) = session_of(key) {
                on_session(sid)?;
            }
        }
        match keys.last() {
            Some(last) if keys.len() == SESSIONS_PER_PAGE => after = Some(last.clone()),
            _ => return Ok(()),
        }
    }
}

/// How many live encrypted values there are (from the indexes alone).
pub fn count_encrypted(service: &Service) -> Result<u64, Error> {
    let mut total = 0;
    each_session(service, |sid| {
        let fields = page(service, rekey(sid, None, 0, false))?;
        total += fields["encrypted"].as_u64().unwrap_or(0);
        Ok(())
    })?;
    Ok(total)
}

fn rekey(session: &str, after: Option<String>, limit: u32, rewrite: bool) -> Rekey {
    Rekey {
        session: session.to_owned(),
        after,
        limit,
        rewrite,
    }
}

/// Walks every live encrypted value; re-seals those not under the primary
/// when `rewrite`. `progress(values)` is called after each page.
pub fn walk(
    service: &Service,
    rewrite: bool,
    mut progress: impl FnMut(u64),
) -> Result<Tally, Error> {
    let mut tally = Tally::default();
    each_session(service, |sid| {
        let mut after = None;
        loop {
            let fields = page(service, rekey(sid, after.take(), ATTRS_PER_PAGE, rewrite))?;
            if fields["session_live"] != true {
                return Ok(());
            }
            let mut values = 0;
            if let Some(by_key) = fields["by_key"].as_object() {
                for (id, n) in by_key {
                    let n = n.as_u64().unwrap_or(0);
                    values += n;
                    *tally.by_key.entry(id.clone()).or_default() += n;
                }
            }
            let rewritten = fields["rewritten"].as_u64().unwrap_or(0);
            tally.rewritten += rewritten;
            tally.unreadable += fields["unreadable"].as_u64().unwrap_or(0);
            progress(values);
            match fields["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        tally.sessions += 1;
        Ok(())
    })?;
    Ok(tally)
}

/// What `keys rotate` did over all its passes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotateReport {
    /// Passes made.
    pub passes: usize,
    /// Values re-sealed, all passes together.
    pub rewritten: u64,
    /// Values found under the primary already (first pass).
    pub already: u64,
    /// After the last pass: values under other keys (unreadable ones).
    pub left: u64,
    /// Values no key opens.
    pub unreadable: u64,
}

/// `keys rotate`: passes over every value until one re-seals nothing (at
/// most [`MAX_PASSES`]), with a progress bar on a terminal and a line per
/// second otherwise. Each page is atomic, so an interrupted run leaves
/// every value readable and a new run finishes the job.
pub fn rotate(service: &Service) -> Result<RotateReport, Error> {
    let primary = service.primary_id().ok_or_else(|| Error::Rekey {
        code: "E008004".into(),
        reason: "the keyring has no primary key".into(),
    })?;
    let mut report = RotateReport::default();
    for pass in 1..=MAX_PASSES {
        let total = count_encrypted(service)?;
        let mut bar = Progress::new(total, pass);
        let tally = walk(service, true, |values| bar.advance(values))?;
        bar.finish();
        report.passes = pass;
        report.rewritten += tally.rewritten;
        report.unreadable = tally.unreadable;
        if pass == 1 {
            let under_primary = tally.by_key.get(&primary).copied().unwrap_or(0);
            report.already = under_primary.saturating_sub(tally.rewritten);
        }
        report.left = tally
            .by_key
            .iter()
            .filter(|(id, _)| **id != primary)
            .map(|(_, n)| *n)
            .sum();
        if tally.rewritten == 0 || report.left == 0 {
            break;
        }
    }
    Ok(report)
}

/// Progress of one pass: an indicatif bar on a terminal, else a plain line
/// at most once a second (and at the end).
struct Progress {
    bar: Option<ProgressBar>,
    pass: usize,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    fn new(total: u64, pass: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:40}] {pos}/{len} values ({per_sec}, {eta} left)",
            )
            .map(|style| style.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(format!("pass {pass}"));
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            pass,
            total,
            done: 0,
            started: now,
            last_line: now,
        }
    }

    fn advance(&mut self, values: u64) {
        self.done += values;
        match &self.bar {
            Some(bar) => bar.inc(values),
            None if self.last_line.elapsed() >= Duration::from_secs(1) => {
                self.last_line = Instant::now();
                eprintln!("{}", self.line());
            }
            None => {}
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "pass {}: {}/{} values ({:.0}/s)",
            self.pass,
            self.done,
            self.total,
            self.done as f64 / secs
        )
    }

    fn finish(self) {
        match self.bar {
            Some(bar) => bar.finish(),
            None => eprintln!("{}", self.line()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_come_from_index_keys_only() {
        assert_eq!(session_of("sa:i:{abc}"), Some("abc"));
        assert_eq!(session_of("sa:i:abc"), None);
        assert_eq!(session_of("sa:s:{abc}"), None);
    }
}
