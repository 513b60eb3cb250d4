#!/usr/bin/env bash
# The corpus's low-precision implementations under the fuzzer at the full count (docs/precision.md):
# EXAMPLES (default 1,000) float16 and bfloat16 examples each, plus torch.nn in float32; every one
# expected to pass or be inconclusive (a failure is a false alarm of refbp's). tests/test_precision.py
# runs 15 of each in CI.
#
#   scripts/precision_fuzz.sh [EXAMPLES] [extra refbp fuzz options, e.g. --jobs auto or --seed 1]
#
# Failures are saved under ${PRECISION_FUZZ_DIR:-reports/precision-fuzz}/<implementation>-<dtype>/.
# PRECISION_FUZZ_DTYPES="float16 bfloat16" runs only the implementations of those dtypes (default: all).
# Exits 1 when any run found a failure (2 when a run could not be made), 0 when none did.
set -uo pipefail
cd "$(dirname "$0")/.."

examples=${1:-1000}
shift || true
out=${PRECISION_FUZZ_DIR:-reports/precision-fuzz}
runs=(
    "examples/corpus/numpy_low_precision.py:factory_float16 float16"
    "examples/corpus/numpy_low_precision.py:factory_bfloat16 bfloat16"
    "examples/corpus/torch_bfloat16.py:factory bfloat16"
    "examples/corpus/torch_autograd.py:factory_float32 float32"
)
status=0
for run in "${runs[@]}"; do
    read -r impl dtype <<<"$run"
    case " ${PRECISION_FUZZ_DTYPES:-float32 float16 bfloat16} " in *" $dtype "*) ;; *) continue ;; esac
    name=$(basename "${impl%%:*}" .py)-${impl##*:}-$dtype
    echo "== $impl --dtype $dtype ($examples examples)"
    refbp fuzz --impl "$impl" --dtype "$dtype" --examples "$examples" --no-progress \
        --save-failures "$out/$name" "$@"
    code=$?
    if [ "$code" -eq 1 ]; then status=1; elif [ "$code" -ne 0 ] && [ "$status" -eq 0 ]; then status=2; fi
done
exit $status
