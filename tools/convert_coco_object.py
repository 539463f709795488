"""Build COCO-Object label maps from COCO-Stuff 164k's raw label maps (COCOObjectDataset), as the training-free
literature does (docs/dataset_prepare.md, "COCO-Object"): thing values become 1..80 in COCO order; every stuff value and the
unlabeled 255 become 0 = background. It is not built from the instance JSON.

    python tools/convert_coco_object.py data/coco_stuff164k [--maps annotations] [--splits val2017] [--nproc 8]

Reads COCO_ROOT/MAPS/{split}/*.png (the raw maps of stuffthingmaps_trainval2017.zip, pixel = COCO category id - 1,
255 unlabeled; files whose name holds 'TrainIds' are converted outputs and skipped) and writes
COCO_ROOT/annotations/{split}/<image id>_instanceTrainIds.png. Outputs are written atomically.
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

from reclip_mmseg.datasets import coco_object_lut  # noqa: E402


def convert_one(src: str, out_dir: str, lut: np.ndarray) -> str:
    label = np.array(Image.open(src))
    if label.ndim != 2:
        raise ValueError(f'{src}: expected a single-channel COCO-Stuff label map, got shape {label.shape}')
    name = os.path.splitext(os.path.basename(src))[0]
    dst = os.path.join(out_dir, f'{name}_instanceTrainIds.png')
    tmp = dst + '.tmp.png'
    Image.fromarray(lut[label]).save(tmp)
    os.replace(tmp, dst)
    return dst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('coco_root')
    parser.add_argument('--maps', default='annotations',
                        help="folder of the raw maps (MMSeg's layout unzips stuffthingmaps into annotations/)")
    parser.add_argument('--splits', nargs='+', default=['val2017'])
    parser.add_argument('--nproc', type=int, default=1)
    args = parser.parse_args()
    lut = coco_object_lut()
    for split in args.splits:
        src_dir = os.path.join(args.coco_root, args.maps, split)
        files = sorted(f for f in glob.glob(os.path.join(src_dir, '*.png')) if 'TrainIds' not in os.path.basename(f))
        if not files:
            raise SystemExit(f'no raw COCO-Stuff label maps in {src_dir}: unzip stuffthingmaps_trainval2017.zip into '
                             f'{os.path.join(args.coco_root, args.maps)} (docs/dataset_prepare.md)')
        out_dir = os.path.join(args.coco_root, 'annotations', split)
        os.makedirs(out_dir, exist_ok=True)
        print(f'{split}: {len(files)} maps -> {out_dir}')
        work = partial(convert_one, out_dir=out_dir, lut=lut)
        if args.nproc > 1:
            track_parallel_progress(work, files, args.nproc)
        else:
            track_progress(work, files)


if __name__ == '__main__':
    main()
