"""Convert COCO-Stuff 164k's official stuffthingmaps to 27-class label PNGs (COCOStuff27Dataset).

    python tools/convert_coco_stuff27.py data/coco_stuff164k [--maps stuffthingmaps_trainval2017]
        [--splits train2017 val2017] [--image-list curated_val.txt] [--nproc 8]

Reads COCO_ROOT/MAPS/{split}/*.png (pixel = COCO category id - 1, 255 unlabeled) and writes
COCO_ROOT/annotations27/{split}/*_labelTrainIds27.png with 0..26 (the coarse classes of the unsupervised
segmentation literature) and 255 for unlabeled or unused values. Existing outputs are rewritten atomically.
"""
import argparse
import glob
import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import numpy as np  # noqa: E402
from mmengine.utils import track_parallel_progress, track_progress  # noqa: E402
from PIL import Image  # noqa: E402

from reclip_mmseg.datasets import stuffthingmap_lut  # noqa: E402


def convert_one(src: str, out_dir: str, lut: np.ndarray) -> str:
    label = np.array(Image.open(src))
    if label.ndim != 2:
        raise ValueError(f'{src}: expected a single-channel stuffthingmap, got shape {label.shape}')
    name = os.path.splitext(os.path.basename(src))[0]
    dst = os.path.join(out_dir, f'{name}_labelTrainIds27.png')
    tmp = dst + '.tmp.png'
    Image.fromarray(lut[label]).save(tmp)
    os.replace(tmp, dst)
    return dst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('coco_root')
    parser.add_argument('--maps', default='stuffthingmaps_trainval2017', help='folder of the official maps')
    parser.add_argument('--splits', nargs='+', default=['train2017', 'val2017'])
    parser.add_argument('--image-list', help='only these images (file of names, one per line, with or without suffix)')
    parser.add_argument('--nproc', type=int, default=1)
    args = parser.parse_args()
    lut = stuffthingmap_lut()
    keep = None
    if args.image_list:
        keep = {os.path.splitext(os.path.basename(line.strip()))[0] for line in open(args.image_list) if line.strip()}
    for split in args.splits:
        src_dir = os.path.join(args.coco_root, args.maps, split)
        files = sorted(glob.glob(os.path.join(src_dir, '*.png')))
        if keep is not None:
            files = [f for f in files if os.path.splitext(os.path.basename(f))[0] in keep]
        if not files:
            raise SystemExit(f'no stuffthingmap PNGs in {src_dir}: download stuffthingmaps_trainval2017.zip and '
                             f'unzip it into {args.coco_root} (docs/dataset_prepare.md)')
        out_dir = os.path.join(args.coco_root, 'annotations27', split)
        os.makedirs(out_dir, exist_ok=True)
        print(f'{split}: {len(files)} maps -> {out_dir}')
        work = partial(convert_one, out_dir=out_dir, lut=lut)
        if args.nproc > 1:
            track_parallel_progress(work, files, args.nproc)
        else:
            track_progress(work, files)


if __name__ == '__main__':
    main()
