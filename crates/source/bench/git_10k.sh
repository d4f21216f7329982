#!/usr/bin/env bash
# Benchmark (a): the artifact of a 10,000-file Git repository. Whole-process time of our
# fetch + archive (examples/git_artifact, release build) against `git clone --depth 1` +
# `tar czf` on the same repository in the same run; best of 3 each. Prints the ratio.
# Usage: crates/source/bench/git_10k.sh [files]
set -euo pipefail
cd "$(dirname "$0")/../../.."
N="${1:-10000}"
cargo build --release -q -p gitops-source --example git_artifact
BIN="$PWD/target/release/examples/git_artifact"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com
git init -q -b main "$T/src"
python3 - "$T/src" "$N" <<'PY'
import os, sys, random
root, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
for i in range(n):
    d = os.path.join(root, f"dir{i % 100:02d}", f"sub{(i // 100) % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:05d}.yaml"), "w") as f:
        f.write(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n")
        for k in range(random.randint(3, 30)):
            f.write(f"  key{k}: value-{random.getrandbits(64):x}\n")
PY
git -C "$T/src" add -A && git -C "$T/src" commit -q -m "10k files"
git clone -q --bare "$T/src" "$T/repo.git"
URL="file://$T/repo.git"

now() { date +%s.%N; }
best() { sort -n | head -1; }
for i in 1 2 3; do
  rm -rf "$T/c" "$T/c.tar.gz"
  s=$(now); git clone -q --depth 1 -b main "$URL" "$T/c" && tar czf "$T/c.tar.gz" --exclude=.git -C "$T/c" . ; e=$(now)
  echo "$e - $s" | bc
done | best > "$T/git.t"
for i in 1 2 3; do
  rm -f "$T/o.tar.gz"
  s=$(now); "$BIN" "$URL" main "$T/o.tar.gz" > "$T/out.txt"; e=$(now)
  echo "$e - $s" | bc
done | best > "$T/ours.t"
G=$(cat "$T/git.t"); O=$(cat "$T/ours.t")
echo "files:                          $N"
echo "git clone --depth 1 + tar czf:  ${G} s  ($(stat -c %s "$T/c.tar.gz") bytes)"
echo "gitops fetch + archive:         ${O} s  ($(stat -c %s "$T/o.tar.gz") bytes; $(cat "$T/out.txt"))"
echo "ratio (ours / git+tar):         $(echo "scale=3; $O / $G" | bc)"
