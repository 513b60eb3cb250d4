#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image; the zip's files
# are then in /autograder/source (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
# It installs refbp (and torch, CPU only: the references run on the CPU in float64) into a
# virtual environment of its own. Put a refbp wheel beside this file to pin the version the
# assignment was tested with; without one, refbp comes from the package index.
set -euo pipefail

apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
/autograder/venv/bin/pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
shopt -s nullglob
wheels=(/autograder/source/refbp-*.whl)
if [ ${#wheels[@]} -gt 0 ]; then
    /autograder/venv/bin/pip install --quiet "${wheels[0]}"
else
    /autograder/venv/bin/pip install --quiet refbp
fi
