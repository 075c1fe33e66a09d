#!/usr/bin/env bash
# Runs the Node examples against a freshly started Graft: the transfer-learning walk-through
# (walkthrough.js), then unary + streaming Predict and KServe ModelInfer (client.js) on the
# model it trained, transfer learning on MiniLM from raw strings (text.js), and the exact error
# texts grpc-js (errors.js) and, where python3-grpcio is
# installed, Python (../python/errors.py) receive. Used by the build's integration-test phase;
# skipped without node/npm.
#
#   examples/node/ci.sh [path to quarkus-run.jar]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jar=${1:-$root/target/quarkus-app/quarkus-run.jar}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node-examples: skipped, node and npm are not installed (Node 20+ needed)"
  exit 0
fi
[ -f "$jar" ] || { echo "node-examples: $jar not found; run ./mvnw -DskipTests package" >&2; exit 1; }

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

work=$(mktemp -d "${TMPDIR:-/tmp}/graft-node-XXXXXX")
free_port() { node -e 'const s=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})'; }
http_port=$(free_port)
grpc_port=$(free_port)
db_port=$(free_port)
java -Dgraft.storage.dir="$work/data" -Dgraft.database.embedded-port="$db_port" \
  -Dquarkus.http.port="$http_port" -Dquarkus.grpc.server.port="$grpc_port" -Dgraft.bootstrap.pretrain=false \
  -Djava.io.tmpdir="$work" \
  -jar "$jar" >"$work/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 180); do
  if node -e "require('http').get('http://localhost:$http_port/q/health/ready',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"; then
    break
  fi
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; echo "node-examples: Graft did not start" >&2; exit 1; }
  sleep 1
done

if ! OUT_DIR="$work/out" node "$here/walkthrough.js" "localhost:$grpc_port" | tee "$work/walkthrough.log"; then
  tail -50 "$work/server.log"
  exit 1
fi
model=$(sed -n 's/^MODEL=//p' "$work/walkthrough.log")
node "$here/client.js" "localhost:$grpc_port" "$model" "$work/out/square.png"
if ! node "$here/text.js" "localhost:$grpc_port"; then
  tail -50 "$work/server.log"
  exit 1
fi
node "$here/errors.js" "localhost:$grpc_port" "$model"
# The first Python that has grpcio: the one on the PATH, or Debian's (python3-grpcio, installed
# here when missing and running as root; apt's output, which names its mirrors, stays unshown).
find_python() {
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import grpc' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
}
python=$(find_python)
if [ -z "$python" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "python-errors: installing the Debian package python3-grpcio"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-grpcio >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; \
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-grpcio >/dev/null 2>&1; } \
    || true
  python=$(find_python)
fi
if [ -n "$python" ]; then
  "$python" "$root/examples/python/errors.py" "localhost:$grpc_port"
else
  echo "python-errors: skipped, no python3 with the grpc module (apt-get install python3-grpcio)"
fi
echo "node-examples: walk-through, client, text and error texts passed"
