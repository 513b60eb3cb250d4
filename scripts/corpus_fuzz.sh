#!/usr/bin/env bash
# The corpus of correct implementations under the fuzzer, at the full count (issue "Trust",
# point 4): 1,000 float64 and 1,000 float32 examples per implementation, every one expected to
# pass (a failure is a false alarm of refbp's, since each implementation is correct; see
# tests/test_corpus.py, which runs 100 + 100 of them in CI).
#
#   scripts/corpus_fuzz.sh [EXAMPLES] [extra refbp fuzz options, e.g. --jobs auto or --seed 1]
#
# EXAMPLES defaults to 1000. Failures are shrunk and saved under
# ${CORPUS_FUZZ_DIR:-reports/corpus-fuzz}/<implementation>-<dtype>/ as refbp-case/1 files that
# `refbp check --impl FILE:FACTORY CASE` reproduces. Every run goes on after a failure; the
# script exits 1 when any run found a failure (2 when a run could not be made), 0 when none did.
# Run from the repository root with refbp installed (the virtual environment activated).
set -uo pipefail
cd "$(dirname "$0")/.."

examples=${1:-1000}
shift || true
out=${CORPUS_FUZZ_DIR:-reports/corpus-fuzz}

runs=(
    "examples/numpy_mlp.py:factory float64"
    "examples/numpy_mlp.py:factory float32"
    "examples/corpus/torch_autograd.py:factory float64"
    "examples/corpus/torch_autograd.py:factory float32"
    "examples/corpus/torch_autograd.py:factory_float32 float32"
    "examples/corpus/bce_torch_backward.py:factory float64"
    "examples/corpus/bce_torch_backward.py:factory float32"
    "examples/corpus/relu_right_derivative.py:factory float64"
    "examples/corpus/relu_right_derivative.py:factory float32"
    "examples/corpus/inout_layout_einsum.py:factory float64"
    "examples/corpus/inout_layout_einsum.py:factory float32"
    "examples/corpus/rnn_bptt.py:factory float64"
    "examples/corpus/rnn_bptt.py:factory float32"
)

worst=0
summary=()
for run in "${runs[@]}"; do
    read -r impl dtype <<<"$run"
    name=$(basename "${impl%%:*}" .py)-${impl##*:}-$dtype
    echo "=== refbp fuzz --impl $impl --examples $examples --dtype $dtype $*"
    refbp fuzz --impl "$impl" --examples "$examples" --dtype "$dtype" --no-progress \
        --save-failures "$out/$name" "$@"
    code=$?
    summary+=("$code  $name")
    if (( code > worst )); then worst=$code; fi
done

echo
echo "exit  run (0 no failure, 1 failures found, 2 bad usage)"
printf '%s\n' "${summary[@]}"
exit "$worst"
