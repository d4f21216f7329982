#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 600 s) with cargo-fuzz (nightly,
# AddressSanitizer), starting from the seeds in fuzz/seeds and the corpus kept in
# fuzz/corpus/<target> (generated, not committed), and prints executions per second.
# A crash stops its target and leaves the input in fuzz/artifacts/<target>/; make it a
# regression test (tests/tests/bad_input/) before fixing it.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(helm_values helm_template chart_archive kustomize_yaml label_selector revision
  kustomize_tree artifact_extract apiserver_request)

seeds_of() {
  case "$1" in
    helm_values|kustomize_yaml) echo "$here/seeds/yaml" ;;
    helm_template) echo "$here/seeds/printf" ;;
    chart_archive) echo "$here/seeds/chart-archive" ;;
    label_selector) echo "$here/seeds/label-selector" ;;
    revision) echo "$here/seeds/revision" ;;
    kustomize_tree) echo "$here/seeds/kustomize-tree" ;;
    artifact_extract) echo "$here/seeds/artifact-extract" ;;
    apiserver_request) echo "$here/seeds/apiserver-request" ;;
  esac
}

cd "$here"
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="$(mktemp)"
  # -rss_limit_mb/-malloc_limit_mb: a bomb that gets past our limits is a finding too
  cargo +nightly fuzz run "$t" "corpus/$t" $(seeds_of "$t") -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    printf '%-18s ok    %10s runs  %8s exec/s\n' "$t" "${runs:-?}" "${took:-?}"
  else
    status=1
    printf '%-18s FAIL  (exit %s) — see below and fuzz/artifacts/%s/\n' "$t" "$rc" "$t"
    grep -E "panicked|ERROR: |SUMMARY|Test unit written" "$log" | head -10
  fi
  rm -f "$log"
done
exit $status
