"""Segment one image and write an overlay with a legend.

    python tools/image_demo.py IMAGE CONFIG [CHECKPOINT] [--classes "cat,dog,grass"] [--out out.png]
        [--device cpu] [--opacity 0.5] [--dense-mode naclip] [--cfg-options k=v ...]

Training-free configs (configs/training_free/*.py, configs/reclip_pp/maskclip-baseline_*.py) take any class names; a checkpoint segments into the classes it
was trained for (--classes, if given, must be those). Uses MMSeg's init_model / inference_model.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import mmcv  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmseg.apis import inference_model  # noqa: E402

import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.apis import init_segmentor, overlay_with_legend  # noqa: E402
from reclip_mmseg.clip.image_encoder import DENSE_MODES  # noqa: E402
from reclip_mmseg.utils import check_image_file  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('image')
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?')
    parser.add_argument('--classes', help='comma-separated class names, or a vocabulary key (voc20, ade20k, ...)')
    parser.add_argument('--out', default='demo.png')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--opacity', type=float, default=0.5)
    parser.add_argument('--dense-mode', choices=DENSE_MODES,
                        help="CLIP's last-block mode (docs/training_free.md), e.g. sclip, clearclip, naclip")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    try:
        check_image_file(args.image)  # missing, empty or not an image: named now, not deep in the pipeline
    except ValueError as err:
        raise SystemExit(str(err))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)  # before any work, not after
    model = init_segmentor(args.config, args.checkpoint, args.classes, args.device, args.cfg_options, args.dense_mode)
    result = inference_model(model, args.image)
    pred = result.pred_sem_seg.data[0].cpu().numpy()
    image = mmcv.imread(args.image, channel_order='rgb')
    names, palette = model.dataset_meta['classes'], model.dataset_meta['palette']
    mmcv.imwrite(overlay_with_legend(image, pred, names, palette, args.opacity)[..., ::-1], args.out)
    present = sorted({names[c] for c in set(pred.flatten().tolist())})
    print(f'wrote {args.out} ({image.shape[1]}x{image.shape[0]}); classes present: {", ".join(present)}')


if __name__ == '__main__':
    main()
