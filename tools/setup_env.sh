#!/usr/bin/env bash
# Sets up (or checks) the project's virtual environment in .venv/ at the repository root.
#
#   bash tools/setup_env.sh          # idempotent; a second run only re-checks the stack
#
# Environment knobs:
#   PYTHON=python3.11       interpreter for the venv (default: python3)
#   PIP_FIND_LINKS=DIR      honoured: a folder with a prebuilt mmcv 2.1.0 wheel skips the ~12 min compile
#   FORCE_CUDA=1            build mmcv's CUDA ops (GPU machine with nvcc; see README)
#   RECLIP_SKIP_TEST_DEPS=1 do not install the test extras
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.reclip_setup_stamp"

step() { echo "[setup] $*"; }
fail() {
  echo "[setup] FAILED at step: $1" >&2
  echo "[setup] what to do: $2" >&2
  exit 1
}

# The stamp is the hash of everything that decides what gets installed.
want_stamp="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-test.txt" "$ROOT/setup.py" \
  "$ROOT/tools/setup_env.sh" | sha256sum | cut -d' ' -f1)-${RECLIP_SKIP_TEST_DEPS:-0}"

if [[ ! -x "$PY" ]]; then
  step "creating virtual environment $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV" || fail "create venv" \
    "install Python >= 3.9 with the venv module (Debian: apt-get install python3-venv), or set PYTHON=..."
fi

pipi() { "$PY" -m pip install --disable-pip-version-check "$@"; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
  step "environment already installed (stamp matches); re-checking the stack"
else
  rm -f "$STAMP"
  # One resolver call for torch and the build tools: torch 2.13 needs setuptools>=77, and mmcv's setup.py imports
  # pkg_resources, which setuptools dropped in 81.
  step "torch + torchvision (same build family, from the package index) and mmcv's build tools"
  pipi "$(grep -E '^torch===' "$ROOT/requirements.txt")" "$(grep -E '^torchvision===' "$ROOT/requirements.txt")" \
    "setuptools>=77,<81" wheel ninja \
    || fail "torch" "check network access to the package index; for a GPU build see README 'Install on a GPU machine'"
  "$PY" -c "import pkg_resources" 2>/dev/null || fail "build tools" "setuptools lacks pkg_resources, which mmcv's setup.py needs"

  if "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null && \
     [[ "$("$PY" -c 'import mmcv; print(mmcv.__version__)')" == "2.1.0" ]]; then
    step "mmcv 2.1.0 with ops already installed"
  else
    step "mmcv 2.1.0 full (uses a wheel from PIP_FIND_LINKS='${PIP_FIND_LINKS:-}' or pip's cache;"
    step "  otherwise compiles from source: about 12 minutes on 2 cores, once per machine)"
    MMCV_WITH_OPS=1 FORCE_CUDA="${FORCE_CUDA:-0}" pipi --no-build-isolation "mmcv==2.1.0" \
      || fail "mmcv" "the compile needs gcc/g++ and the Python headers (Debian: apt-get install build-essential python3-dev); \
or put a prebuilt mmcv-2.1.0 wheel for this Python/torch in a folder and set PIP_FIND_LINKS to it"
  fi

  step "OpenMMLab + open_clip (requirements.txt)"
  pipi -r "$ROOT/requirements.txt" || fail "requirements" "see pip's message above; the pinned set is in requirements.txt"

  if [[ "${RECLIP_SKIP_TEST_DEPS:-0}" != "1" ]]; then
    step "test extras (requirements-test.txt)"
    pipi -r "$ROOT/requirements-test.txt" || fail "test extras" "see pip's message above"
  fi

  step "reclip_mmseg itself (editable)"
  pipi --no-deps --no-build-isolation -e "$ROOT" || fail "editable install" "see pip's message above"
fi

step "proving the stack: mmcv.ops, mmseg.models, mmpretrain.models, open_clip, a torchvision op"
"$PY" - <<'PYCHECK' || fail "stack check" "a package imports wrongly; delete .venv/ and run this script again"
import torch, torchvision
import mmcv.ops, mmseg.models, mmpretrain.models, open_clip  # noqa: F401
import reclip_mmseg  # noqa: F401
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
assert keep.tolist() == [0], keep
print(f"[setup] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"mmcv {mmcv.__version__}, mmseg {mmseg.__version__}, open_clip {open_clip.__version__}, "
      f"cuda available: {torch.cuda.is_available()}")
PYCHECK
echo "$want_stamp" > "$STAMP"
