#!/usr/bin/env bash
# Check the device kit on this CPU machine: build it, emulate the GPU image (a venv that sees this project's .venv
# packages minus everything the kit carries), install the kit into a fresh --target and run run_on_gpu.sh with the
# device switch off, a test subset and the tiny CLIP in the benchmarks. Uses a prebuilt mmcv wheel for this Python
# when MMCV_WHEEL names one (e.g. wheels/mmcv-2.1.0-cp311-*.whl), else compiles mmcv (~12 min on 2 cores).
#
#   MMCV_WHEEL=wheels/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl bash tools/device/check_kit_on_cpu.sh OUT_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT_DIR="${1:-/tmp/reclip_kit_check}"
IMG=/tmp/reclip_gpu_image
cd "$ROOT"
bash tools/device/build_kit.sh
SITE="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -rf "$IMG" && .venv/bin/python -m venv --without-pip "$IMG" && mkdir -p "$IMG/visible"
for entry in "$SITE"/*; do
  name="$(basename "$entry")"
  case "$name" in  # what the kit brings (and the plugin's own editable install) stays invisible
    mm*|open_clip*|ftfy*|addict*|yapf*|termcolor*|prettytable*|mat4py*|modelindex*|model_index*|ordered_set*) ;;
    imgviz*|platformdirs*|wcwidth*|reclip*|__editable__*|*.pth) ;;
    *) ln -s "$entry" "$IMG/visible/$name" ;;
  esac
done
echo "$IMG/visible" > "$("$IMG/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/visible.pth"
if "$IMG/bin/python" -c "import mmseg" 2>/dev/null; then echo "emulated image still sees mmseg" >&2; exit 1; fi
PYTHON="$IMG/bin/python" TARGET=/tmp/reclip_kit_site PYTEST_ARGS="${PYTEST_ARGS:-tests/reclip/test_reclip_cvpr.py -q}" \
  BENCH_REPEATS=1 BENCH_EXTRA="--cfg-options model_name=reclip-tiny" bash tools/device/run_on_gpu.sh "$OUT_DIR"
