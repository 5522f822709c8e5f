#!/usr/bin/env bash
# The flamegraphs of docs/BENCHMARKS.md ("Where the time goes"): `perf`
# samples a host on redb under wrk (64 connections, 256 target sessions),
# and inferno draws them into docs/flamegraphs/{create,get}-redb.svg.
#
#   bench/profile.sh        (after `cargo xtask bench`, which builds the host
#                            with the benchmark-only feature `bench`)
#
# Needs perf (Debian: linux-perf), wrk, and inferno (`cargo install inferno`).
# SESSATTR_BENCH_PERFMAP=1 makes wasmtime name the guest's code for perf
# (as wasm[0]::function[N]: the shipped module carries no name section).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/sessattr"
out="$root/docs/flamegraphs"
for tool in perf wrk inferno-collapse-perf inferno-flamegraph curl python3; do
  command -v "$tool" >/dev/null || { echo "profile.sh: $tool is missing" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/data" "$out"
printf '[argon2]\nm_cost = 256\nt_cost = 1\np_cost = 1\n' > "$work/data/sessattr.toml"
admin_pw="admin-$(head -c 9 /dev/urandom | base64)"
alice_pw="alice-$(head -c 9 /dev/urandom | base64)"
echo "$admin_pw" | "$bin" --data-dir "$work/data" user add admin --super-user --password-stdin >/dev/null
echo "$alice_pw" | "$bin" --data-dir "$work/data" user add alice --password-stdin >/dev/null
port=17990
SESSATTR_BENCH_PERFMAP=1 "$bin" --data-dir "$work/data" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -s -o /dev/null "$base/" && break; sleep 0.1; done
login() {
  curl -s -X POST "$base/zato/sso/user/login" \
    -d "{\"username\":\"$1\",\"password\":\"$2\",\"current_app\":\"CRM\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ust"])'
}
admin=$(login admin "$admin_pw")
value=$(printf 'v%.0s' $(seq 64))
targets=""
for _ in $(seq 256); do
  target=$(login alice "$alice_pw")
  curl -s -o /dev/null -X POST "$base/zato/sso/session/attr" \
    -d "{\"current_ust\":\"$admin\",\"target_ust\":\"$target\",\"current_app\":\"CRM\",\"name\":\"a\",\"value\":\"$value\",\"encrypt\":true}"
  targets="$targets\"$target\","
done
cat >"$work/create.lua" <<LUA
local targets = {${targets%,}}
local n = 0
function request()
  n = n + 1
  local t = targets[(n % #targets) + 1]
  local body = '{"current_ust":"$admin","target_ust":"' .. t .. '","current_app":"CRM","name":"m' .. n .. '","value":"$value","encrypt":true}'
  return wrk.format("POST", "/zato/sso/session/attr", {["Content-Type"] = "application/json"}, body)
end
LUA
cat >"$work/get.lua" <<LUA
local targets = {${targets%,}}
local n = 0
function request()
  n = n + 1
  local t = targets[(n % #targets) + 1]
  return wrk.format("GET", "/zato/sso/session/attr?current_ust=$admin&target_ust=" .. t .. "&current_app=CRM&name=a")
end
LUA
for case in get create; do
  taskset -c 1 wrk -t1 -c64 -d9s -s "$work/$case.lua" "$base" >"$work/wrk-$case.txt" &
  load=$!
  sleep 3
  perf record -F 499 --call-graph dwarf,16384 -p "$pid" -o "$work/$case.data" -- sleep 4 2>/dev/null
  wait "$load"
  perf script -i "$work/$case.data" 2>/dev/null | inferno-collapse-perf >"$work/$case.folded"
  inferno-flamegraph --minwidth 0.5 \
    --title "sessattr serve: $case (encrypted, 64 B) on redb, 64 connections" \
    <"$work/$case.folded" >"$out/$case-redb.svg"
  echo "profile.sh: $case: $(grep Requests/sec "$work/wrk-$case.txt") -> $out/$case-redb.svg"
done
