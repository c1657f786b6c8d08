#!/usr/bin/env bash
# Runs every test ferromq has: Rust unit tests, the golden vectors from the
# real Java library, the Go client test (go-interop/: rocketmq-client-go v2
# against a real ferromq process), then the Java interop suite (real
# RocketMQ clients against a real ferromq process) on client 4.9.7 and again
# on 4.3.0, and the mixed Apache/ferromq master-slave pairs.
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --locked
cargo test --release --locked

echo "== Go interop test, rocketmq-client-go v2 =="
(cd go-interop && FERROMQ_BIN="$PWD/../target/release/ferromq" go test -count=1 ./...)

for version in 4.9.7 4.3.0; do
  echo "== Java interop suite, rocketmq-client ${version} =="
  mvn -B --no-transfer-progress -f java-interop/pom.xml verify \
    -Drocketmq.client.version="${version}" \
    -Dferromq.bin="$PWD/target/release/ferromq"
done

# Mixed clusters: Apache RocketMQ 4.9.7 (from Maven Central) and ferromq as
# master/slave pairs both ways. Last, so that the suites above (which run
# ReplicationTest only when Apache's classpath is already resolved) stay
# ferromq-only on a clean clone.
echo "== Mixed clusters with Apache RocketMQ 4.9.7 (ReplicationTest, MixedNamesrvTest, MixedFailoverTest) =="
mvn -B --no-transfer-progress -f java-interop/pom.xml verify \
  -Dinterop.target=apache -Dtest=ReplicationTest,MixedNamesrvTest,MixedFailoverTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dferromq.bin="$PWD/target/release/ferromq"
