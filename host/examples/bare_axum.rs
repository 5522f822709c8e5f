//! BENCHMARK BASELINE: the least an HTTP server on this machine can do per
//! request. A bare axum endpoint that answers every GET with the same JSON
//! body of `--bytes N` bytes (the size of sessattr's get answer), on the
//! same tokio runtime settings as `sessattr serve`: the HTTP limit that
//! `cargo xtask bench` compares sessattr with.
//!
//! `bare_axum --listen 127.0.0.1:PORT --bytes N`; prints
//! `listening on http://ADDR` once it accepts connections.
#![allow(missing_docs)]

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

fn main() -> Result<()> {
    let (listen, bytes) = parse_args()?;
    let body = json_of_size(bytes);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async move {
        let app = Router::new().fallback(get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }));
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// `--listen ADDR --bytes N`.
fn parse_args() -> Result<(SocketAddr, usize)> {
    let mut listen = None;
    let mut bytes = 200;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{arg} wants a value"))?;
        match arg.as_str() {
            "--listen" => listen = Some(value.parse().context("--listen ADDR")?),
            "--bytes" => bytes = value.parse().context("--bytes N")?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok((listen.context("--listen ADDR is required")?, bytes))
}

/// A JSON object of exactly `bytes` bytes (at least 12), shaped like an
/// answer: `{"value":"xxx…"}`.
fn json_of_size(bytes: usize) -> String {
    let fill = bytes.saturating_sub(r#"{"value":""}"#.len());
    format!(r#"{{"value":"{}"}}"#, "x".repeat(fill))
}
