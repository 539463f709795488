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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

from reclip_mmseg.datasets import coco_object_lut  # noqa: E402
from reclip_mmseg.datasets.label_maps import convert_label_maps  # noqa: E402


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
        print(f'{split}: {len(files)} maps -> {out_dir}')
        convert_label_maps(files, out_dir, lut, '_instanceTrainIds.png', args.nproc)


if __name__ == '__main__':
    main()
