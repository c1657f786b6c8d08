#!/usr/bin/env bash
# ferromq vs Apache RocketMQ 4.9.7 on this machine: builds ferromq, resolves Apache RocketMQ
# 4.9.7 from Maven Central, runs every scenario against both brokers alternately and writes
#   bench/results/<timestamp>.jsonl   one JSON object per run (plus meta/end lines)
#   bench/results/<timestamp>.md      the Markdown report (bench/report.py)
#   bench/results/<timestamp>-logs/   stdout/stderr of every process started
#
#   bench/run.sh                 full run (~20-25 min on 2 cores)
#   QUICK=1 bench/run.sh         ~3-4 min smoke run (small counts, one round)
#
# Knobs (environment): ROUNDS, SIZES ("128 1024 65536"), PRODUCERS ("1 16"), INFLIGHT (1),
# MSGS_128, MSGS_1K, MSGS_64K, WARMUP_MSGS, WARMUP_MSGS_64K, BROKERS ("java ferro nostore
# append": the last two are `ferromq ceiling`, the box's reference, generator runs, and the Java tool's Producer-alone shape for nostore),
# JAVA_TOOL_SCENARIOS ("1024x16p 1024x16"; trailing p = Producer alone; or "none"), JAVA_TOOL_SECONDS, JAVA_TOOL_ROUNDS,
# JAVA_BROKER_HEAP (2g), JAVA_NAMESRV_HEAP (512m), JAVA_BROKER_OPTS (extra flags),
# JAVA_CLIENT_HEAP (1g), BENCH_TMPDIR (stores; default $TMPDIR or /tmp),
# SKIP_BUILD=1 (use the existing target/release/ferromq), FERROMQ_BIN (another binary),
# KEEP_STORES=1.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
cd "$ROOT"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$BENCH_DIR/results"
mkdir -p "$RESULTS"
OUT="$RESULTS/$STAMP.jsonl"
LOGS="$RESULTS/$STAMP-logs"
mkdir -p "$LOGS"
T0=$(date +%s)

child=""
BIN_DIR=""
cleanup() {
    local rc=$?
    if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
        # bench.py stops every broker/client it started when it gets SIGTERM
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    [[ -n "$BIN_DIR" ]] && rm -rf "$BIN_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

for tool in java mvn python3; do
    command -v "$tool" >/dev/null || { say "missing: $tool"; exit 1; }
done

# 1. ferromq release binary
FERROMQ="${FERROMQ_BIN:-$ROOT/target/release/ferromq}"
if [[ "${SKIP_BUILD:-0}" != "1" && -z "${FERROMQ_BIN:-}" ]]; then
    say "cargo build --release"
    cargo build --release >&2
fi
[[ -x "$FERROMQ" ]] || { say "no ferromq binary at $FERROMQ"; exit 1; }
# run a private copy, so that a rebuild of target/ during the run cannot swap the binary
BIN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ferromq-bench-bin.XXXXXX")"
cp "$FERROMQ" "$BIN_DIR/ferromq"
say "ferromq: $FERROMQ ($(date -u -r "$FERROMQ" +%FT%TZ), sha256 $(sha256sum "$FERROMQ" | cut -c1-16))"
FERROMQ="$BIN_DIR/ferromq"

# 2. Apache RocketMQ 4.9.7 (name server, broker, client) from Maven Central, and the
#    benchmark tool stand-ins
say "resolving Apache RocketMQ 4.9.7 with Maven"
JAVA_TARGET="$BENCH_DIR/java/target"
mvn -q -B -f "$BENCH_DIR/java/pom.xml" package dependency:build-classpath \
    -Dmdep.outputFile="$JAVA_TARGET/classpath.txt" >&2
CP_FILE="$JAVA_TARGET/classpath.txt"
TOOL_CP_FILE="$JAVA_TARGET/tool-classpath.txt"
TOOL_KIND="stand-in"
printf '%s:%s\n' "$JAVA_TARGET/classes" "$(cat "$CP_FILE")" > "$TOOL_CP_FILE"

say "Java benchmark tools: $TOOL_KIND"

# 3. the runs
say "results: $OUT"
extra=()
[[ "${KEEP_STORES:-0}" == "1" ]] && extra+=(--keep-stores)
python3 "$BENCH_DIR/bench.py" --ferromq "$FERROMQ" --classpath "$CP_FILE" \
    --java-tool-classpath "$TOOL_CP_FILE" --java-tool-kind "$TOOL_KIND" \
    --out "$OUT" --logs "$LOGS" "${extra[@]}" &
child=$!
wait "$child"
child=""

# 4. the report
python3 "$BENCH_DIR/report.py" "$OUT" > "$RESULTS/$STAMP.md"
cat "$RESULTS/$STAMP.md"
say "done in $(( $(date +%s) - T0 )) s: $OUT, $RESULTS/$STAMP.md"
