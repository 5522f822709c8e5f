//! The helpers of `common::redis` work on the real `redis-server`: a single
//! server answers, restarts on its port and stops; a password is required;
//! a cluster of three masters is ok and routes keys, which `keys_matching`
//! finds; and the server has what the Redis store relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::redis::{CLUSTER_NODES, RedisCluster, RedisServer, process_exists};
use redis::Commands;

/// PING on a new connection to `url` (no password).
fn ping(url: &str) -> redis::RedisResult<String> {
    let mut con = redis::Client::open(url)?.get_connection()?;
    redis::cmd("PING").query(&mut con)
}

#[test]
fn a_server_answers_restarts_on_its_port_and_stops() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut server = RedisServer::start(tmp.path());
    eprintln!("redis-server started in {:?}", started.elapsed());
    let port = server.port();
    assert_eq!(server.url(), format!("redis://127.0.0.1:{port}/0"));
    assert_eq!(ping(&server.url()).unwrap(), "PONG");

    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = con.set("test:a", "1").unwrap();
    let () = con.set("test:b", "2").unwrap();
    let () = con.set("other", "3").unwrap();
    let value: String = con.get("test:a").unwrap();
    assert_eq!(value, "1");
    assert_eq!(server.keys_matching("test:*"), ["test:a", "test:b"]);
    assert!(tmp.path().join("redis.log").is_file());
    assert!(tmp.path().join("redis.pid").is_file());

    // An outage: killed, then back on the same port, empty.
    let pid = server.pid();
    server.kill();
    assert!(!process_exists(pid));
    assert!(ping(&server.url()).is_err());
    let started = Instant::now();
    server.restart();
    eprintln!("redis-server restarted in {:?}", started.elapsed());
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), pid);
    assert_eq!(ping(&server.url()).unwrap(), "PONG");
    assert!(server.keys_matching("*").is_empty());

    // A restart of a running server stops it first.
    let pid = server.pid();
    server.restart();
    assert!(!process_exists(pid));
    assert_eq!(ping(&server.url()).unwrap(), "PONG");

    let pid = server.pid();
    server.stop();
    assert!(!process_exists(pid));
    assert!(!server.is_running());
    assert!(ping(&server.url()).is_err());
}

#[test]
fn a_server_with_a_password_wants_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = RedisServer::start_with(tmp.path(), &["--requirepass", "pw"]);
    assert_eq!(server.password(), Some("pw"));
    let err = ping(&server.url()).unwrap_err();
    assert!(err.to_string().contains("NOAUTH"), "{err}");
    let with_password = format!("redis://:pw@127.0.0.1:{}/0", server.port());
    assert_eq!(ping(&with_password).unwrap(), "PONG");
    let () = server.connection().set("k", "v").unwrap();
    assert_eq!(server.keys_matching("*"), ["k"]);
}

#[test]
fn a_cluster_of_three_masters_is_ok_and_routes_keys() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut cluster = RedisCluster::start(tmp.path());
    eprintln!("redis cluster started in {:?}", started.elapsed());
    let nodes = cluster.nodes();
    assert_eq!(nodes.len(), CLUSTER_NODES);
    let addresses: Vec<String> = nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.port()))
        .collect();
    assert_eq!(
        cluster.url(),
        format!("redis+cluster://{}", addresses.join(","))
    );
    for node in nodes {
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut node.connection())
            .unwrap();
        assert!(info.contains("cluster_state:ok"), "{info}");
    }

    let urls: Vec<String> = nodes.iter().map(RedisServer::url).collect();
    let mut con = redis::cluster::ClusterClient::new(urls)
        .unwrap()
        .get_connection()
        .unwrap();
    let mut expected: Vec<String> = (0..30).map(|n| format!("test:{n}")).collect();
    expected.push("test:{session}:a".to_owned());
    expected.push("test:{session}:b".to_owned());
    for key in &expected {
        let () = con.set(key, "v").unwrap();
    }
    let () = con.set("other", "v").unwrap();
    expected.sort();
    assert_eq!(cluster.keys_matching("test:*"), expected);
    // The keys are spread: more than one node holds some.
    let holding = nodes
        .iter()
        .filter(|node| !node.keys_matching("test:*").is_empty())
        .count();
    assert!(holding > 1, "all keys on one node");

    let pids: Vec<u32> = nodes.iter().map(RedisServer::pid).collect();
    cluster.stop();
    for pid in pids {
        assert!(!process_exists(pid), "{pid} still runs");
    }
}

#[test]
fn the_server_has_what_the_redis_store_relies_on() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = RedisServer::start(tmp.path());
    let mut con = server.connection();
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();

    // SET … PXAT in the past is accepted and leaves no key, also in a script.
    let () = con.set("k", "v").unwrap();
    let answer: String = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("PXAT")
        .arg(now_ms - 1000)
        .query(&mut con)
        .unwrap();
    assert_eq!(answer, "OK");
    assert!(!con.exists::<_, bool>("k").unwrap());
    let exists: i64 = redis::Script::new(
        "redis.call('SET', KEYS[1], 'v'); \
         redis.call('SET', KEYS[1], 'v2', 'PXAT', ARGV[1]); \
         return redis.call('EXISTS', KEYS[1])",
    )
    .key("k")
    .arg(now_ms - 1000)
    .invoke(&mut con)
    .unwrap();
    assert_eq!(exists, 0);
    // PXAT 0 is an error, not an expiry.
    assert!(
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .arg("PXAT")
            .arg(0)
            .query::<()>(&mut con)
            .is_err()
    );

    // PEXPIRETIME (Redis 7.0) answers the absolute expiry; -1 none, -2 no key.
    let at = now_ms + 60_000;
    let () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PXAT")
        .arg(at)
        .query(&mut con)
        .unwrap();
    let expiry: i64 = redis::cmd("PEXPIRETIME").arg("k").query(&mut con).unwrap();
    assert_eq!(expiry, at);
    let () = con.set("plain", "v").unwrap();
    let none: i64 = redis::cmd("PEXPIRETIME")
        .arg("plain")
        .query(&mut con)
        .unwrap();
    assert_eq!(none, -1);
    let missing: i64 = redis::cmd("PEXPIRETIME")
        .arg("missing")
        .query(&mut con)
        .unwrap();
    assert_eq!(missing, -2);
}
