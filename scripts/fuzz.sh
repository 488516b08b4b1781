#!/usr/bin/env bash
# Runs the fuzz targets (not in CI): parse_check (any bytes as a policy) and exotel_input
# (query strings, forms, JSON bodies, events and eval cases), each for RUNS executions
# (default 10 million), their corpora seeded from rules/, examples/ and tests/bad/.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); the toolchain is stable, so RUSTC_BOOTSTRAP
# lets cargo-fuzz use the sanitizer flags it needs. Findings land in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs="${RUNS:-10000000}"
jobs="${JOBS:-1}"
mkdir -p corpus/parse_check corpus/exotel_input
# Named by their path: every example is a `policy.route`.
for f in ../rules/*.route ../examples/*/*.route ../tests/bad/*.route; do
  cp "$f" "corpus/parse_check/$(echo "${f#../}" | tr '/' '_')"
done
# exotel_input reads its first byte as the kind of input: 0 query, 1 form, 2 JSON, 3 case.
printf '\000CallSid=c1&CallFrom=09901320691&CallTo=08069891522&Direction=incoming&digits=%%228%%22&CurrentTime=2024-09-03%%2011:44:59' > corpus/exotel_input/query
printf '\001CallSid=c1\nCallType=completed&DialWhomNumber=09800000002&DialCallStatus=completed' > corpus/exotel_input/form
printf '\002{"CallSid": "c1", "Status": "completed", "Legs": "[{\\"Number\\": \\"09800000002\\"}]"}' > corpus/exotel_input/json
{ printf '\003'; cat ../examples/case.json; } > corpus/exotel_input/case
# Built without a sanitizer (the crate forbids unsafe code, so AddressSanitizer finds nothing
# the Rust checks miss) and without comparison tracing (the dictionary gives the keywords):
# together they take parse_check from about 800 to about 2,200 executions per second.
flags=(-s none --no-trace-compares)
for target in parse_check exotel_input; do
  echo "== $target: $runs executions"
  dict=()
  [ -f "$target.dict" ] && dict=(-dict="$target.dict")
  # Policies are read item by item, so 512-byte inputs reach every item kind, and the parser's
  # cost grows with length: 512 bytes run at ~5,000 executions/s, whole policies (up to 2.5 KB)
  # at ~2,200. MAX_LEN=0 lets libFuzzer choose.
  if [ "$target" = parse_check ] && [ "${MAX_LEN:-512}" != 0 ]; then
    dict+=(-max_len="${MAX_LEN:-512}")
  fi
  RUSTC_BOOTSTRAP=1 cargo fuzz run "${flags[@]}" "$target" "corpus/$target" -- \
    "${dict[@]}" -runs="$runs" -jobs="$jobs" -workers="$jobs" -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|stat::|==[0-9]+==|SUMMARY|Done)" || true
done
