//! A tiny in-memory embedding of the core for tests: the step loop of
//! docs/abi.md over a BTreeMap.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;
use sessattr_core::config::{Argon2Params, Config, KeyEntry, KeyState};
use sessattr_core::protocol::{Decision, Expect, HttpRequest, Operation, UserAdd, WriteAction};
use sessattr_core::store::layout;
use sessattr_core::{Prepared, StepInput, StepOutput, encode_seed, step_with};

/// 2026-12-03T19:00:00Z in unix micros.
pub const T0: i64 = 1_796_324_400_000_000;

pub struct World {
    pub store: BTreeMap<String, String>,
    /// When the store may forget each key (`expires_at` of its last put or
    /// expire); a deleted key keeps its last entry.
    pub expiries: BTreeMap<String, Option<i64>>,
    pub config: Config,
    pub now: i64,
    /// The nonce budget passed with every step (`None` = no limit).
    pub encryption_budget: Option<u32>,
    seed_counter: u8,
    /// `config` as set up once, the way the host configures an instance;
    /// made again when a test changes `config`.
    prepared: Option<Prepared>,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub decision: Decision,
}

impl Answer {
    pub fn code(&self) -> Option<&str> {
        self.body["sub_status"][0].as_str()
    }
}

impl World {
    pub fn new() -> Self {
        let config = Config {
            keys: vec![KeyEntry {
                id: "k1".into(),
                key: base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
                state: KeyState::Primary,
            }],
            argon2: Argon2Params {
                m_cost: 64,
                t_cost: 1,
                p_cost: 1,
            },
            ..Config::default()
        };
        Self {
            store: BTreeMap::new(),
            expiries: BTreeMap::new(),
            config,
            now: T0,
            encryption_budget: None,
            seed_counter: 0,
            prepared: None,
        }
    }

    /// Runs `op` to its answer: applies each decision's writes, and runs
    /// it again as long as the decision says so (at most 3 times).
    pub fn run(&mut self, op: Operation) -> Answer {
        let mut decision = self.decide(op.clone());
        self.apply(&decision);
        for _ in 0..3 {
            if !decision.run_again {
                break;
            }
            decision = self.decide(op.clone());
            self.apply(&decision);
        }
        assert!(!decision.run_again, "run again more than 3 times");
        let body = serde_json::from_str(&decision.response.body).unwrap();
        Answer {
            status: decision.response.status,
            body,
            decision,
        }
    }

    /// Applies `decision`'s write set if every precondition holds; answers
    /// whether it did (a lost race otherwise).
    pub fn try_apply(&mut self, decision: &Decision) -> bool {
        let holds = decision.writes.ops.iter().all(|op| {
            let current = self.store.get(&op.key);
            match &op.expect {
                Expect::Any => true,
                Expect::Absent => current.is_none(),
                Expect::Value(v) => current == Some(v),
            }
        });
        if holds {
            self.apply(decision);
        }
        holds
    }

    /// Steps `op` to its decision, without applying it.
    pub fn decide(&mut self, op: Operation) -> Decision {
        self.seed_counter = self.seed_counter.wrapping_add(1);
        if self.prepared.as_ref().map(Prepared::config) != Some(&self.config) {
            self.prepared = Some(Prepared::new(self.config.clone()).expect("a valid config"));
        }
        let mut input = StepInput {
            config: None,
            op,
            now: self.now,
            seed: encode_seed(&[self.seed_counter; 32]),
            records: BTreeMap::new(),
            scans: BTreeMap::new(),
            encryption_budget: self.encryption_budget,
        };
        for _ in 0..8 {
            match step_with(&input, self.prepared.as_ref()) {
                StepOutput::Need(need) => {
                    for key in need.get {
                        let value = self.store.get(&key).cloned();
                        input.records.insert(key, value);
                    }
                    for prefix in need.scan {
                        let found = self
                            .store
                            .range(prefix.clone()..)
                            .take_while(|(k, _)| k.starts_with(&prefix))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        input.scans.insert(prefix, found);
                    }
                }
                StepOutput::Done(decision) => return decision,
                StepOutput::Rejected(why) => panic!("rejected: {why}"),
            }
        }
        panic!("too many steps")
    }

    fn apply(&mut self, decision: &Decision) {
        // Every write set keeps to one hash tag (one Redis Cluster slot).
        let tags: std::collections::BTreeSet<&str> = decision
            .writes
            .ops
            .iter()
            .map(|op| layout::hash_tag(&op.key))
            .collect();
        assert!(tags.len() <= 1, "a write set spans hash tags {tags:?}");
        for op in &decision.writes.ops {
            let current = self.store.get(&op.key);
            match &op.expect {
                Expect::Any => {}
                Expect::Absent => assert!(current.is_none(), "precondition failed"),
                Expect::Value(v) => assert_eq!(current, Some(v), "precondition failed"),
            }
        }
        for op in &decision.writes.ops {
            match &op.action {
                WriteAction::Put { value, expires_at } => {
                    self.store.insert(op.key.clone(), value.clone());
                    self.expiries.insert(op.key.clone(), *expires_at);
                }
                WriteAction::Delete => {
                    self.store.remove(&op.key);
                }
                WriteAction::Expire { expires_at } => {
                    if self.store.contains_key(&op.key) {
                        self.expiries.insert(op.key.clone(), *expires_at);
                    }
                }
                WriteAction::Check => {}
            }
        }
    }

    pub fn http(&mut self, method: &str, path: &str, body: &str) -> Answer {
        self.run(Operation::Http(HttpRequest {
            method: method.into(),
            path: path.into(),
            body: base64::engine::general_purpose::STANDARD.encode(body),
            remote_addr: "127.0.0.1".into(),
            user_agent: "test".into(),
            ..HttpRequest::default()
        }))
    }

    /// An HTTP request with a JSON body.
    pub fn request(&mut self, method: &str, path: &str, body: &Value) -> Answer {
        self.http(method, path, &body.to_string())
    }

    pub fn add_user(&mut self, name: &str, super_user: bool) -> Answer {
        self.run(Operation::UserAdd(UserAdd {
            username: name.into(),
            password: format!("pw-{name}"),
            is_super_user: super_user,
        }))
    }

    pub fn login(&mut self, name: &str) -> String {
        let body = serde_json::json!({"username": name, "password": format!("pw-{name}"), "current_app": "CRM"});
        let answer = self.http("POST", "/zato/sso/user/login", &body.to_string());
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["ust"].as_str().unwrap().to_string()
    }

    /// An admin and a regular user, both logged in: (admin UST, user UST).
    pub fn two_sessions(&mut self) -> (String, String) {
        self.add_user("admin", true);
        self.add_user("alice", false);
        (self.login("admin"), self.login("alice"))
    }

    pub fn create(&mut self, body: Value) -> Answer {
        self.http("POST", "/zato/sso/session/attr", &body.to_string())
    }

    /// A request on the attribute endpoint `path` with `body` and `query`.
    pub fn attr(&mut self, method: &str, path: &str, body: Value, query: &str) -> Answer {
        self.run(Operation::Http(HttpRequest {
            method: method.into(),
            path: format!("/zato/sso/session/attr{path}"),
            query: query.into(),
            body: base64::engine::general_purpose::STANDARD.encode(body.to_string()),
            remote_addr: "127.0.0.1".into(),
            user_agent: "test".into(),
            ..HttpRequest::default()
        }))
    }
}
