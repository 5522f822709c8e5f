//! Several `sessattr` hosts on one Redis, through the real binary and real
//! `redis-server`s: a session made on host A works on host B, 64 concurrent
//! creates of one name split over both hosts give exactly one success, a
//! key promoted in the shared key file is picked up by both; a Redis outage
//! answers 503 E008004 with nothing written and heals by itself; no key of
//! an ended or expired session stays behind in Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::redis::{RedisCluster, RedisServer};
use common::*;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-Pa55word-Rd01";
const ALICE_PASSWORD: &str = "alice-Pa55word-Rd02";
const ATTR: &str = "/zato/sso/session/attr";

/// A data dir whose config file points at `store`, with users `admin`
/// (super-user) and `alice`.
fn data_dir_on(tmp: &Path, store: &str, extra_config: &str) -> PathBuf {
    let data = tmp.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("sessattr.toml"),
        format!("store = \"{store}\"\n{extra_config}"),
    )
    .unwrap();
    let log = tmp.join("cli.log");
    add_user(&data, &log, "admin", ADMIN_PASSWORD, true);
    add_user(&data, &log, "alice", ALICE_PASSWORD, false);
    data
}

/// Sessions: the super-user acting (`admin`) and the one acted on.
struct Pair<'a> {
    admin: &'a str,
    target: &'a str,
}

/// Body of an attribute call of `pair` with `fields`.
fn on(pair: &Pair<'_>, fields: Value) -> Value {
    let mut body =
        json!({"current_ust": pair.admin, "target_ust": pair.target, "current_app": "CRM"});
    body.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    body
}

/// Body of a session call (logout, renew) on `ust`.
fn session(ust: &str) -> Value {
    json!({"ust": ust, "current_app": "CRM"})
}

fn get_value(
    client: &reqwest::blocking::Client,
    server: &Server,
    pair: &Pair<'_>,
    name: &str,
) -> Answer {
    send_json(
        client,
        "GET",
        &server.url(ATTR),
        &on(pair, json!({"name": name})),
    )
}

#[test]
fn two_hosts_on_one_cluster_share_sessions_races_and_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(&tmp.path().join("cluster"));
    let data = data_dir_on(tmp.path(), &cluster.url(), "");
    // Both hosts read one key file (as from a shared config volume).
    let a = Server::start(&data, &tmp.path().join("a.log"), &[]);
    let b = Server::start(&data, &tmp.path().join("b.log"), &[]);
    let client = client();

    // A session logged in on A is usable on B, and back.
    let admin = login(&client, &b, "admin", ADMIN_PASSWORD);
    let ust = login(&client, &a, "alice", ALICE_PASSWORD);
    let pair = Pair {
        admin: &admin,
        target: &ust,
    };
    let create = json!({"name": "color", "value": "teal", "encrypt": true});
    send_json(&client, "POST", &b.url(ATTR), &on(&pair, create)).assert_ok();
    let got = get_value(&client, &a, &pair, "color");
    got.assert_ok();
    assert_eq!(got.body["value"], "teal", "{:?}", got.body);
    send_json(
        &client,
        "POST",
        &a.url("/zato/sso/user/logout"),
        &session(&ust),
    )
    .assert_ok();
    get_value(&client, &b, &pair, "color").assert_error(403, "E007001");

    // 64 concurrent creates of one name, half through each host.
    let ust = login(&client, &b, "alice", ALICE_PASSWORD);
    let pair = Pair {
        admin: &admin,
        target: &ust,
    };
    let answers: Vec<(usize, Answer)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let (server, pair, client) = (if i % 2 == 0 { &a } else { &b }, &pair, &client);
                scope.spawn(move || {
                    let body = on(pair, json!({"name": "race", "value": format!("v{i}")}));
                    (i, send_json(client, "POST", &server.url(ATTR), &body))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = answers
        .iter()
        .filter(|(_, answer)| answer.status == 200)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "winners {winners:?}");
    for (_, answer) in answers.iter().filter(|(_, answer)| answer.status != 200) {
        answer.assert_error(403, "E009001");
    }
    let got = get_value(&client, &a, &pair, "race");
    assert_eq!(
        got.body["value"],
        format!("v{}", winners[0]),
        "{:?}",
        got.body
    );

    // A key promoted in the shared key file: both hosts seal with it, and
    // `keys rotate` moves what the old key sealed.
    let old_secret = on(
        &pair,
        json!({"name": "old-secret", "value": "s3", "encrypt": true}),
    );
    send_json(&client, "POST", &a.url(ATTR), &old_secret).assert_ok();
    let cli_log = tmp.path().join("cli.log");
    let generated = run_cli(&data, &cli_log, &["keys", "generate"], "");
    assert!(generated.status.success(), "{generated:?}");
    let new_key = String::from_utf8_lossy(&generated.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let promoted = run_cli(&data, &cli_log, &["keys", "promote", &new_key], "");
    assert!(promoted.status.success(), "{promoted:?}");
    for server in [&a, &b] {
        wait_for_log(&server.log, &format!("primary={new_key}"));
    }
    for (server, name) in [(&a, "sealed-a"), (&b, "sealed-b")] {
        let body = on(&pair, json!({"name": name, "value": "x", "encrypt": true}));
        send_json(&client, "POST", &server.url(ATTR), &body).assert_ok();
    }
    let status = run_cli(&data, &cli_log, &["keys", "status", "--json"], "");
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let on_new = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == new_key.as_str())
        .expect("new key listed");
    assert_eq!(on_new["state"], "primary");
    assert_eq!(on_new["values"], 2, "{status}");
    // Each host counted its own encryptions of the new key in Redis.
    assert!(on_new["encryptions"].as_u64().unwrap() >= 2, "{status}");
    let rotated = run_cli(&data, &cli_log, &["keys", "rotate"], "");
    assert!(rotated.status.success(), "{rotated:?}");
    let status = run_cli(&data, &cli_log, &["keys", "status", "--json"], "");
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    for key in status["keys"].as_array().unwrap() {
        let expected = if key["id"] == new_key.as_str() { 3 } else { 0 };
        assert_eq!(key["values"], expected, "{status}");
    }
    for server in [&a, &b] {
        let got = get_value(&client, server, &pair, "old-secret");
        assert_eq!(got.body["value"], "s3", "{:?}", got.body);
    }
    assert!(a.stop().success());
    assert!(b.stop().success());
}

/// Waits until `log` contains `text` (at most 10 s).
fn wait_for_log(log: &Path, text: &str) {
    let started = Instant::now();
    while !read_to_string(log).contains(text) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no {text:?} in log:\n{}",
            read_to_string(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_redis_outage_answers_503_writes_nothing_and_heals_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    // Persistence on, so that a killed and restarted Redis keeps its data.
    let mut redis = RedisServer::start_with(
        &tmp.path().join("redis"),
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let data = data_dir_on(tmp.path(), &redis.url(), "[redis]\ntimeout_ms = 500\n");
    let server = Server::start(&data, &tmp.path().join("server.log"), &[]);
    let client = client();
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let ust = login(&client, &server, "alice", ALICE_PASSWORD);
    let pair = Pair {
        admin: &admin,
        target: &ust,
    };
    let kept = on(&pair, json!({"name": "kept", "value": "before"}));
    send_json(&client, "POST", &server.url(ATTR), &kept).assert_ok();
    let batch = on(
        &pair,
        json!({"data": [{"name": "b1", "value": "1"}, {"name": "b2", "value": "2"}]}),
    );

    // Unreachable (refused) and hung (SIGSTOP: connections time out).
    for outage in ["killed", "frozen"] {
        match outage {
            "killed" => redis.kill(),
            _ => signal(redis.pid(), "-STOP"),
        }
        for _ in 0..3 {
            let started = Instant::now();
            let answer = send_json(&client, "POST", &server.url(ATTR), &batch);
            let took = started.elapsed();
            answer.assert_error(503, "E008004");
            // Within the request's timeout (500 ms per store call), with
            // room for a loaded machine: a refused connection fails at
            // once, a hung one after one timeout. (A request used to wait
            // for a connection for 5 timeouts, 2.5 s.)
            assert!(
                took < Duration::from_secs(2),
                "{outage}: 503 after {took:?}"
            );
        }
        match outage {
            "killed" => redis.restart(),
            _ => signal(redis.pid(), "-CONT"),
        }
        // Healed without a restart of the host; the batch left nothing.
        let started = Instant::now();
        let got = loop {
            let got = get_value(&client, &server, &pair, "kept");
            if got.status == 200 || started.elapsed() > Duration::from_secs(10) {
                break got;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        got.assert_ok();
        assert_eq!(got.body["value"], "before", "{outage}");
        for name in ["b1", "b2"] {
            let got = get_value(&client, &server, &pair, name);
            got.assert_ok();
            assert_eq!(got.body["found"], false, "{outage}: {name} {:?}", got.body);
        }
    }
    send_json(&client, "POST", &server.url(ATTR), &batch).assert_ok();
    let log = read_to_string(&server.log);
    assert!(!log.contains(ALICE_PASSWORD) && !log.contains(&ust));
    assert!(server.stop().success());
}

fn signal(pid: u32, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn no_key_of_an_ended_or_expired_session_stays_in_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(&tmp.path().join("cluster"));
    let data = data_dir_on(tmp.path(), &cluster.url(), "session_lifetime = 2\n");
    let server = Server::start(&data, &tmp.path().join("server.log"), &[]);
    let client = client();
    let session_keys = || {
        let mut keys = cluster.keys_matching("sa:s:*");
        keys.extend(cluster.keys_matching("sa:a:*"));
        keys.extend(cluster.keys_matching("sa:i:*"));
        keys
    };
    let fill = |admin: &str, ust: &str| {
        let items: Vec<Value> = (0..20)
            .map(|i| {
                let mut item =
                    json!({"name": format!("n{i}"), "value": "v", "encrypt": i % 2 == 0});
                if i % 3 == 0 {
                    item["expiration"] = json!(1);
                }
                item
            })
            .collect();
        let pair = Pair { admin, target: ust };
        send_json(
            &client,
            "POST",
            &server.url(ATTR),
            &on(&pair, json!({"data": items})),
        )
        .assert_ok();
    };

    // Logout removes the session, its index and every attribute at once.
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let ended = login(&client, &server, "alice", ALICE_PASSWORD);
    fill(&admin, &ended);
    // (the admin's session record is the 23rd)
    assert_eq!(session_keys().len(), 23, "{:?}", session_keys());
    send_json(
        &client,
        "POST",
        &server.url("/zato/sso/user/logout"),
        &session(&ended),
    )
    .assert_ok();
    send_json(
        &client,
        "POST",
        &server.url("/zato/sso/user/logout"),
        &session(&admin),
    )
    .assert_ok();
    assert_eq!(session_keys(), Vec::<String>::new());

    // Expiry: Redis itself forgets every key of the session by its end.
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let expiring = login(&client, &server, "alice", ALICE_PASSWORD);
    let pair = Pair {
        admin: &admin,
        target: &expiring,
    };
    fill(&admin, &expiring);
    let renewed = send_json(
        &client,
        "PATCH",
        &server.url("/zato/sso/user/session"),
        &session(&expiring),
    );
    renewed.assert_ok();
    assert_eq!(session_keys().len(), 23);
    let started = Instant::now();
    while !session_keys().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "left behind: {:?}",
            session_keys()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    get_value(&client, &server, &pair, "n1").assert_error(403, "E007001");
    // Users and encryption counts are not session keys: they stay.
    assert_eq!(cluster.keys_matching("sa:user:*").len(), 2);
    assert!(server.stop().success());
}

#[test]
fn resharding_under_traffic_loses_no_request_and_no_write() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(&tmp.path().join("cluster"));
    let data = data_dir_on(tmp.path(), &cluster.url(), "");
    let server = Server::start(&data, &tmp.path().join("server.log"), &[]);
    let client = client();
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    // Sessions spread over the slots of every master.
    let targets: Vec<String> = (0..12)
        .map(|_| login(&client, &server, "alice", ALICE_PASSWORD))
        .collect();
    let node_id = |index: usize| -> String {
        let mut con = cluster.nodes()[index].connection();
        ::redis::cmd("CLUSTER").arg("MYID").query(&mut con).unwrap()
    };
    let (from, to) = (node_id(0), node_id(1));
    let first = cluster.nodes()[0].port().to_string();

    let stop = std::sync::atomic::AtomicBool::new(false);
    let (written, failures) = std::thread::scope(|scope| {
        let writers: Vec<_> = targets
            .iter()
            .map(|target| {
                let (stop, client, server, admin) = (&stop, &client, &server, &admin);
                scope.spawn(move || {
                    let pair = Pair { admin, target };
                    let (mut written, mut failures) = (Vec::new(), Vec::new());
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let name = format!("n{i}");
                        let body = on(&pair, json!({"name": name, "value": format!("v{i}")}));
                        let answer = send_json(client, "POST", &server.url(ATTR), &body);
                        if answer.status == 200 {
                            written.push(name);
                        } else {
                            failures.push(format!("{} {:?}", answer.status, answer.body));
                        }
                        i += 1;
                    }
                    (target.clone(), written, failures)
                })
            })
            .collect();
        // Move 4 000 slots (and their keys) from the first master to the
        // second while the writers run: the client follows ASK and MOVED.
        std::thread::sleep(Duration::from_millis(500));
        let reshard = std::process::Command::new("redis-cli")
            .args(["--cluster", "reshard", &format!("127.0.0.1:{first}")])
            .args(["--cluster-from", &from, "--cluster-to", &to])
            .args(["--cluster-slots", "4000", "--cluster-yes"])
            .args(["--cluster-pipeline", "10"])
            .output()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(
            reshard.status.success(),
            "reshard: {}",
            String::from_utf8_lossy(&reshard.stderr)
        );
        let mut written = Vec::new();
        let mut failures = Vec::new();
        for writer in writers {
            let (target, names, failed) = writer.join().unwrap();
            written.push((target, names));
            failures.extend(failed);
        }
        (written, failures)
    });
    if !failures.is_empty() {
        let log = read_to_string(&server.log);
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("panicked") || l.contains(".rs:"))
            .take(30)
            .collect();
        panic!(
            "{} failures: {:?}\n{}",
            failures.len(),
            &failures[..failures.len().min(3)],
            errors.join("\n")
        );
    }
    let mut total = 0;
    for (target, names) in &written {
        let pair = Pair {
            admin: &admin,
            target,
        };
        let listed = send_json(
            &client,
            "GET",
            &server.url("/zato/sso/session/attr/names"),
            &on(&pair, json!({})),
        );
        listed.assert_ok();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(listed.body["result"], json!(expected));
        total += names.len();
    }
    eprintln!("resharding: {total} creates during the move of 4000 slots, 0 failed");
    assert!(total > 100, "only {total} writes ran during the resharding");
    assert!(server.stop().success());
}

#[test]
fn a_dead_cluster_master_fails_only_its_slots_quickly_and_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    // A node timeout longer than the test: the cluster never declares the
    // master failed (then, without replicas, it would refuse every slot:
    // CLUSTERDOWN, see docs/deploy.md).
    let mut cluster = RedisCluster::start_with(
        &tmp.path().join("cluster"),
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--cluster-node-timeout",
            "60000",
        ],
    );
    let data = data_dir_on(tmp.path(), &cluster.url(), "[redis]\ntimeout_ms = 500\n");
    let server = Server::start(&data, &tmp.path().join("server.log"), &[]);
    let client = client();
    // The master to kill holds neither user record nor the admin's
    // session, so that the sessions on the other masters can go on.
    let sid = |ust: &str| sessattr_core::ust::session_id(ust);
    let users = [
        port_of_key(&cluster, "sa:user:admin"),
        port_of_key(&cluster, "sa:user:alice"),
    ];
    let victim = (0..3)
        .find(|&i| !users.contains(&cluster.nodes()[i].port()))
        .expect("two user records cover at most two masters");
    let dead = cluster.nodes()[victim].port();
    let admin = loop {
        let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
        if port_of_key(&cluster, &format!("sa:s:{{{}}}", sid(&admin))) != dead {
            break admin;
        }
    };
    let targets: Vec<String> = (0..24)
        .map(|_| login(&client, &server, "alice", ALICE_PASSWORD))
        .collect();
    let create = |target: &str, name: &str| {
        let pair = Pair {
            admin: &admin,
            target,
        };
        let body = on(&pair, json!({"name": name, "value": "v"}));
        let started = Instant::now();
        let answer = send_json(&client, "POST", &server.url(ATTR), &body);
        (answer, started.elapsed())
    };
    for target in &targets {
        create(target, "before").0.assert_ok();
    }
    // A create works iff the target session's slot is on a live master.
    let expected: Vec<bool> = targets
        .iter()
        .map(|t| port_of_key(&cluster, &format!("sa:s:{{{}}}", sid(t))) != dead)
        .collect();
    cluster.node_mut(victim).kill();
    let mut answered = Vec::new();
    let mut slowest = Duration::ZERO;
    for target in &targets {
        let (answer, took) = create(target, "during");
        assert!(took < Duration::from_secs(8), "answered after {took:?}");
        slowest = slowest.max(took);
        if answer.status != 200 {
            answer.assert_error(503, "E008004");
        }
        answered.push(answer.status == 200);
    }
    eprintln!(
        "one master of 3 down: {} of {} creates ok, as predicted from the key slots; \
         slowest answer {slowest:?}",
        answered.iter().filter(|ok| **ok).count(),
        answered.len()
    );
    assert_eq!(
        answered, expected,
        "which creates work with one master down"
    );
    cluster.node_mut(victim).restart();
    let started = Instant::now();
    for target in &targets {
        loop {
            let (answer, _) = create(target, "after");
            if answer.status == 200 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "not back: {:?}",
                answer.body
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // Frozen (SIGSTOP) rather than dead: its slots time out instead of
    // refusing, still within a few timeouts, never a 500; the rest go on.
    signal(cluster.nodes()[victim].pid(), "-STOP");
    let mut answered = Vec::new();
    let mut slowest = Duration::ZERO;
    for target in &targets {
        let (answer, took) = create(target, "frozen");
        if answer.status != 200 {
            answer.assert_error(503, "E008004");
        }
        slowest = slowest.max(took);
        answered.push(answer.status == 200);
    }
    signal(cluster.nodes()[victim].pid(), "-CONT");
    eprintln!("one master of 3 frozen: slowest answer {slowest:?}");
    assert!(
        slowest < Duration::from_secs(4),
        "answered after {slowest:?}"
    );
    if answered != expected {
        let log = read_to_string(&server.log);
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        panic!(
            "frozen: {answered:?} != {expected:?}\n{}",
            errors.join("\n")
        );
    }
    // Nothing acknowledged before the outage was lost (AOF, fsync always).
    for target in &targets {
        let pair = Pair {
            admin: &admin,
            target,
        };
        let got = get_value(&client, &server, &pair, "before");
        assert_eq!(got.body["found"], true, "{:?}", got.body);
    }
    assert!(server.stop().success());
}

/// The port of the master that holds `key`'s slot.
fn port_of_key(cluster: &RedisCluster, key: &str) -> u16 {
    let mut con = cluster.connection();
    let slot: i64 = ::redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut con)
        .unwrap();
    let ranges: Vec<::redis::Value> = ::redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(&mut con)
        .unwrap();
    let number = |v: &::redis::Value| match v {
        ::redis::Value::Int(n) => *n,
        other => panic!("not a number: {other:?}"),
    };
    for range in ranges {
        let ::redis::Value::Array(fields) = range else {
            continue;
        };
        if (number(&fields[0])..=number(&fields[1])).contains(&slot) {
            let ::redis::Value::Array(master) = &fields[2] else {
                panic!("no master")
            };
            return u16::try_from(number(&master[1])).unwrap();
        }
    }
    panic!("slot {slot} of {key} has no master")
}

#[test]
fn records_move_from_redb_to_a_cluster_all_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cli_log = tmp.path().join("cli.log");
    // Records made on redb: users, two sessions, a plain and a sealed value.
    let redb = tmp.path().join("redb");
    add_user(&redb, &cli_log, "admin", ADMIN_PASSWORD, true);
    add_user(&redb, &cli_log, "alice", ALICE_PASSWORD, false);
    let server = Server::start(&redb, &tmp.path().join("redb.log"), &[]);
    let client = client();
    let admin = login(&client, &server, "admin", ADMIN_PASSWORD);
    let alice = login(&client, &server, "alice", ALICE_PASSWORD);
    let pair = Pair {
        admin: &admin,
        target: &alice,
    };
    let items = json!({"data": [
        {"name": "plain", "value": "p-1"},
        {"name": "sealed", "value": "s-1", "encrypt": true},
    ]});
    send_json(&client, "POST", &server.url(ATTR), &on(&pair, items)).assert_ok();
    assert!(server.stop().success());
    let dump = tmp.path().join("dump.json");
    let exported = run_cli(
        &redb,
        &cli_log,
        &["store", "export", "--output", dump.to_str().unwrap()],
        "",
    );
    assert!(exported.status.success(), "{exported:?}");

    // Into a cluster that already holds one of the keys: refused, and none
    // of the other records stays behind (each hash tag was a write set).
    let cluster = RedisCluster::start(&tmp.path().join("cluster"));
    let target = tmp.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(redb.join("keys.json"), target.join("keys.json")).unwrap();
    let store_flag = ["--store", &cluster.url()];
    let import = |args: &[&str]| run_cli(&target, &cli_log, args, "");
    let mut con = cluster.connection();
    ::redis::cmd("SET")
        .arg("sa:user:alice")
        .arg("held")
        .query::<()>(&mut con)
        .unwrap();
    let refused = import(
        &[
            &store_flag[..],
            &["store", "import", dump.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("1 of"), "{stderr}");
    assert_eq!(cluster.keys_matching("sa:*"), ["sa:user:alice"]);

    // Into an empty cluster: everything, and a host there serves it.
    ::redis::cmd("DEL")
        .arg("sa:user:alice")
        .query::<()>(&mut con)
        .unwrap();
    let imported = import(
        &[
            &store_flag[..],
            &["store", "import", dump.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(imported.status.success(), "{imported:?}");
    std::fs::write(
        target.join("sessattr.toml"),
        format!("store = \"{}\"\n", cluster.url()),
    )
    .unwrap();
    let server = Server::start(&target, &tmp.path().join("target.log"), &[]);
    for (name, value) in [("plain", "p-1"), ("sealed", "s-1")] {
        let got = get_value(&client, &server, &pair, name);
        assert_eq!(got.body["value"], value, "{:?}", got.body);
    }
    assert!(server.stop().success());
}
