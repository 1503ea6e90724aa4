#!/usr/bin/env bash
# `make run`: creates the demo data directory once, then runs the server in
# the foreground (Ctrl-C stops it cleanly).
set -euo pipefail
build_dir=${1:-build}
data=${2:-demo-data}
listen=${3:-127.0.0.1:8443}
bin="$build_dir/bin"

if [[ ! -d "$data" ]]; then
  "$bin/custosctl" init --data "$data" --listen "$listen"
fi

echo
echo "Custos is starting on https://$listen/ (self-signed certificate: curl -k, or trust $data/tls/cert.pem)"
echo "  health:  curl --cacert $data/tls/cert.pem https://$listen/healthz"
echo "  stop:    Ctrl-C"
echo
exec "$bin/custosd" --data "$data" --listen "$listen"
