#!/usr/bin/env bash
# `make fuzz`: builds every fuzz target (tests/fuzz/<name>_fuzz.cc) with clang,
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer in its own build
# folder, then fuzzes each one in turn.
#
#   scripts/fuzz.sh [SECONDS] [NAME...]
#
# SECONDS (default 60) is the time given to each target; NAME limits the run to
# some targets (default: all). Environment: JOBS (parallel compile jobs,
# default nproc), FUZZ_BUILD_DIR (default build-fuzz).
#
# Where inputs go:
#   tests/fuzz/corpus/<name>/   committed seeds, read but never added to,
#                               except that every crash, leak, timeout or
#                               out-of-memory input found is saved here as
#                               crash-<sha1> (leak-, timeout-, oom-), so that
#                               `make test` replays it from then on;
#   BUILD/fuzz-corpus/<name>/   new interesting inputs, outside the git tree;
#                               kept, so the next run starts where this one
#                               stopped (delete the folder to start from the
#                               seeds alone);
#   BUILD/fuzz-logs/<name>.log  libFuzzer's full output of the last run.
#
# Prints, per target, the executions, the new corpus files and the crashes;
# exits 1 if any target crashed (or failed to start).
set -euo pipefail

cd "$(dirname "$0")/.."

readonly fuzz_dir=tests/fuzz
readonly build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
readonly jobs=${JOBS:-$(nproc)}
# Per-input limit: an input running longer is reported as a timeout finding.
readonly input_timeout_seconds=25
# libFuzzer saves "slow-unit-*" files into the artifact folder; only findings
# belong in the committed corpus, so the threshold lies beyond the timeout.
readonly slow_unit_seconds=$((input_timeout_seconds + 1))
readonly crash_report_lines=60

seconds=${1:-60}
shift || true
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: FUZZ_SECONDS must be a positive whole number of seconds, not '$seconds'" >&2
  exit 2
fi

all_targets() {
  local source
  for source in "$fuzz_dir"/*_fuzz.cc; do
    [[ -e "$source" ]] || continue
    source=${source##*/}
    echo "${source%_fuzz.cc}"
  done
}

mapfile -t available < <(all_targets)
if [[ ${#available[@]} -eq 0 ]]; then
  echo "fuzz: no $fuzz_dir/*_fuzz.cc found" >&2
  exit 2
fi
if [[ $# -eq 0 ]]; then
  targets=("${available[@]}")
else
  targets=("$@")
fi
for name in "${targets[@]}"; do
  if ! printf '%s\n' "${available[@]}" | grep -qxF -- "$name"; then
    echo "fuzz: no target '$name' (have: ${available[*]})" >&2
    exit 2
  fi
  if [[ ! -d "$fuzz_dir/corpus/$name" ]]; then
    echo "fuzz: $fuzz_dir/corpus/$name is missing; add seed inputs for target $name" >&2
    exit 2
  fi
done

# clang and its libFuzzer/sanitizer runtimes, beyond what `make build` needs.
CUSTOS_EXTRA_PACKAGES="${CUSTOS_EXTRA_PACKAGES:-} clang libclang-rt-dev" bash scripts/install-deps.sh

echo "fuzz: building ${targets[*]} in $build_dir (clang, libFuzzer, ASan, UBSan)"
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCUSTOS_FUZZ=ON >/dev/null
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

list_files() {  # DIR -> file names, sorted
  find "$1" -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort
}

# The libFuzzer statistic NAME from LOG, or "?" if the run ended without it.
final_stat() {
  local value
  value=$(sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$2" | tail -n 1)
  echo "${value:-?}"
}

# Prints the sanitizer or libFuzzer report of a failed run: from its first
# error line through its SUMMARY line, at most crash_report_lines lines.
print_report() {  # LOG
  awk -v max="$crash_report_lines" '
    !on && /^==[0-9]+==|ERROR: libFuzzer|runtime error:|^ALARM:/ { on = 1 }
    on && n < max { print "    " $0; n++ }
    on && /^SUMMARY:/ { exit }
  ' "$1"
}

summary=()
failed=0
for name in "${targets[@]}"; do
  corpus="$fuzz_dir/corpus/$name"
  work="$build_dir/fuzz-corpus/$name"
  log="$build_dir/fuzz-logs/$name.log"
  mkdir -p "$work" "${log%/*}"
  before=$(list_files "$work")

  echo "fuzz: $name for ${seconds}s (log: $log)"
  status=0
  # The first corpus folder receives new inputs; the seeds are only read.
  "$build_dir/bin/fuzz_$name" "$work" "$corpus" \
    -max_total_time="$seconds" -print_final_stats=1 \
    -timeout="$input_timeout_seconds" -report_slow_units="$slow_unit_seconds" \
    -artifact_prefix="$corpus/" >"$log" 2>&1 || status=$?

  executions=$(final_stat number_of_executed_units "$log")
  new_files=$(comm -13 <(echo "$before") <(list_files "$work") | grep -c . || true)
  mapfile -t artifacts < <(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
  line="$name: $executions executions, $new_files new corpus files, ${#artifacts[@]} crashes"
  if [[ $status -ne 0 ]]; then
    failed=1
    [[ ${#artifacts[@]} -gt 0 ]] || line+=" (fuzzer exited with status $status)"
    echo "fuzz: $name FAILED"
    print_report "$log"
    for artifact in "${artifacts[@]}"; do
      echo "    input saved as $artifact (replayed by make test from now on)"
    done
  fi
  echo "fuzz: $line"
  summary+=("$line")
done

echo
echo "fuzz summary (${seconds}s per target; new corpus files are in $build_dir/fuzz-corpus/):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
