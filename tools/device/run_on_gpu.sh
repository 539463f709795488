#!/usr/bin/env bash
# On a CUDA machine without OpenMMLab packages and without network (carry .devkit, built by build_kit.sh):
# install the kit into a fresh --target, compile mmcv's CPU ops, then run the test suite with CUDA as the device
# and every benchmark mode on CUDA, into one JSON. About 8 minutes on the lent H100/H200.
#
#   bash tools/device/run_on_gpu.sh [OUT_DIR]           # OUT_DIR defaults to $OUT, else ./device_out
# Knobs: TARGET (install folder, default /tmp/reclip_site), RECLIP_TEST_DEVICE (cuda when a GPU is seen, else
# cpu), PYTEST_ARGS (default "tests -q"), SKIP_TESTS=1, SKIP_BENCH=1, BENCH_REPEATS (default 5), BENCH_EXTRA
# (added to every benchmark, e.g. "--cfg-options model_name=reclip-tiny" for a quick check on a CPU).
# On a CPU machine the same script checks the kit (tests/tools/test_device_kit.py does, with an emulated GPU image).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUT_DIR="${1:-${OUT:-$ROOT/device_out}}"
KIT="$ROOT/.devkit"
TARGET="${TARGET:-/tmp/reclip_site}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT_DIR"
log() { echo "[device $(date +%T)] $*"; }
[[ -d "$KIT/wheels" ]] || { echo "no $KIT: run tools/device/build_kit.sh here first and carry .devkit" >&2; exit 2; }

log "installing $(ls "$KIT/wheels" | wc -l) wheels into $TARGET"
rm -rf "$TARGET" && mkdir -p "$TARGET"
"$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir \
  --target "$TARGET" "$KIT"/wheels/*.whl || exit 3
export PYTHONPATH="$ROOT:$TARGET${PYTHONPATH:+:$PYTHONPATH}"

if "$PY" -c "import mmcv.ops" 2>/dev/null; then
  log "mmcv with ops already importable"
elif ls "$KIT"/src/mmcv-2.1.0-cp$("$PY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')-*.whl >/dev/null 2>&1; then
  log "installing the carried mmcv wheel for this Python"
  "$PY" -m pip install -q --no-index --no-deps --target "$TARGET" "$KIT"/src/mmcv-2.1.0-cp*.whl || exit 4
else
  log "compiling mmcv 2.1.0 (CPU ops; CUDA hidden so that setup.py does not build CUDA kernels)"
  BUILD="/tmp/reclip_build_tools"
  "$PY" -m pip install -q --no-index --no-deps --target "$BUILD" "$KIT"/build/setuptools-*.whl || exit 4
  CUDA_VISIBLE_DEVICES="" MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" PYTHONPATH="$BUILD:$PYTHONPATH" \
    "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --target "$TARGET" \
    "$KIT"/src/mmcv-2.1.0.tar.gz > "$OUT_DIR/mmcv_build.log" 2>&1 || { tail -40 "$OUT_DIR/mmcv_build.log"; exit 4; }
fi
"$PY" - <<'PY' || exit 5
import torch, mmcv.ops, mmseg.models, mmpretrain.models, open_clip, reclip_mmseg  # noqa: F401
print(f'[device] stack ok: torch {torch.__version__}, cuda {torch.cuda.is_available()}, '
      f'{torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"}')
PY

GPU=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))")
export RECLIP_TEST_DEVICE="${RECLIP_TEST_DEVICE:-$([[ $GPU == 1 ]] && echo cuda || echo cpu)}"
status=0
if [[ "${SKIP_TESTS:-0}" != 1 ]]; then
  log "test suite, RECLIP_TEST_DEVICE=$RECLIP_TEST_DEVICE"
  # shellcheck disable=SC2086
  "$PY" -m pytest ${PYTEST_ARGS:-tests -q} -p no:cacheprovider > "$OUT_DIR/pytest.log" 2>&1 || status=6
  tail -3 "$OUT_DIR/pytest.log"
fi
if [[ "${SKIP_BENCH:-0}" != 1 ]]; then
  DEV=$([[ $GPU == 1 ]] && echo cuda || echo cpu)
  R="${BENCH_REPEATS:-5}"
  log "benchmarks on $DEV"
  # Per-benchmark files stay outside OUT_DIR (the device tool brings back at most 8 files): one JSON collects them.
  B="${BENCH_DIR:-/tmp/reclip_bench}" && rm -rf "$B" && mkdir -p "$B"
  # shellcheck disable=SC2086
  bench() { local name=$1; shift; "$PY" tools/benchmark.py "$@" --device "$DEV" --random-weights \
              --repeats "$R" --out "$B/$name.json" ${BENCH_EXTRA:-} > "$B/$name.log" 2>&1 \
              || { echo "bench $name failed:"; tail -15 "$B/$name.log"; status=7; }; }
  bench infer_c20 configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py --mode inference --num-classes 20
  bench infer_c171 configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py --mode inference --num-classes 171
  bench train_336_c150 configs/reclip_pp/reclip-pp_vit-b16_80k_ade20k.py --mode train --num-classes 150 --size 336
  bench train_512_c150 configs/reclip_pp/reclip-pp_vit-b16_80k_ade20k.py --mode train --num-classes 150 --size 512
  bench hypotheses configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py --mode hypotheses --hyp-batch 64
  # tools/gen_hypotheses.py's path at COCO-Stuff's window, fp16 as the tool's CUDA default: serial vs DataLoader,
  # 1 vs 2 ranks (on one GPU they share it), and the COCO-Stuff-164k projection (docs/speed.md)
  if [[ $GPU == 1 ]]; then HYP="--hyp-images 256 --hyp-batch 256 --autocast fp16"; else HYP="--hyp-images 2 --hyp-batch 16"; fi
  # shellcheck disable=SC2086
  bench hypotheses_scale configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py --mode hypotheses_scale --num-classes 27 $HYP
  bench query configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py --mode query --num-classes 20
  bench prompt configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py --mode prompt --num-classes 150
  bench dense configs/training_free/maskclip_vit-b16_voc20.py --mode dense
  bench reclip configs/reclip/reclip_vit-b16_20k_voc20.py --mode model --num-classes 20
  # issue 26: large vocabularies (class-chunked label maps vs MMSeg's path at C=171; peak memory at C=847), the
  # distillation iteration (one teacher pass) and the TagCLIP iteration against its forward+backward floor
  bench postprocess_c171 configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py --mode postprocess --num-classes 171
  bench distill configs/reclip_pp/reclip-pp-distill_r101_20k_voc20.py --mode distill --batch 2 --size 336
  bench tagclip configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py --mode tagclip --batch 2 --size 512
  if [[ $GPU == 1 ]]; then  # bf16 autocast on/off for inference
    bench infer_c20_bf16 configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py --mode inference --num-classes 20 --autocast bf16
  fi
  "$PY" - "$B" "$OUT_DIR/gpu_results.json" <<'PY'
import glob, json, os, sys, torch
results = {os.path.basename(p)[:-5]: json.load(open(p)) for p in sorted(glob.glob(os.path.join(sys.argv[1], '*.json')))}
info = dict(device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu', torch=torch.__version__)
json.dump(dict(machine=info, results=results), open(sys.argv[2], 'w'), indent=1)
print(f'[device] {len(results)} benchmark results -> {sys.argv[2]}')
PY
fi
log "done (status $status)"
exit $status
