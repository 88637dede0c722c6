#!/usr/bin/env bash
# systemd-analyze verify of ops/systemd/*, with ExecStart pointing at the binary under test
# (the units name /usr/local/bin/careledger, which need not exist on a build machine).
set -euo pipefail
src=$1 bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in "$src"/ops/systemd/*.service "$src"/ops/systemd/*.timer; do
  sed "s#/usr/local/bin/careledger#$bin#g" "$u" >"$tmp/$(basename "$u")"
done
cd "$tmp"
out=$(systemd-analyze verify --man=no ./*.service ./*.timer 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on unknown keys and bad values, which it only prints.
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "ok: $(ls | tr '\n' ' ')"
