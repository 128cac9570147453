#!/usr/bin/env bash
# The high-availability example: three moonkv nodes (6380 primary, 6381 and 6382
# its replicas) and three redis-sentinels (26380-26382) watching them, started
# from configs/ha/ in a scratch directory (both rewrite their config files).
#
#   make ha-demo        start it (in ./ha-demo, or $HA_DIR)
#   make ha-demo-stop   stop it
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${HA_DIR:-$PWD/ha-demo}
MOONKV=$PWD/target/release/moonkv
CLI=$(command -v redis-cli)

stop() {
  if [ -f "$RUN/pids" ]; then
    # shellcheck disable=SC2046
    kill $(cat "$RUN/pids") 2>/dev/null || true
    rm -f "$RUN/pids"
  fi
}

wait_ping() {
  for _ in $(seq 1 200); do
    [ "$($CLI -p "$1" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  echo "nothing answers on port $1; see $RUN" >&2
  exit 1
}

case "${1:-start}" in
stop)
  stop
  echo "stopped (files left in $RUN)"
  ;;
start)
  stop
  rm -rf "$RUN" && mkdir -p "$RUN" && cp configs/ha/*.conf "$RUN/"
  cd "$RUN"
  for p in 6380 6381 6382; do
    mkdir -p "node-$p"
    "$MOONKV" "node-$p.conf" >"node-$p/log" 2>&1 &
    echo $! >>pids
  done
  for p in 6380 6381 6382; do wait_ping "$p"; done
  for s in 26380 26381 26382; do
    mkdir -p "sentinel-$s"
    redis-sentinel "$RUN/sentinel-$s.conf" >"sentinel-$s/log" 2>&1 &
    echo $! >>pids
  done
  for s in 26380 26381 26382; do wait_ping "$s"; done
  cat <<INFO
HA example running in $RUN:
  moonkv    127.0.0.1:6380 (primary), :6381 and :6382 (replicas)   logs: node-*/log
  sentinel  127.0.0.1:26380 26381 26382 (master name: mymaster)    logs: sentinel-*/log

Ask Sentinel for the primary:   redis-cli -p 26380 sentinel get-master-addr-by-name mymaster
A planned switch-over:          redis-cli -p 26380 sentinel failover mymaster
  (or on the primary itself:    redis-cli -p 6380 failover)
A crash drill:                  kill -9 \$(redis-cli -p 6380 info server | awk -F: '/^process_id/ {print \$2}')
  then, after down-after-milliseconds (5 s), watch the sentinels promote a replica:
                                tail -f $RUN/sentinel-26380/log
  and restart the old primary; Sentinel turns it into a replica:
                                cd $RUN && $MOONKV node-6380.conf >>node-6380/log 2>&1 &
Stop everything:                make ha-demo-stop
INFO
  ;;
*)
  echo "usage: $0 [start|stop]" >&2
  exit 2
  ;;
esac
