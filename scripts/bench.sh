#!/usr/bin/env bash
# Side-by-side benchmark: moonkv vs the installed redis-server, same flags, same
# machine, alternating runs, median of ROUNDS rounds. Prints ops/s and the ratio
# moonkv/redis, then memory after DEBUG POPULATE 1000000, then SAVE/load/BGSAVE figures.
#
#   ROUNDS=3 N=200000 ./scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
# redis-benchmark test names; LRANGE_* fill their list with LPUSH first.
TESTS=${TESTS:-set get incr mset lpush lpop rpop sadd hset zadd spop lrange_100 lrange_600}
N=${N:-200000}
POPULATE=${POPULATE:-1000000}
MOONKV=./target/release/moonkv
REDIS=$(command -v redis-server)
BENCH=$(command -v redis-benchmark)
CLI=$(command -v redis-cli)
TMP=$(mktemp -d)
trap 'kill $MPID $RPID 2>/dev/null || true; rm -rf "$TMP"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FLAGS=(--bind 127.0.0.1 --save "" --appendonly no --protected-mode no --enable-debug-command yes)
MPORT=$(free_port); RPORT=$(free_port)
mkdir -p "$TMP/m" "$TMP/r"
$MOONKV --port "$MPORT" --dir "$TMP/m" "${FLAGS[@]}" >"$TMP/moonkv.log" 2>&1 & MPID=$!
$REDIS --port "$RPORT" --dir "$TMP/r" "${FLAGS[@]}" >"$TMP/redis.log" 2>&1 & RPID=$!
for p in "$MPORT" "$RPORT"; do
  for _ in $(seq 1 500); do $CLI -p "$p" ping >/dev/null 2>&1 && break; sleep 0.02; done
  $CLI -p "$p" ping >/dev/null || { echo "server on $p did not start"; exit 1; }
done

declare -A RESULTS CPU
# CPU time (user+system, in clock ticks) the server process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
run_one() { # server port pid pipeline
  local name=$1 port=$2 pid=$3 pipe=$4 test
  $CLI -p "$port" flushall >/dev/null
  for test in $TESTS; do
    local t0 t1
    t0=$(cpu_ticks "$pid")
    $BENCH -p "$port" -c 50 -P "$pipe" -n "$N" -t "$test" --csv 2>/dev/null |
      tail -n +2 | tr -d '"' | while IFS=, read -r t rps _; do echo "$t|$rps"; done >"$TMP/out"
    t1=$(cpu_ticks "$pid")
    while IFS='|' read -r t rps; do
      case "$t" in *"needed to benchmark"*) continue ;; esac
      grep -qxF "$t" "$TMP/names" 2>/dev/null || echo "$t" >>"$TMP/names"
      RESULTS["$name|$pipe|$t"]+="$rps "
      # Server CPU microseconds per request: insensitive to the machine's noise.
      CPU["$name|$pipe|$t"]+="$(awk -v d=$((t1 - t0)) -v u="$TICK_US" -v n="$N" 'BEGIN { printf "%.3f", d * u / n }') "
    done <"$TMP/out"
  done
}

ms_now() { date +%s%3N; }
row() { printf "%-28s %14s %14s %8s\n" "$1" "$2" "$3" "$(awk -v m="$2" -v r="$3" 'BEGIN { if (r > 0) printf "%.2f", m / r; else print "n/a" }')"; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# REPL_ONLY=1: only the replication figures.
if [ -z "${REPL_ONLY:-}" ]; then
for round in $(seq 1 "$ROUNDS"); do
  for pipe in 1 32; do
    run_one moonkv "$MPORT" "$MPID" "$pipe"
    run_one redis "$RPORT" "$RPID" "$pipe"
  done
done


echo "redis-benchmark -c 50 -n $N, median of $ROUNDS alternating rounds ($(nproc) cores)"
printf "%-22s %13s %13s %6s   %13s %13s %6s\n" "test" "moonkv ops/s" "redis ops/s" "ratio" "moonkv cpu/op" "redis cpu/op" "ratio"
for pipe in 1 32; do
  while IFS= read -r test; do
    m=$(echo "${RESULTS["moonkv|$pipe|$test"]:-}" | median)
    r=$(echo "${RESULTS["redis|$pipe|$test"]:-}" | median)
    mc=$(echo "${CPU["moonkv|$pipe|$test"]:-}" | median)
    rc=$(echo "${CPU["redis|$pipe|$test"]:-}" | median)
    ratio=$(awk -v m="$m" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", m / r; else print "n/a" }')
    # CPU ratio: redis/moonkv, so above 1.0 means moonkv spends less per request.
    cratio=$(awk -v m="$mc" -v r="$rc" 'BEGIN { if (m > 0) printf "%.2f", r / m; else print "n/a" }')
    printf "%-22s %13s %13s %6s   %11sus %11sus %6s\n" "${test%% (*} -P $pipe" "$m" "$r" "$ratio" "$mc" "$rc" "$cratio"
  done <"$TMP/names"
done

# Scripting: EVALSHA of an INCR script on random keys, a CPU-bound EVAL, and EVAL
# with a new body every call (compile + cache + eviction path).
SCRIPT_N=${SCRIPT_N:-200000}
INCR_SHA=$($CLI -p "$MPORT" script load "return redis.call('INCR', KEYS[1])")
$CLI -p "$RPORT" script load "return redis.call('INCR', KEYS[1])" >/dev/null
LOOP="local x = 0 for i = 1, 10000 do x = x + i end return x"
declare -A SRES
script_case() { # name port n pipeline args...
  local name=$1 port=$2 n=$3 pipe=$4; shift 4
  $BENCH -p "$port" -c 50 -n "$n" -r 100000000 -P "$pipe" --csv "$@" 2>/dev/null | tail -1 | awk -F'","' '{ print $2 }'
}
for round in $(seq 1 "$ROUNDS"); do
  for srv in moonkv:$MPORT redis:$RPORT; do
    name=${srv%%:*}; port=${srv##*:}
    SRES["$name|evalsha -P 1"]+="$(script_case "$name" "$port" "$SCRIPT_N" 1 evalsha "$INCR_SHA" 1 key:__rand_int__) "
    SRES["$name|evalsha -P 16"]+="$(script_case "$name" "$port" "$SCRIPT_N" 16 evalsha "$INCR_SHA" 1 key:__rand_int__) "
    SRES["$name|eval cpu loop"]+="$(script_case "$name" "$port" $((SCRIPT_N / 10)) 1 eval "$LOOP" 0) "
    SRES["$name|eval new body"]+="$(script_case "$name" "$port" $((SCRIPT_N / 2)) 1 eval "return 'x__rand_int__'" 0) "
  done
done
echo
echo "scripts: redis-benchmark -c 50, median of $ROUNDS alternating rounds"
printf "%-22s %13s %13s %6s\n" "test" "moonkv ops/s" "redis ops/s" "ratio"
for t in "evalsha -P 1" "evalsha -P 16" "eval cpu loop" "eval new body"; do
  m=$(echo "${SRES["moonkv|$t"]}" | median); r=$(echo "${SRES["redis|$t"]}" | median)
  printf "%-22s %13s %13s %6s\n" "$t" "$m" "$r" "$(awk -v m="$m" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", m / r; else print "n/a" }')"
done

mem() { $CLI -p "$1" info memory | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }
echo
echo "memory after DEBUG POPULATE $POPULATE"
printf "%-28s %14s %14s %8s\n" "figure" "moonkv" "redis" "ratio"
for p in "$MPORT" "$RPORT"; do $CLI -p "$p" flushall >/dev/null; done
mbase=$(mem "$MPORT" used_memory); rbase=$(mem "$RPORT" used_memory)
for p in "$MPORT" "$RPORT"; do $CLI -p "$p" debug populate "$POPULATE" >/dev/null; done
for field in used_memory used_memory_rss; do
  m=$(mem "$MPORT" $field); r=$(mem "$RPORT" $field)
  printf "%-28s %14s %14s %8s\n" "$field" "$m" "$r" "$(awk -v m="$m" -v r="$r" 'BEGIN { printf "%.2f", m / r }')"
done
m=$(( ($(mem "$MPORT" used_memory) - mbase) / POPULATE )); r=$(( ($(mem "$RPORT" used_memory) - rbase) / POPULATE ))
printf "%-28s %14s %14s %8s\n" "bytes per key (used_memory)" "$m" "$r" "$(awk -v m="$m" -v r="$r" 'BEGIN { printf "%.2f", m / r }')"

# Persistence, with the POPULATE keys still loaded: SAVE time and file size, load
# time at start-up, and the longest pause a client sees while a BGSAVE runs under
# redis-benchmark load (max latency of SET/GET over the save).
echo
echo "persistence with $POPULATE keys (DEBUG POPULATE)"
printf "%-28s %14s %14s %8s\n" "figure" "moonkv" "redis" "ratio"
declare -A SAVE_MS SIZE LOAD_MS PAUSE_MS
for srv in moonkv:$MPORT:m redis:$RPORT:r; do
  IFS=: read -r name port dir <<<"$srv"
  t0=$(ms_now); $CLI -p "$port" save >/dev/null; t1=$(ms_now)
  SAVE_MS[$name]=$((t1 - t0)); SIZE[$name]=$(stat -c %s "$TMP/$dir/dump.rdb")
  mkdir -p "$TMP/load-$dir"; cp "$TMP/$dir/dump.rdb" "$TMP/load-$dir/"
done
for srv in moonkv:$MPORT:m redis:$RPORT:r; do
  IFS=: read -r name port dir <<<"$srv"
  # Longest pause: SET/GET under load while a BGSAVE runs from start to end.
  # (redis-benchmark prints a test's figures when it ends: it runs ~3 s, the save
  # starts after 0.5 s and takes well under that.)
  $BENCH -p "$port" -c 50 -n 400000 -r 1000000 -t set --csv >"$TMP/pause-$name.csv" 2>/dev/null &
  BPID=$!
  sleep 0.5
  $CLI -p "$port" bgsave >/dev/null
  while [ "$($CLI -p "$port" info persistence | tr -d '\r' | awk -F: '$1=="rdb_bgsave_in_progress"{print $2}')" != "0" ]; do sleep 0.05; done
  wait "$BPID" 2>/dev/null || true
  PAUSE_MS[$name]=$(awk -F'","' 'NR > 1 { gsub(/"/, "", $8); if ($8 + 0 > m) m = $8 + 0 } END { print m + 0 }' "$TMP/pause-$name.csv")
done
# Load time: a new server on the same file, until it answers PING (loaded).
load_ms() { # binary dir
  local port; port=$(free_port)
  local t0; t0=$(ms_now)
  $1 --port "$port" --dir "$2" "${FLAGS[@]}" >/dev/null 2>&1 & local pid=$!
  until [ "$($CLI -p "$port" ping 2>/dev/null)" = "PONG" ]; do sleep 0.01; done
  echo $(($(ms_now) - t0))
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
kill $MPID $RPID; wait $MPID $RPID 2>/dev/null || true
LOAD_MS[moonkv]=$(load_ms "$MOONKV" "$TMP/load-m")
LOAD_MS[redis]=$(load_ms "$REDIS" "$TMP/load-r")
row "SAVE ms" "${SAVE_MS[moonkv]}" "${SAVE_MS[redis]}"
row "file bytes" "${SIZE[moonkv]}" "${SIZE[redis]}"
row "load at start-up ms" "${LOAD_MS[moonkv]}" "${LOAD_MS[redis]}"
row "max client pause in BGSAVE ms" "${PAUSE_MS[moonkv]}" "${PAUSE_MS[redis]}"

fi # REPL_ONLY

# Replication: a full sync of REPL_KEYS keys with 100-byte values, from REPLICAOF
# until the replica's link is up with every key loaded (moonkv→moonkv against
# redis→redis), and the primary's SET throughput with 2 replicas attached.
REPL_KEYS=${REPL_KEYS:-1000000}
echo
echo "replication: full sync of $REPL_KEYS keys (100-byte values); SET with 2 replicas"
printf "%-28s %14s %14s %8s\n" "figure" "moonkv" "redis" "ratio"
declare -A SYNC_MS SET1 SET32
start_node() { # binary dir port
  mkdir -p "$2"
  $1 --port "$3" --dir "$2" "${FLAGS[@]}" --repl-diskless-sync-delay 0 >"$2/log" 2>&1 &
  echo $!
}
wait_ping() { for _ in $(seq 1 500); do $CLI -p "$1" ping 2>/dev/null | grep -q PONG && return; sleep 0.02; done; }
link_up() { $CLI -p "$1" info replication 2>/dev/null | tr -d '\r' | grep -q '^master_link_status:up'; }
# Both trios stay up; the SET runs alternate between them (median of ROUNDS),
# the idle trio costing nothing meanwhile.
declare -A PRIMARY REPLICAS PIDS
for srv in moonkv:$MOONKV redis:$REDIS; do
  IFS=: read -r name bin <<<"$srv"
  P=$(free_port); R1=$(free_port); R2=$(free_port)
  PP=$(start_node "$bin" "$TMP/repl-$name-p" "$P"); P1=$(start_node "$bin" "$TMP/repl-$name-1" "$R1")
  P2=$(start_node "$bin" "$TMP/repl-$name-2" "$R2")
  PRIMARY[$name]=$P; REPLICAS[$name]="$R1 $R2"; PIDS[$name]="$PP $P1 $P2"
  for port in $P $R1 $R2; do wait_ping "$port"; done
  $CLI -p "$P" debug populate "$REPL_KEYS" key 100 >/dev/null
  t0=$(ms_now)
  $CLI -p "$R1" replicaof 127.0.0.1 "$P" >/dev/null
  until link_up "$R1" && [ "$($CLI -p "$R1" dbsize 2>/dev/null)" = "$REPL_KEYS" ]; do sleep 0.01; done
  SYNC_MS[$name]=$(($(ms_now) - t0))
  $CLI -p "$R2" replicaof 127.0.0.1 "$P" >/dev/null
  until link_up "$R2"; do sleep 0.05; done
done
set_rps() { $BENCH -p "$1" -c 50 -n "$2" -t set -P "$3" --csv 2>/dev/null | tail -n +2 | tr -d '"' | cut -d, -f2; }
for round in $(seq 1 "$ROUNDS"); do
  for name in moonkv redis; do
    SET1[$name]+="$(set_rps "${PRIMARY[$name]}" "$N" 1) "
    SET32[$name]+="$(set_rps "${PRIMARY[$name]}" $((N * 5)) 32) "
  done
done
# Scripts with the same 2 replicas: EVALSHA of a script doing 10 writes, moonkv
# in adaptive and in effects mode, redis-server (which replicates effects).
# Figures: primary ops/s, replication stream bytes per run, and how long the
# replicas take to reach the primary's offset once the run is over.
SCRIPT='for i = 1, 10 do redis.call("set", "s:" .. ARGV[1] .. ":" .. i, ARGV[1]) end return 10'
SCRIPT_N=${SCRIPT_N:-$((N / 2))}
declare -A EVAL_RPS EVAL_BYTES EVAL_LAG
repl_offset() { $CLI -p "$1" info replication | tr -d '\r' | awk -F: '$1 == "master_repl_offset" { print $2 }'; }
replica_offsets_equal() { # name; true when every replica has applied all the primary streamed
  local want r
  want=$(repl_offset "${PRIMARY[$1]}")
  for r in ${REPLICAS[$1]}; do
    [ "$(repl_offset "$r")" = "$want" ] || return 1
  done
}
for round in $(seq 1 "$ROUNDS"); do
  for variant in moonkv:adaptive moonkv:effects redis:effects; do
    IFS=: read -r name mode <<<"$variant"
    port=${PRIMARY[$name]}
    [ "$name" = moonkv ] && $CLI -p "$port" config set script-replication "$mode" >/dev/null
    sha=$($CLI -p "$port" script load "$SCRIPT")
    until replica_offsets_equal "$name"; do sleep 0.01; done
    o0=$(repl_offset "$port")
    rps=$($BENCH -p "$port" -c 50 -n "$SCRIPT_N" -r 100000 --csv evalsha "$sha" 0 __rand_int__ 2>/dev/null | tail -n +2 | tr -d '"' | cut -d, -f2)
    o1=$(repl_offset "$port")
    t0=$(ms_now)
    until replica_offsets_equal "$name"; do sleep 0.001; done
    EVAL_LAG[$variant]+="$(($(ms_now) - t0)) "
    EVAL_RPS[$variant]+="$rps "
    EVAL_BYTES[$variant]=$(awk -v d=$((o1 - o0)) -v n="$SCRIPT_N" 'BEGIN { printf "%.1f", d / n }')
  done
done
for name in moonkv redis; do
  # shellcheck disable=SC2086
  kill ${PIDS[$name]}; wait ${PIDS[$name]} 2>/dev/null || true
done
row "full sync ms" "${SYNC_MS[moonkv]}" "${SYNC_MS[redis]}"
row "SET -P 1 ops/s, 2 replicas" "$(echo "${SET1[moonkv]}" | median)" "$(echo "${SET1[redis]}" | median)"
row "SET -P 32 ops/s, 2 replicas" "$(echo "${SET32[moonkv]}" | median)" "$(echo "${SET32[redis]}" | median)"
echo
echo "scripts: EVALSHA of a script doing 10 SETs, -c 50 -n $SCRIPT_N, 2 replicas (moonkv adaptive/effects vs redis)"
printf "%-28s %14s %14s %8s\n" "figure" "moonkv" "redis" "ratio"
for mode in adaptive effects; do
  row "EVALSHA ops/s, $mode" "$(echo "${EVAL_RPS[moonkv:$mode]}" | median)" "$(echo "${EVAL_RPS[redis:effects]}" | median)"
  row "stream bytes/run, $mode" "${EVAL_BYTES[moonkv:$mode]}" "${EVAL_BYTES[redis:effects]}"
  row "replica catch-up ms, $mode" "$(echo "${EVAL_LAG[moonkv:$mode]}" | median)" "$(echo "${EVAL_LAG[redis:effects]}" | median)"
done
row "bytes/run adaptive vs effects" "${EVAL_BYTES[moonkv:adaptive]}" "${EVAL_BYTES[moonkv:effects]}"
