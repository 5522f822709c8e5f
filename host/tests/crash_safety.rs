//! Crash safety on the default store (redb): concurrent writers (creates,
//! sets, and batches of both) against the real `sessattr serve`, which is
//! killed with SIGKILL at a random moment of the load, 20 times over one
//! data dir. After every kill:
//!
//! * `sessattr store export` opens the crashed store first (before any
//!   server does) and lists exactly the attributes the restarted server
//!   then serves;
//! * the server starts again on the same data dir and serves;
//! * every write answered 200 is there with the value sent or, for a set,
//!   with a later value of the same writer: each writer owns its names and
//!   numbers its writes, so "the acknowledged value or a later one" is
//!   checkable;
//! * no batch is half-applied: all of its names with that batch's values,
//!   or none of them;
//! * nothing is stored that no writer sent.
//!
//! Every choice (the kill moments, each writer's operations and whether
//! they encrypt) comes from one seeded RNG: the seed is printed, and
//! `SESSATTR_CRASH_SEED=N` runs another. Where the kill lands in the load
//! depends on the machine's timing too, so a failure prints the round, the
//! write and what was found.
//!
//! Run with `--nocapture` for the per-round table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Cr01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Cr02";
const ATTR_PATH: &str = "/zato/sso/session/attr";
const NAMES_PATH: &str = "/zato/sso/session/attr/names";

/// Kill-and-restart rounds.
const ROUNDS: usize = 20;
/// Concurrent writers, each with its own connection.
const WRITERS: usize = 6;
/// alice's sessions written to: writers 0–3 have one each, writers 4 and
/// 5 share the last one (their writes contend for its attribute index).
const SESSIONS: usize = 5;
/// The kill comes this many milliseconds after the load starts (uniform).
const KILL_AFTER_MS: (u64, u64) = (40, 700);
/// The seed when `SESSATTR_CRASH_SEED` is not set.
const DEFAULT_SEED: u64 = 0x5E55_A77A_C4A5_0001;
/// Most names in one many-form get (SPEC 3).
const GET_CHUNK: usize = 1_000;

/// splitmix64: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What one request writes.
#[derive(Debug, Clone)]
enum Write {
    /// A create of these names with these values: the single form for one
    /// name, the many form (`data`) for several. Every name is new.
    Create { items: Vec<(String, String)> },
    /// A set (upsert) of every name of `group` at once, item `i` to the
    /// value `s{seq}:{i}`: the single form for a group of one name.
    Set {
        group: String,
        names: Vec<String>,
        seq: u64,
    },
}

/// How a request ended.
#[derive(Debug)]
enum Ended {
    /// `200` with status ok: the write must be in the store.
    Acked,
    /// No answer (the server was killed before or while it answered): the
    /// write may or may not be in the store, but never half of it.
    NoAnswer,
    /// Any other answer, which the load should never get.
    Unexpected(u16, String),
}

/// A writer: its session, its numbering and its RNG, kept across rounds.
struct Writer {
    id: usize,
    session: usize,
    seq: u64,
    rng: Rng,
}

impl Writer {
    /// The next write: a create of one or several new names, or a set of
    /// one of the writer's groups (one name, or 2 … 4 names at once).
    fn next_write(&mut self) -> (Write, bool) {
        let (w, seq) = (self.id, self.seq);
        self.seq += 1;
        let write = match self.rng.range(0, 3) {
            0 => Write::Create {
                items: vec![(format!("w{w}.c{seq}"), format!("c{seq}"))],
            },
            1 => Write::Create {
                items: (0..self.rng.range(2, 5))
                    .map(|i| (format!("w{w}.b{seq}.{i}"), format!("b{seq}.{i}")))
                    .collect(),
            },
            2 => {
                let group = format!("w{w}.s{}", self.rng.range(0, 3));
                Write::Set {
                    names: vec![group.clone()],
                    group,
                    seq,
                }
            }
            _ => {
                let k = self.rng.range(0, 2);
                Write::Set {
                    group: format!("w{w}.g{k}"),
                    names: (0..k + 2).map(|i| format!("w{w}.g{k}.{i}")).collect(),
                    seq,
                }
            }
        };
        let encrypt = self.rng.range(0, 3) == 0;
        (write, encrypt)
    }
}

/// The request of `write`: method and body.
fn request(write: &Write, encrypt: bool, admin: &str, target: &str) -> (&'static str, Value) {
    let mut body = json!({"current_ust": admin, "target_ust": target, "current_app": "CRM",
                          "encrypt": encrypt});
    let items: Vec<(String, String)> = match write {
        Write::Create { items } => items.clone(),
        Write::Set { names, seq, .. } => names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), format!("s{seq}:{i}")))
            .collect(),
    };
    if let [(name, value)] = items.as_slice() {
        body["name"] = json!(name);
        body["value"] = json!(value);
    } else {
        let data: Vec<Value> = items
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        body["data"] = json!(data);
    }
    let method = match write {
        Write::Create { .. } => "POST",
        Write::Set { .. } => "PUT",
    };
    (method, body)
}

/// Sends `body`; `Err` when no answer came (connection refused or cut).
fn try_send(
    client: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let response = client
        .request(method, url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response.text().map_err(|e| e.to_string())?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

/// One writer's load until the server stops answering: each write, whether
/// it was encrypted, and how it ended.
fn run_writer(
    writer: &mut Writer,
    url: &str,
    admin: &str,
    target: &str,
    start: &Barrier,
) -> Vec<(Write, Ended)> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let mut sent = Vec::new();
    start.wait();
    loop {
        let (write, encrypt) = writer.next_write();
        let (method, body) = request(&write, encrypt, admin, target);
        match try_send(&client, method, url, &body) {
            Ok((200, answer)) if answer["status"] == "ok" => sent.push((write, Ended::Acked)),
            Ok((status, answer)) => {
                sent.push((write, Ended::Unexpected(status, answer.to_string())));
            }
            Err(_) => {
                sent.push((write, Ended::NoAnswer));
                return sent;
            }
        }
    }
}

/// Everything the writers sent so far, over every round.
#[derive(Default)]
struct Model {
    /// Every create sent.
    creates: Vec<Create>,
    /// Set groups by name.
    groups: BTreeMap<String, Group>,
}

/// A create that was sent.
struct Create {
    session: usize,
    /// Its names and values.
    items: Vec<(String, String)>,
    acked: bool,
}

/// A set group: names always written together by one writer.
struct Group {
    session: usize,
    names: Vec<String>,
    /// Every sequence number sent to it (acknowledged or not).
    sent: BTreeSet<u64>,
    /// The highest acknowledged one.
    acked: Option<u64>,
}

impl Model {
    fn add(&mut self, session: usize, write: Write, acked: bool) {
        match write {
            Write::Create { items } => self.creates.push(Create {
                session,
                items,
                acked,
            }),
            Write::Set { group, names, seq } => {
                let entry = self.groups.entry(group).or_insert_with(|| Group {
                    session,
                    names,
                    sent: BTreeSet::new(),
                    acked: None,
                });
                entry.sent.insert(seq);
                if acked {
                    entry.acked = entry.acked.max(Some(seq));
                }
            }
        }
    }

    /// Every name ever written to `session`.
    fn names_of(&self, session: usize) -> BTreeSet<String> {
        let creates = self
            .creates
            .iter()
            .filter(|c| c.session == session)
            .flat_map(|c| c.items.iter().map(|(n, _)| n.clone()));
        let sets = self
            .groups
            .values()
            .filter(|g| g.session == session)
            .flat_map(|g| g.names.iter().cloned());
        creates.chain(sets).collect()
    }
}

/// What one verification found.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    /// Writes acknowledged (so far, all rounds) and found as required.
    acked_verified: usize,
    /// Writes without an answer found applied (whole).
    unanswered_applied: usize,
    /// Writes without an answer found not applied (none of them).
    unanswered_absent: usize,
    /// Live attributes the server serves.
    live: usize,
}

/// The sessions' live names and values, as the server serves them.
fn read_back(
    client: &reqwest::blocking::Client,
    server: &Server,
    admin: &str,
    targets: &[String],
    model: &Model,
) -> Vec<BTreeMap<String, Option<String>>> {
    targets
        .iter()
        .enumerate()
        .map(|(session, target)| {
            let base = json!({"current_ust": admin, "target_ust": target, "current_app": "CRM"});
            let names = send_json(client, "GET", &server.url(NAMES_PATH), &base);
            names.assert_ok();
            let live: BTreeSet<String> = names.body["result"]
                .as_array()
                .expect("names")
                .iter()
                .map(|n| n.as_str().expect("name").to_owned())
                .collect();
            let known = model.names_of(session);
            if let Some(stray) = live.difference(&known).next() {
                panic!("session {session} holds {stray:?}, which no writer sent");
            }
            let known: Vec<String> = known.into_iter().collect();
            let mut values = BTreeMap::new();
            for chunk in known.chunks(GET_CHUNK) {
                let mut body = base.clone();
                body["data"] = json!(chunk);
                let got = send_json(client, "GET", &server.url(ATTR_PATH), &body);
                got.assert_ok();
                for name in chunk {
                    let found = &got.body["result"][name];
                    let value = found["value"].as_str().map(str::to_owned);
                    assert_eq!(
                        value.is_some(),
                        live.contains(name),
                        "names and get disagree on {name:?}: {found}"
                    );
                    values.insert(name.clone(), value);
                }
            }
            values
        })
        .collect()
}

/// Checks the store against everything sent (see the module's doc).
fn verify(model: &Model, stored: &[BTreeMap<String, Option<String>>]) -> Tally {
    let mut tally = Tally {
        live: stored
            .iter()
            .map(|s| s.values().filter(|v| v.is_some()).count())
            .sum(),
        ..Tally::default()
    };
    for Create {
        session,
        items,
        acked,
    } in &model.creates
    {
        let found: Vec<&Option<String>> = items.iter().map(|(n, _)| &stored[*session][n]).collect();
        let whole = items
            .iter()
            .zip(&found)
            .all(|((_, sent), got)| got.as_deref() == Some(sent.as_str()));
        let none = found.iter().all(|v| v.is_none());
        match (acked, whole, none) {
            (true, true, _) => tally.acked_verified += 1,
            (false, true, _) => tally.unanswered_applied += 1,
            (false, false, true) => tally.unanswered_absent += 1,
            _ => panic!(
                "create of {items:?} (acknowledged: {acked}) is stored as {found:?}: \
                 an acknowledged write lost, or a batch half-applied"
            ),
        }
    }
    for (name, group) in &model.groups {
        let found: Vec<Option<(u64, usize)>> = group
            .names
            .iter()
            .map(|n| {
                stored[group.session][n].as_ref().map(|v| {
                    let (seq, index) = v
                        .strip_prefix('s')
                        .and_then(|v| v.split_once(':'))
                        .unwrap_or_else(|| panic!("{n:?} holds {v:?}, which no writer sent"));
                    (seq.parse().expect("seq"), index.parse().expect("index"))
                })
            })
            .collect();
        let seqs: BTreeSet<Option<u64>> = found.iter().map(|f| f.map(|(s, _)| s)).collect();
        let one = (seqs.len() == 1).then(|| *seqs.first().expect("one"));
        let indexes_right = found
            .iter()
            .enumerate()
            .all(|(i, f)| f.is_none_or(|(_, index)| index == i));
        let Some(seq) = one.filter(|_| indexes_right) else {
            panic!("set group {name} is stored half-applied or mixed: {found:?}");
        };
        match (seq, group.acked) {
            (Some(seq), _) if !group.sent.contains(&seq) => {
                panic!("set group {name} holds sequence {seq}, which was never sent to it")
            }
            (Some(seq), Some(acked)) if seq >= acked => {
                tally.acked_verified += 1;
                // Writes sent after the acknowledged one: found or not.
                if seq > acked {
                    tally.unanswered_applied += 1;
                }
            }
            (Some(_), None) => tally.unanswered_applied += 1,
            (None, None) => tally.unanswered_absent += 1,
            (found, Some(acked)) => panic!(
                "set group {name}: sequence {acked} was acknowledged, the store holds {found:?}"
            ),
        }
    }
    tally
}

/// `store export --prefix sa:a:` of the data dir (the attributes): the
/// attribute names of the records, sorted.
fn exported_names(data: &Path, log: &Path, out: &Path) -> Vec<String> {
    let output = run_cli(
        data,
        log,
        &[
            "store",
            "export",
            "--prefix",
            "sa:a:",
            "--output",
            out.to_str().expect("utf-8 path"),
        ],
        "",
    );
    assert!(
        output.status.success(),
        "store export after a crash: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(out).expect("export file")).expect("json");
    let mut names: Vec<String> = document["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let key = r["key"].as_str().expect("key");
            key.split_once("}:").expect("an attribute key").1.to_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn acknowledged_writes_survive_sigkill_and_no_batch_is_half_applied() {
    let seed = std::env::var("SESSATTR_CRASH_SEED")
        .ok()
        .map_or(DEFAULT_SEED, |s| {
            s.parse().expect("SESSATTR_CRASH_SEED: a u64")
        });
    eprintln!("crash safety: seed {seed} (SESSATTR_CRASH_SEED={seed} runs these choices again)");
    let mut rng = Rng(seed);
    let started = Instant::now();

    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    add_user(&data, &log, "admin", ADMIN_PASSWORD, true);
    add_user(&data, &log, "alice", ALICE_PASSWORD, false);
    let server = Server::start(&data, &log, &[]);
    let client = client();
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let targets: Vec<String> = (0..SESSIONS)
        .map(|_| login(&client, &server, "alice", ALICE_PASSWORD))
        .collect();
    let mut server = Some(server);
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|id| Writer {
            id,
            session: id.min(SESSIONS - 1),
            seq: 0,
            rng: Rng(rng.next()),
        })
        .collect();

    let mut model = Model::default();
    let mut totals = Tally::default();
    let (mut acked_total, mut unanswered_total) = (0, 0);
    eprintln!(
        "round  kill-after  killed-at  acked  no-answer  restart  live-attrs  acked-ok  \
         unanswered(applied/absent)"
    );
    for round in 0..ROUNDS {
        let kill_after = Duration::from_millis(rng.range(KILL_AFTER_MS.0, KILL_AFTER_MS.1));
        let url = server.as_ref().expect("running").url(ATTR_PATH);
        let start = Barrier::new(WRITERS + 1);
        let (sent, killed_at) = std::thread::scope(|scope| {
            let handles: Vec<_> = writers
                .iter_mut()
                .map(|writer| {
                    let (url, admin, start) = (&url, &admin, &start);
                    let target = &targets[writer.session];
                    let session = writer.session;
                    scope.spawn(move || {
                        let sent = run_writer(writer, url, admin, target, start);
                        (session, sent)
                    })
                })
                .collect();
            start.wait();
            let load_started = Instant::now();
            std::thread::sleep(kill_after);
            let killed_at = load_started.elapsed();
            let status = server.take().expect("running").kill();
            assert!(!status.success(), "the server was killed, not stopped");
            let sent: Vec<_> = handles
                .into_iter()
                .map(|h| h.join().expect("writer"))
                .collect();
            (sent, killed_at)
        });

        let (mut acked, mut unanswered) = (0, 0);
        for (session, writes) in sent {
            for (write, ended) in writes {
                match ended {
                    Ended::Acked => acked += 1,
                    Ended::NoAnswer => unanswered += 1,
                    Ended::Unexpected(status, body) => {
                        panic!("round {round}: {write:?} answered {status} {body}")
                    }
                }
                model.add(session, write, matches!(ended, Ended::Acked));
            }
        }
        acked_total += acked;
        unanswered_total += unanswered;

        // The crashed store opens in another process first.
        let exported = exported_names(
            &data,
            &log,
            &tmp.path().join(format!("export-{round}.json")),
        );

        let restarting = Instant::now();
        let restarted = server.insert(Server::start(&data, &log, &[]));
        let restart = restarting.elapsed();
        let stored = read_back(&client, restarted, &admin, &targets, &model);
        let tally = verify(&model, &stored);
        let mut served: Vec<String> = stored
            .iter()
            .flat_map(|s| {
                s.iter()
                    .filter(|(_, v)| v.is_some())
                    .map(|(n, _)| n.clone())
            })
            .collect();
        served.sort();
        assert_eq!(
            exported, served,
            "round {round}: the export after the crash and the restarted server disagree"
        );
        eprintln!(
            "{round:>5}  {:>8}ms  {:>7}ms  {acked:>5}  {unanswered:>9}  {:>5}ms  {:>10}  {:>8}  {:>7}/{}",
            kill_after.as_millis(),
            killed_at.as_millis(),
            restart.as_millis(),
            tally.live,
            tally.acked_verified,
            tally.unanswered_applied,
            tally.unanswered_absent,
        );
        totals = tally;
    }
    let server = server.take().expect("running");
    assert!(server.stop().success(), "a clean stop at the end");
    eprintln!(
        "crash safety: {ROUNDS} kills in {:.1} s; {acked_total} writes acknowledged, \
         {unanswered_total} without an answer; at the end {} live attributes, every \
         acknowledged write found ({} creates and set groups checked)",
        started.elapsed().as_secs_f64(),
        totals.live,
        totals.acked_verified,
    );
    assert!(
        acked_total >= ROUNDS * WRITERS,
        "the load wrote too little to tell anything ({acked_total} writes)"
    );
}
