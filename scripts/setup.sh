#!/usr/bin/env bash
# Set up Juxta in ./.venv from the project's own files. Safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned requirement resolves to the newest (CUDA, several GB) build.
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev]"
# The window needs a few system libraries (Qt's X11 plugin) and the GUI tests a virtual X server:
# installed with apt when this runs as root, otherwise named in a one-line instruction.
python -m app.system_check --install --tests || true
