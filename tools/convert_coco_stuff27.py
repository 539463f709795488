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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

from reclip_mmseg.datasets import stuffthingmap_lut  # noqa: E402
from reclip_mmseg.datasets.label_maps import convert_label_maps  # noqa: E402


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
        print(f'{split}: {len(files)} maps -> {out_dir}')
        convert_label_maps(files, out_dir, lut, '_labelTrainIds27.png', args.nproc)


if __name__ == '__main__':
    main()
