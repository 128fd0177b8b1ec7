#!/usr/bin/env bash
# Runs the speed and memory benchmarks of issue 16 and prints one table: each
# target, the figure measured and the comparison made in the same run. The
# raw `go test -bench` output is kept in $BENCH_OUT (default bin/bench.out) so
# every figure can be traced to its benchmark line. Takes a few minutes on a
# 2-core machine. Knobs: ROUNDS (alternating throughput rounds, default 7),
# OPS (SETs per P16 round, P1 rounds use a fifth; default 300000), PIN=false
# (let the scheduler place server and clients; default: server on CPU 0,
# both clients on CPU 1).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
ROUNDS=${ROUNDS:-7}
OPS=${OPS:-300000}
OUT=${BENCH_OUT:-bin/bench.out}
mkdir -p "$(dirname "$OUT")"
: >"$OUT"

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)
run() { # package, benchmark regexp, extra go test flags...
  local pkg=$1 re=$2
  shift 2
  echo "bench: $pkg $re" >&2
  "$GO" test -run '^$' -bench "$re" -benchtime 1x -timeout 30m "$@" "$pkg" -args ${EXTRA_ARGS:-} | tee -a "$OUT" >&2
}
EXTRA_ARGS="-loadgen.rounds $ROUNDS -loadgen.ops $OPS -loadgen.pin=${PIN:-true}" run ./loadgen 'SetThroughput'
EXTRA_ARGS="-loadgen.rounds $ROUNDS -loadgen.ops $OPS -loadgen.pin=${PIN:-true}" run ./loadgen 'ReaderThroughput'
run ./loadgen 'Preload'
run ./loadgen 'HistoryMemory' -benchmem
run ./loadgen 'SpoolPass' -benchtime 5x
run ./check 'ReadBack1M' -benchtime 3x
run ./check 'ClassifyFromSpool'
run ./report 'ReportTenTrials'
run ./loadgen 'Pacing$'
load_after=$(load)

# metric NAME UNIT: the value before UNIT on the benchmark line NAME.
metric() {
  awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$OUT"
}
verdict() { # value, op, target
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "") { print "no figure"; exit } ok = (op == ">=") ? v >= t : v <= t; print ok ? "met" : "NOT met" }'
}
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "") print "-"; else printf "%." d "f", v }'; }
# ceiling SERVER CLIENT: keys/s the measured CPU per 1M keys allows on this
# machine when nothing else runs: the single-threaded server on one whole
# core, and both sides together on all cores.
ceiling() {
  awk -v s="$1" -v c="$2" -v n="$(nproc)" 'BEGIN { if (s == "" || c == "" || s <= 0) { print "-"; exit } a = 1e6 / s; b = n * 1e6 / (s + c); printf "%.0f", (a < b) ? a : b }'
}

row() { # target, measured, comparison, value, op, threshold[, note when busy]
  local v
  v=$(verdict "$4" "$5" "$6")
  if [ "$busy" = 1 ] && [ -n "${7:-}" ]; then v="$v ($7)"; fi
  printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$v"
}

echo
echo "valkey-chaos make bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(valkey-server --version | cut -d' ' -f3)"
echo "load average (1/5/15 min) before: $load_before, after: $load_after"
busy=0
if awk -v a="${load_before%% *}" -v b="${load_after%% *}" -v n="$(nproc)" 'BEGIN { exit !(a > n || b > n) }'; then
  busy=1
  echo "WARNING: the machine was busy (load above $(nproc) CPUs): wall rates and ratios are dominated by who else ran;"
  echo "the client CPU per SET (and the server and harness CPU per key) are the figures to compare."
fi
echo
echo "| target | measured | comparison in the same run | |"
echo "|---|---|---|---|"
# throughput BENCH TARGET UNIT: a row of a benchmark's ABBA rounds against valkey-benchmark.
throughput() {
  local b=$1 r
  r=$(metric "$b" median-ratio)
  row "$2 >= 1.0x valkey-benchmark ($ROUNDS ABBA rounds, pin=${PIN:-true})" \
    "$(fmt "$(metric "$b" ops/s)" 0) $3/s (median)" \
    "valkey-benchmark $(fmt "$(metric "$b" vb-ops/s)" 0) $3/s; ratio median $(fmt "$r" 2), range $(fmt "$(metric "$b" min-ratio)" 2)-$(fmt "$(metric "$b" max-ratio)" 2); client CPU/$3 $(fmt "$(metric "$b" cpu-us/op)" 2) µs vs $(fmt "$(metric "$b" vb-cpu-us/op)" 2) µs" \
    "$r" ">=" 1.0 "busy machine: compare CPU/$3"
}
for p in 1 16; do
  throughput "BenchmarkSetThroughput/P$p" "SET throughput P$p (go-redis, the default; 4 conns, 100 B)" SET
done
for p in 1 16; do
  throughput "BenchmarkSetThroughput/resp-P$p" "SET throughput P$p (load.client: resp, the raw RESP fast path; 4 conns, 100 B)" SET
done
for c in default tuned resp; do
  throughput "BenchmarkReaderThroughput/$c" "GET throughput (the reader, client $c; 4 conns, P1, 100 B hits)" GET
done
b=BenchmarkPreload/conns4
k=$(metric "$b" keys/s)
sc=$(metric "$b" server-cpu-s/Mkeys)
cc=$(metric "$b" client-cpu-s/Mkeys)
row "Preload >= 1M keys/s (1M x 100 B, 4 conns as a trial)" "$(fmt "$k" 0) keys/s" \
  "CPU per 1M keys: server $(fmt "$sc" 2) s, harness $(fmt "$cc" 2) s; at that CPU cost an otherwise idle machine allows $(ceiling "$sc" "$cc") keys/s; 2 conns $(fmt "$(metric BenchmarkPreload/conns2 keys/s)" 0), 8 conns $(fmt "$(metric BenchmarkPreload/conns8 keys/s)" 0) keys/s" \
  "$k" ">=" 1000000
h=$(metric BenchmarkHistoryMemory retained-B/op)
row "History <= 40 B per recorded op in memory (10M ops)" "$(fmt "$h" 1) B/op retained" \
  "peak while Stop merges $(fmt "$(metric BenchmarkHistoryMemory peak-B/op)" 1) B/op; 48 B/op before (Op struct)" "$h" "<=" 40
sp=$(metric BenchmarkSpooledHistoryMemory/spool peak-heap-MiB)
mem=$(metric BenchmarkSpooledHistoryMemory/memory peak-heap-B/op)
row "History of a 1 h trial at 20k/s (72M ops) in 2 GiB: spooled to disk" "$(fmt "$sp" 1) MiB writer peak heap over 1M ops, flat in the op count ($(fmt "$(metric BenchmarkSpooledHistoryMemory/spool file-B/op)" 0) B/op on disk)" \
  "kept in memory: $(fmt "$mem" 1) B/op peak, $(awk -v b="$mem" 'BEGIN { if (b == "") print "-"; else printf "%.1f", b * 72e6 / 2^30 }') GiB at 72M ops" \
  "$sp" "<=" 2048
b=BenchmarkClassifyFromSpool
m=$(metric "$b" at-72M-MiB)
row "Classification of a 1 h trial at 20k/s (72M ops) from disk in 2 GiB" "$(fmt "$(metric "$b" trial-heap-B/op)" 2) B/op heap held classifying 10M ops from the spool (peak RSS $(fmt "$(metric "$b" peak-rss-B/op)" 2) B/op)" \
  "$(fmt "$m" 0) MiB at 72M ops; in memory the ops alone take 40 B/op, $(awk 'BEGIN { printf "%.0f", 40 * 72e6 / 2^20 }') MiB; $(fmt "$(metric "$b" ns/op-classified)" 0) ns per op classified" \
  "$m" "<=" 2048
p=$(metric BenchmarkSpoolPass ns/op-pass)
row "One pass over a spooled History (informational: a trial makes about a dozen)" "$(fmt "$p" 1) ns per op" \
  "$(awk -v p="$p" 'BEGIN { if (p == "") print "-"; else printf "%.1f", p * 72e6 / 1e9 }') s per pass over a 1 h trial's 72M ops (CRC-32C records; version 1's IEEE checksum took 48-56 ns per op where this took 31-35)" \
  "$p" "<=" 64
b=BenchmarkReportTenTrials
rt=$(metric "$b" s/report)
row "Report of a 10-trial run in under 10 s" "$(fmt "$rt" 2) s" \
  "result.json loaded, $(fmt "$(metric "$b" charts)" 0) charts, report.md, report.html and the summary written" \
  "$rt" "<=" 10 "busy machine: wall time includes waiting for a CPU"
b=BenchmarkReadBack1M
k=$(metric "$b" keys/s)
sc=$(metric "$b" server-cpu-s/Mkeys)
cc=$(metric "$b" client-cpu-s/Mkeys)
row "Read-back >= 2M keys/s (1M x 100 B, pipelined MGET)" "$(fmt "$k" 0) keys/s" \
  "CPU per 1M keys: server $(fmt "$sc" 2) s, harness $(fmt "$cc" 2) s ($(fmt "$(metric "$b" client-allocs/key)" 1) allocations per key); at that CPU cost an otherwise idle machine allows $(ceiling "$sc" "$cc") keys/s" \
  "$k" ">=" 2000000
for r in 1000 10000 20000; do
  b="BenchmarkPacing/${r}/s"
  a=$(metric "$b" achieved/target)
  row "Pacing at ${r}/s within 1% (informational)" "$(fmt "$a" 4) of target" \
    "p99 $(fmt "$(metric "$b" p99-ms)" 2) ms from intended time" "$a" ">=" 0.99
done
echo
echo "raw benchmark output: $OUT"
