#!/usr/bin/env bash
# Benchmark: render the whole visible helm conformance corpus with `gitops helm template`
# and with the real `helm template` in the same run (whole-process wall time), and compare;
# the same split into the renders that generate keys (RSA prime search dominates both tools
# there) and the others; a few single charts (best of 5 runs
# each); peak RSS on the largest chart. Prints figures; asserts nothing.
#
#   crates/helm/bench/bench.sh [GITOPS_BIN] [HELM_BIN]
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
corpus="${CORPUS:-$root/../shared/conformance/helm}"
gitops="${1:-$root/target/release/gitops}"
helm="${2:-$HOME/.cache/gitops-peers/helm}"
[ -x "$gitops" ] || { echo "build first: cargo build --release -p gitops" >&2; exit 1; }
[ -x "$helm" ] || { echo "helm not found at $helm (../shared/tools/install-peers.sh)" >&2; exit 1; }
[ -d "$corpus" ] || { echo "corpus not found at $corpus" >&2; exit 1; }

# every case/variant as: release|namespace|chart|values
cases=()
for c in "$corpus"/*/; do
  for v in "$c"variants/*/; do
    read -r rel ns < "$v/args"
    vf=""; [ -s "$v/values.yaml" ] && vf="$v/values.yaml"
    cases+=("$rel|$ns|${c}chart|$vf")
  done
done

run_one() { # CASE COMMAND... (the words before `template`)
  local rel ns chart vf
  IFS='|' read -r rel ns chart vf <<< "$1"
  shift
  if [ -n "$vf" ]; then "$@" template "$rel" "$chart" --namespace "$ns" -f "$vf" >/dev/null 2>&1 || true
  else "$@" template "$rel" "$chart" --namespace "$ns" >/dev/null 2>&1 || true; fi
}

run_all() { # COMMAND...
  local c
  for c in "${cases[@]}"; do run_one "$c" "$@"; done
}

now() { date +%s.%N; }

compare() { # TITLE
  local t0 t1 g h
  t0=$(now); run_all "$gitops" helm; t1=$(now)
  g=$(echo "$t1 - $t0" | bc)
  t0=$(now); run_all "$helm"; t1=$(now)
  h=$(echo "$t1 - $t0" | bc)
  echo "$1: ${#cases[@]} renders"
  printf '  gitops helm template: %.2f s\n' "$g"
  printf '  helm template:        %.2f s\n' "$h"
  printf '  speed-up:             %.1fx\n' "$(echo "$h / $g" | bc -l)"
}

compare "whole corpus"

all=("${cases[@]}")
# renders that generate keys or certificates (genPrivateKey, genCA, genSignedCert ...):
# those with a key/certificate line among the lines the corpus marks as random
keygen=()
for c in "$corpus"/*/; do
  for v in "$c"variants/*/; do
    [ -s "$v/random-lines" ] || continue
    if awk 'NR==FNR { r[$1] = 1; next } (FNR in r) && /(key|crt|pem|cert)["]?:/ { f = 1 } END { exit !f }' \
        "$v/random-lines" "$v/expected.yaml"; then
      keygen+=("${c}chart|$(cat "$v/args")")
    fi
  done
done
is_keygen() { # CASE
  local rel ns chart k
  IFS='|' read -r rel ns chart _ <<< "$1"
  for k in "${keygen[@]}"; do [ "$k" = "$chart|$rel $ns" ] && return 0; done
  return 1
}
cases=()
for c in "${all[@]}"; do is_keygen "$c" && cases+=("$c"); done
compare "renders that generate keys"
cases=()
for c in "${all[@]}"; do is_keygen "$c" || cases+=("$c"); done
compare "renders that generate no keys"

# single charts: best of 5 whole-process runs each
best() { # CASE COMMAND...
  local c="$1" b="" t0 t1 d i
  shift
  for i in 1 2 3 4 5; do
    t0=$(now); run_one "$c" "$@"; t1=$(now)
    d=$(echo "($t1 - $t0) * 1000" | bc)
    if [ -z "$b" ] || [ "$(echo "$d < $b" | bc)" = 1 ]; then b=$d; fi
  done
  printf '%.1f' "$b"
}
echo "single charts (best of 5, ms): gitops / helm"
for name in ${BENCH_CHARTS:-bitnami-redis bitnami-postgresql kubernetes-ingress-nginx prometheus-community-kube-prometheus-stack bitnami-harbor bitnami-etcd}; do
  for c in "${all[@]}"; do
    case "$c" in *"/$name/chart|"*)
      printf '  %-48s %8s / %8s\n' "$name" "$(best "$c" "$gitops" helm)" "$(best "$c" "$helm")"
      break;;
    esac
  done
done

# peak RSS on the largest chart (by size on disk)
big=$(du -s "$corpus"/*/chart | sort -n | tail -1 | cut -f2)
name=$(basename "$(dirname "$big")")
rss() { /usr/bin/time -f '%M' "$@" >/dev/null 2>/tmp/bench-rss.$$ || true; tail -1 /tmp/bench-rss.$$; }
gr=$(rss "$gitops" helm template rel "$big" --namespace bench)
hr=$(rss "$helm" template rel "$big" --namespace bench)
rm -f /tmp/bench-rss.$$
echo "largest chart: $name"
echo "  peak RSS gitops: ${gr} KiB"
echo "  peak RSS helm:   ${hr} KiB"
