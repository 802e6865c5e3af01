#!/usr/bin/env bash
# Runs the tour on three nodes behind HAProxy, on loopback:
#   Redis 127.0.0.1:6390, nodes :8081 :8082 :8083, HAProxy http://127.0.0.1:8080/
# (other ports: REDIS_PORT, NODE_PORTS="p1 p2 p3" and LB_PORT in the environment).
# Ctrl-C stops them all. Needs go, redis-server and haproxy on PATH
# (Debian: apt-get install redis-server haproxy).
# Try it: open the counter through http://127.0.0.1:8080/, count a few
# times, kill the node that serves you (its name is in the SRV cookie;
# kill the matching pid printed below), and count again.
set -euo pipefail
cd "$(dirname "$0")/.."
redis_port=${REDIS_PORT:-6390}
read -r -a node_ports <<<"${NODE_PORTS:-8081 8082 8083}"
lb_port=${LB_PORT:-8080}
work=$(mktemp -d)
pids=()
cleanup() {
    trap - INT TERM EXIT
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup INT TERM EXIT

for bin in go redis-server haproxy; do
    command -v "$bin" >/dev/null || { echo "run.sh: $bin not found" >&2; exit 1; }
done

go build -o "$work/tour" ./examples/tour
# One signing key shared by every node, so that each accepts the others' cookies.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/keys"
echo >>"$work/keys"
chmod 600 "$work/keys"

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync everysec --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

for n in 1 2 3; do
    port=${node_ports[n-1]}
    "$work/tour" -addr "127.0.0.1:$port" -redis "redis://127.0.0.1:$redis_port/0" \
        -node "n$n" -keys-file "$work/keys" >"$work/n$n.log" 2>&1 &
    pids+=($!)
    echo "node n$n: pid $! on http://127.0.0.1:$port/ (log $work/n$n.log)"
done

LB_ADDR=127.0.0.1:$lb_port NODE1=127.0.0.1:${node_ports[0]} NODE2=127.0.0.1:${node_ports[1]} NODE3=127.0.0.1:${node_ports[2]} \
    HAPROXY_SOCK="$work/haproxy.sock" haproxy -db -f deploy/haproxy.cfg >"$work/haproxy.log" 2>&1 &
pids+=($!)
echo "HAProxy: http://127.0.0.1:$lb_port/ (Ctrl-C stops everything)"
echo "Rolling deploy of n1: echo 'set server nodes/n1 state drain' | socat stdio $work/haproxy.sock; then kill -TERM <n1's pid>"
wait "${pids[-1]}"
