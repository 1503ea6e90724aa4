#!/usr/bin/env bash
# Check-in throughput over HTTPS, beside the disk's fsync bound measured in
# the same run: 64 KiB files with 16 clients, and 16 MiB files.
#   bench/checkin_bench.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
bin="$build/bin"
work=$(mktemp -d /tmp/custos-bench-XXXXXX)
trap 'kill "${pid:-0}" 2>/dev/null || true; wait "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
pw="$work/pw"
openssl rand -base64 18 > "$pw"
chmod 600 "$pw"
"$bin/custosctl" init --data "$work/data" --admin-password-file "$pw" > /dev/null
"$bin/custosctl" user add bench --role archivist --department sales --password-file "$pw" \
  --no-force-change --data "$work/data" > /dev/null
"$bin/custosd" --data "$work/data" --listen 127.0.0.1:0 2> "$work/log" &
pid=$!
for _ in $(seq 100); do
  port=$(grep -o '"port":[0-9]*' "$work/log" | head -1 | cut -d: -f2 || true)
  [[ -n "$port" ]] && break
  sleep 0.1
done
url="https://127.0.0.1:$port"
python3 bench/fsync_rate.py "$work/data" 2000
python3 bench/checkin_client.py "$url" "$work/data/tls/cert.pem" bench "$(cat "$pw")" 16 20 65536
python3 bench/checkin_client.py "$url" "$work/data/tls/cert.pem" bench "$(cat "$pw")" 1 8 16777216
python3 bench/checkin_client.py "$url" "$work/data/tls/cert.pem" bench "$(cat "$pw")" 4 4 16777216
