#!/usr/bin/env bash
# The whole Go suite under CPU pressure: one busy process per core next to
# `go test -race`, ROUNDS times in a row (default 3). A test that waits on a
# fixed sleep instead of a condition, or starts a consumer after its producer
# could deliver, fails here long before it fails in CI.
#
#   scripts/test-stress.sh [go test args]     default: ./...
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
burners=()
stop_burners() { ((${#burners[@]})) && kill "${burners[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap stop_burners EXIT
for _ in $(seq "$(nproc)"); do
	sh -c 'while :; do :; done' &
	burners+=($!)
done

for round in $(seq "$rounds"); do
	echo "test-stress: round $round of $rounds, $(nproc) busy processes beside the suite"
	go test -race -count=1 -timeout 20m "${@:-./...}"
done
echo "test-stress: $rounds rounds passed"
