//! Where the Redis store connects: the `--store` URL, its options, and the
//! pool of connections (a single server or a cluster).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConnection};
use redis::{Client, Connection, ConnectionLike, RedisError, TlsCertificates};

use crate::store::StoreError;

/// The environment variable with the Redis password; it wins over a
/// password in the URL, and keeps it out of process listings and config
/// files.
pub const PASSWORD_ENV: &str = "SESSATTR_REDIS_PASSWORD";

/// One Redis deployment, as `--store` names it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://…` / `rediss://…` URL of each node: one for a single
    /// server, the seed nodes of a cluster.
    pub nodes: Vec<String>,
    /// A cluster (`redis+cluster://` / `rediss+cluster://`).
    pub cluster: bool,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl RedisTarget {
    /// Parses a store URL: `redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]`
    /// (`rediss://` for TLS, `#insecure` to skip certificate checks), or
    /// `redis+cluster://[USER[:PASSWORD]@]H1:P1,H2:P2,…` (`rediss+cluster://`).
    /// `None` when `text` is not a Redis URL. Errors never quote the text (it
    /// may hold a password).
    pub fn parse(text: &str) -> Option<Result<Self, &'static str>> {
        let text = text.trim();
        let (scheme, rest) = text.split_once("://")?;
        let (tls, cluster) = match scheme {
            "redis" | "valkey" => (false, false),
            "rediss" | "valkeys" => (true, false),
            "redis+cluster" | "valkey+cluster" => (false, true),
            "rediss+cluster" | "valkeys+cluster" => (true, true),
            _ => return None,
        };
        Some(Self::parse_rest(rest, tls, cluster))
    }

    fn parse_rest(rest: &str, tls: bool, cluster: bool) -> Result<Self, &'static str> {
        let scheme = if tls { "rediss" } else { "redis" };
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((authority, path)) => (authority, path),
            None => (rest, ""),
        };
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        if fragment.is_some() && !tls {
            return Err("#insecure skips TLS certificate checks: it needs rediss");
        }
        if path.contains('?') || path.contains('/') {
            return Err("a Redis URL takes only a database number after the host");
        }
        if !path.is_empty() && (cluster || path.parse::<u8>().is_err()) {
            return Err(if cluster {
                "a Redis Cluster has only database 0: give no /DB"
            } else {
                "the database after the host must be a number"
            });
        }
        let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return Err("a host is missing");
        }
        if !cluster && hosts.len() > 1 {
            return Err("several hosts need a redis+cluster URL (a Redis Cluster)");
        }
        let nodes = hosts
            .iter()
            .map(|host| {
                let mut url = format!("{scheme}://");
                if let Some(userinfo) = userinfo {
                    url.push_str(userinfo);
                    url.push('@');
                }
                url.push_str(host);
                if !path.is_empty() {
                    url.push('/');
                    url.push_str(path);
                }
                if let Some(fragment) = fragment {
                    url.push('#');
                    url.push_str(fragment);
                }
                url
            })
            .collect::<Vec<_>>();
        for node in &nodes {
            redis::parse_redis_url(node).ok_or("not a valid Redis URL")?;
        }
        Ok(Self { nodes, cluster })
    }

    /// The URL with any password replaced by `***`, for logs and `config show`.
    pub fn redacted(&self) -> String {
        let tls = self.nodes.first().is_some_and(|n| n.starts_with("rediss"));
        let scheme = match (tls, self.cluster) {
            (false, false) => "redis",
            (true, false) => "rediss",
            (false, true) => "redis+cluster",
            (true, true) => "rediss+cluster",
        };
        // The credentials are the same on every node: shown once, first.
        let mut creds = String::new();
        let mut hosts = Vec::new();
        for node in &self.nodes {
            let rest = node
                .split_once("://")
                .map_or(node.as_str(), |(_, rest)| rest);
            match rest.rsplit_once('@') {
                Some((userinfo, host)) => {
                    creds = match userinfo.split_once(':') {
                        Some((user, _)) => format!("{user}:***@"),
                        None => format!("{userinfo}@"),
                    };
                    hosts.push(host);
                }
                None => hosts.push(rest),
            }
        }
        format!("{scheme}://{creds}{}", hosts.join(","))
    }
}

/// How the Redis store connects, beyond the URL.
#[derive(Clone)]
pub struct RedisOptions {
    /// Longest wait to connect, for an answer, and for a free pooled
    /// connection: a request fails with 503 E008004 after about this long
    /// when Redis does not answer.
    pub timeout: Duration,
    /// Most open connections (per host process).
    pub pool_size: u32,
    /// PEM file of the certificate authority that signed the server's
    /// certificate (`rediss://`), instead of the system's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for servers that require one.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// The password ([`PASSWORD_ENV`]), overriding one in the URL.
    pub password: Option<String>,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_client", &self.tls_client)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            pool_size: 32,
            tls_ca_file: None,
            tls_client: None,
            password: None,
        }
    }
}

/// A connection to a single server or a cluster.
pub enum Link {
    /// One server.
    Single(Connection),
    /// A cluster: routes each command by its key's slot and follows
    /// MOVED/ASK redirections.
    Cluster(Box<ClusterConnection>),
}

impl Link {
    /// The connection as the `redis` crate's commands take it.
    pub fn as_dyn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Self::Single(con) => con,
            Self::Cluster(con) => con.as_mut(),
        }
    }
}

/// A pooled connection; `broken` after any error, so that a connection in
/// an unknown state (a timed-out answer may still arrive) is never reused.
pub struct Pooled {
    /// The connection.
    pub link: Link,
    /// Set after a failed command: the pool drops the connection.
    pub broken: bool,
}

/// Makes connections for the pool.
pub struct Manager {
    client: Clients,
    timeout: Duration,
    /// Set while the latest attempt to connect failed (and no attempt has
    /// succeeded since); shared with the store, which then fails at once
    /// instead of waiting for a connection that cannot come.
    unreachable: Arc<AtomicBool>,
}

/// The client of a single server, or of a cluster.
enum Clients {
    Single(Client),
    Cluster(ClusterClient),
}

impl Manager {
    /// A manager for `target` with `options`.
    pub fn new(target: &RedisTarget, options: &RedisOptions) -> Result<Self, StoreError> {
        let fail = |err: RedisError| StoreError::Open {
            path: target.redacted(),
            reason: crate::error::one_line(&err.to_string()),
        };
        let certs = certificates(options).map_err(|reason| StoreError::Open {
            path: target.redacted(),
            reason,
        })?;
        let client = if target.cluster {
            let mut builder = ClusterClientBuilder::new(target.nodes.clone())
                .connection_timeout(options.timeout)
                .response_timeout(options.timeout)
                // No retry inside the client: after a timeout it would send
                // the command again on the same socket, where the late answer
                // to the first one may still arrive and be read as the
                // answer to the next command. [`super::RedisStore`] retries
                // MOVED / ASK / TRYAGAIN itself, on a fresh connection.
                .retries(0);
            if let Some(password) = &options.password {
                builder = builder.password(password);
            }
            if let Some(certs) = certs {
                builder = builder.certs(certs);
            }
            Clients::Cluster(builder.build().map_err(fail)?)
        } else {
            let mut info =
                redis::IntoConnectionInfo::into_connection_info(target.nodes[0].as_str())
                    .map_err(fail)?;
            if let Some(password) = &options.password {
                let settings = info.redis_settings().clone().set_password(password);
                info = info.set_redis_settings(settings);
            }
            let client = match certs {
                Some(certs) => Client::build_with_tls(info, certs),
                None => Client::open(info),
            };
            Clients::Single(client.map_err(fail)?)
        };
        Ok(Self {
            client,
            timeout: options.timeout,
            unreachable: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The flag that tells whether the latest attempt to connect failed.
    pub fn unreachable(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unreachable)
    }

    /// Makes a connection (r2d2 calls it, and calls it again in the
    /// background after a failure until one succeeds).
    fn make(&self) -> Result<Pooled, RedisError> {
        let link = match &self.client {
            Clients::Single(client) => {
                let con = client.get_connection_with_timeout(self.timeout)?;
                con.set_read_timeout(Some(self.timeout))?;
                con.set_write_timeout(Some(self.timeout))?;
                Link::Single(con)
            }
            Clients::Cluster(client) => Link::Cluster(Box::new(client.get_connection()?)),
        };
        Ok(Pooled {
            link,
            broken: false,
        })
    }
}

/// The TLS files of `options`, read; `None` when none is given.
fn certificates(options: &RedisOptions) -> Result<Option<TlsCertificates>, String> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
    };
    if options.tls_ca_file.is_none() && options.tls_client.is_none() {
        return Ok(None);
    }
    let root_cert = options.tls_ca_file.as_ref().map(read).transpose()?;
    let client_tls = match &options.tls_client {
        Some((cert, key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        None => None,
    };
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = RedisError;

    fn connect(&self) -> Result<Pooled, RedisError> {
        let made = self.make();
        self.unreachable.store(made.is_err(), Ordering::Relaxed);
        made
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), RedisError> {
        redis::cmd("PING").query::<()>(conn.link.as_dyn())
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.broken || !conn.link.as_dyn().is_open()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RedisTarget, &'static str> {
        RedisTarget::parse(text).expect("a Redis URL")
    }

    #[test]
    fn urls_of_a_server_and_of_a_cluster() {
        let single = parse("redis://127.0.0.1:6380/2").expect("single");
        assert_eq!(single.nodes, ["redis://127.0.0.1:6380/2"]);
        assert!(!single.cluster);
        let cluster = parse("redis+cluster://u:pw@h1:7000,h2:7001").expect("cluster");
        assert_eq!(
            cluster.nodes,
            ["redis://u:pw@h1:7000", "redis://u:pw@h2:7001"]
        );
        assert!(cluster.cluster);
        let tls = parse("rediss://h:6390/#insecure").expect("tls");
        assert_eq!(tls.nodes, ["rediss://h:6390#insecure"]);
        assert!(RedisTarget::parse("./data/sessattr.redb").is_none());
        assert!(RedisTarget::parse("http://h").is_none());
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_them() {
        for text in [
            "redis://",
            "redis://h1,h2",
            "redis://h/x",
            "redis://h/1/2",
            "redis+cluster://h1,,h2",
            "redis+cluster://h1/3",
            "redis://h:1/0#insecure",
        ] {
            let err = parse(text).expect_err(text);
            assert!(!err.contains("h1") && !err.contains("://"), "{err}");
        }
    }

    #[test]
    fn the_password_never_shows() {
        let single = parse("redis://alice:s3cret@h:6379/0").expect("single");
        assert_eq!(single.redacted(), "redis://alice:***@h:6379/0");
        assert_eq!(format!("{single:?}"), "redis://alice:***@h:6379/0");
        let cluster = parse("rediss+cluster://:s3cret@h1:1,h2:2").expect("cluster");
        assert_eq!(cluster.redacted(), "rediss+cluster://:***@h1:1,h2:2");
        let plain = parse("redis+cluster://h1:1,h2:2").expect("plain");
        assert_eq!(plain.redacted(), "redis+cluster://h1:1,h2:2");
        let options = RedisOptions {
            password: Some("s3cret".into()),
            ..RedisOptions::default()
        };
        assert!(!format!("{options:?}").contains("s3cret"));
    }
}
