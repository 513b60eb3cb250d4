#!/usr/bin/env bash
# What CI runs to lint and type-check (.ci/run, tests/test_lint.py, .pre-commit-config.yaml; docs/testing.md):
# ruff check, ruff format --check, and mypy on the package (basic; strict on refbp.cases and refbp.oracle),
# with pyproject.toml's [tool.ruff*] and [tool.mypy*] settings. Exit 0 when all three pass.
#
#   scripts/lint.sh              check everything
#   scripts/lint.sh --fix        first apply ruff's formatting and its safe fixes, then check
#   scripts/lint.sh --mypy-only  mypy alone (the pre-commit hook)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
status=0

if [ "${1:-}" = "--fix" ]; then
    ruff format . && ruff check --fix .
fi

if [ "${1:-}" != "--mypy-only" ]; then
    echo "== ruff check"
    ruff check . || status=1
    echo "== ruff format --check"
    ruff format --check . || status=1
fi

# cases/ and oracle/ are installed as refbp.cases and refbp.oracle (pyproject.toml's package-dir), a
# mapping mypy cannot follow. It checks a tree of links instead, build/typecheck/refbp: one link per entry
# of refbp/, with cases/ and oracle/ linked in as refbp/cases and refbp/oracle. The tree is made again on
# every run (a module added since is seen), and the output names the repository's own paths.
echo "== mypy -p refbp"
tree="$root/build/typecheck"
rm -rf "$tree" && mkdir -p "$tree/refbp"
for entry in "$root"/refbp/*; do
    [ "$(basename "$entry")" = "__pycache__" ] || ln -s "$entry" "$tree/refbp/"
done
ln -s "$root/cases" "$tree/refbp/cases"
ln -s "$root/oracle" "$tree/refbp/oracle"
(
    cd "$tree" || exit 2
    mypy --config-file "$root/pyproject.toml" --cache-dir "$root/build/mypy-cache" \
        --python-executable "$(command -v python3 || command -v python)" -p refbp
) 2>&1 | sed -e 's#^refbp/cases/#cases/#' -e 's#^refbp/oracle/#oracle/#'
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

exit "$status"
