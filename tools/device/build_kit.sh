#!/usr/bin/env bash
# Gather, on a machine with network, what a CUDA machine without OpenMMLab packages and without network needs to
# run this project: Python 3.12 wheels (pure Python, no torch) and mmcv 2.1.0's source archive, which
# tools/device/run_on_gpu.sh compiles there with CPU ops only (the plugin uses no mmcv CUDA op; mmseg only needs
# `import mmcv.ops` to succeed). Everything lands in .devkit/ (git-ignored), well under 64 MiB.
#
#   bash tools/device/build_kit.sh            # PYTHON_VERSION=3.12 by default
#   MMCV_WHEEL=/path/mmcv-2.1.0-cpXY-...whl bash tools/device/build_kit.sh   # also carry a prebuilt mmcv wheel
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KIT="$ROOT/.devkit"
PYV="${PYTHON_VERSION:-3.12}"
PIP="${PIP:-python3 -m pip}"
# What the GPU image lacks (mmpretrain imports `modelindex`, which is the package model-index, not the stub on
# PyPI named modelindex); torch, torchvision, numpy, scipy,
# opencv, matplotlib, regex, rich, pyyaml, scikit-learn, scikit-image, hypothesis, pytest, tensorboard are there.
PACKAGES=(mmengine==0.10.7 mmsegmentation==1.2.2 mmpretrain==1.2.0 open_clip_torch==3.3.0 ftfy wcwidth addict
          yapf termcolor prettytable mat4py model-index ordered-set markdown imgviz platformdirs "setuptools<81")
rm -rf "$KIT" && mkdir -p "$KIT/wheels" "$KIT/src"
echo "[kit] wheels for Python $PYV -> $KIT/wheels"
$PIP download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version "$PYV" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$KIT/wheels" "${PACKAGES[@]}"
echo "[kit] mmcv 2.1.0 source archive -> $KIT/src (compiled on the GPU machine, CPU ops)"
# pip builds an sdist's metadata by running its setup.py, which imports torch: use an interpreter that has it.
MMCV_PY="${MMCV_PY:-$ROOT/.venv/bin/python}"
"$MMCV_PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: --no-build-isolation \
  -d "$KIT/src" mmcv==2.1.0
if [[ -n "${MMCV_WHEEL:-}" ]]; then cp "$MMCV_WHEEL" "$KIT/src/"; fi  # a prebuilt wheel is used when it fits the Python
# setuptools goes to its own folder: it is needed to build mmcv (pkg_resources), not at run time.
mkdir -p "$KIT/build" && mv "$KIT"/wheels/setuptools-*.whl "$KIT/build/"
size=$(du -sb "$KIT" | cut -f1)
echo "[kit] $(ls "$KIT/wheels" | wc -l) wheels + mmcv source, $((size / 1024 / 1024)) MiB in $KIT"
if (( size > 48 * 1024 * 1024 )); then
  echo "[kit] too large to travel with the working tree (64 MiB in all)" >&2; exit 1
fi
