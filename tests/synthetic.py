"""Small synthetic datasets in the official folder layouts (no downloads)."""
import os

import numpy as np
from PIL import Image

VOC_PALETTE = None


def _voc_palette():
    # The standard VOC colour map (bit-interleaved), as VOC's palette PNGs use.
    pal = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def make_voc_tree(root: str, n_train: int = 4, n_val: int = 3, size=(64, 80), seed: int = 0, n_aug: int = 0) -> str:
    """VOCdevkit/VOC2012 with JPEGImages, palette SegmentationClass PNGs (0 background, 255 boundary, 1..20
    objects as rectangles) and ImageSets/Segmentation/{train,val}.txt; with ``n_aug`` also the SBD-augmented part
    of trainaug: grey-level SegmentationClassAug PNGs and ImageSets/Segmentation/aug.txt. Returns the VOC2012
    folder."""
    rng = np.random.default_rng(seed)
    voc = os.path.join(root, 'VOCdevkit', 'VOC2012')
    for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(os.path.join(voc, d), exist_ok=True)
    pal = _voc_palette().flatten().tolist()
    splits = {'train': [], 'val': [], 'aug': []}
    if n_aug:
        os.makedirs(os.path.join(voc, 'SegmentationClassAug'), exist_ok=True)
    for split, n in (('train', n_train), ('val', n_val), ('aug', n_aug)):
        for i in range(n):
            name = f'2007_{split}{i:03d}'
            h, w = size
            img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
            label = np.zeros((h, w), dtype=np.uint8)
            cls = int(rng.integers(1, 21))
            y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
            label[y0:y0 + h // 2, x0:x0 + w // 2] = cls
            label[y0, x0:x0 + w // 2] = 255  # a boundary line, ignored
            Image.fromarray(img).save(os.path.join(voc, 'JPEGImages', name + '.jpg'))
            splits[split].append(name)
            if split == 'aug':
                Image.fromarray(label, mode='L').save(os.path.join(voc, 'SegmentationClassAug', name + '.png'))
                continue
            lab = Image.fromarray(label, mode='P')
            lab.putpalette(pal)
            lab.save(os.path.join(voc, 'SegmentationClass', name + '.png'))
    for split, names in splits.items():
        if split == 'aug' and not names:
            continue
        with open(os.path.join(voc, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return voc


def _write_pair(img_path, label_path, label, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.dirname(img_path), exist_ok=True)
    os.makedirs(os.path.dirname(label_path), exist_ok=True)
    Image.fromarray(rng.integers(0, 255, label.shape + (3,), dtype=np.uint8)).save(img_path)
    Image.fromarray(label.astype(np.uint8)).save(label_path)


def known_label(h=48, w=64, value=5, background=0):
    """A label map: ``background`` everywhere, ``value`` in the top-left quarter, 255 in row h-1."""
    label = np.full((h, w), background, dtype=np.uint8)
    label[:h // 2, :w // 2] = value
    label[h - 1] = 255
    return label


def make_context_tree(root, n=(3, 2)):
    """VOC2010 with SegmentationClassContext (0 background, 1..59) and ImageSets/SegmentationContext lists."""
    base = os.path.join(root, 'VOCdevkit', 'VOC2010')
    for split, count in zip(('train', 'val'), n):
        names = [f'2008_{split}{i:02d}' for i in range(count)]
        for i, name in enumerate(names):
            _write_pair(f'{base}/JPEGImages/{name}.jpg', f'{base}/SegmentationClassContext/{name}.png',
                        known_label(value=5), i)
        os.makedirs(f'{base}/ImageSets/SegmentationContext', exist_ok=True)
        open(f'{base}/ImageSets/SegmentationContext/{split}.txt', 'w').write('\n'.join(names) + '\n')
    return base


def make_ade_tree(root, n=(3, 2)):
    """ADEChallengeData2016: images/{training,validation}/*.jpg, annotations/*/*.png (0 = other, 1..150)."""
    base = os.path.join(root, 'ade', 'ADEChallengeData2016')
    for split, count in zip(('training', 'validation'), n):
        for i in range(count):
            name = f'ADE_{split}_{i:08d}'
            _write_pair(f'{base}/images/{split}/{name}.jpg', f'{base}/annotations/{split}/{name}.png',
                        known_label(value=5), i)
    return base


def make_cityscapes_tree(root, n=(3, 2)):
    """leftImg8bit/{train,val}/CITY/*_leftImg8bit.png and gtFine/*/CITY/*_gtFine_labelTrainIds.png (0..18)."""
    base = os.path.join(root, 'cityscapes')
    for split, count in zip(('train', 'val'), n):
        for i in range(count):
            name = f'aachen_{i:06d}_000019'
            _write_pair(f'{base}/leftImg8bit/{split}/aachen/{name}_leftImg8bit.png',
                        f'{base}/gtFine/{split}/aachen/{name}_gtFine_labelTrainIds.png',
                        known_label(value=5, background=0), i)
    return base


def make_coco_stuff_tree(root, n=(3, 2), raw_values=(0, 2, 91, 156)):
    """coco_stuff164k: images/{train2017,val2017}/*.jpg and the official stuffthingmaps_trainval2017/*/*.png
    (pixel = COCO category id - 1, 255 unlabeled): vertical stripes of ``raw_values`` and a 255 row."""
    base = os.path.join(root, 'coco_stuff164k')
    for split, count in zip(('train2017', 'val2017'), n):
        for i in range(count):
            name = f'{i:012d}'
            label = np.zeros((48, 64), dtype=np.uint8)
            for j, v in enumerate(raw_values):
                label[:, j * 16:(j + 1) * 16] = v
            label[47] = 255
            _write_pair(f'{base}/images/{split}/{name}.jpg', f'{base}/stuffthingmaps_trainval2017/{split}/{name}.png',
                        label, i)
    return base


# The COCO thing category ids no category uses in the 2017 release (ids 1..90; raw label value = id - 1).
COCO_UNUSED_THING_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)


def make_coco_stuff164k_tree(root, n=(3, 2), raw_values=(0, 2, 91, 156)):
    """coco_stuff164k in MMSeg's layout (docs/dataset_prepare.md: stuffthingmaps unzipped into annotations/, then
    converted): images/{train2017,val2017}/*.jpg; annotations/*/<id>.png, the raw map (COCO category id - 1, 255
    unlabeled; vertical stripes of ``raw_values`` and a 255 row); next to it <id>_labelTrainIds.png as MMSeg's
    tools/dataset_converters/coco_stuff164k.py writes it (the 171 used ids in increasing order -> 0..170, 255 kept;
    COCOStuffDataset) and <id>_instanceTrainIds.png as tools/convert_coco_object.py writes it (the 80 things -> 1..80,
    stuff, unused values and 255 -> 0; COCOObjectDataset). Both tables are written out here from the ids."""
    used = [v for v in range(182) if v + 1 not in COCO_UNUSED_THING_IDS and v != 90]  # 90: no category has id 91
    assert len(used) == 171 and len([v for v in used if v < 90]) == 80
    stuff171 = np.full(256, 255, dtype=np.uint8)
    stuff171[used] = np.arange(171)
    things = np.zeros(256, dtype=np.uint8)
    things[[v for v in used if v < 90]] = np.arange(1, 81)
    base = os.path.join(root, 'coco_stuff164k')
    for split, count in zip(('train2017', 'val2017'), n):
        for i in range(count):
            name = f'{i:012d}'
            raw = np.zeros((48, 64), dtype=np.uint8)
            for j, v in enumerate(raw_values):
                raw[:, j * 16:(j + 1) * 16] = v
            raw[47] = 255
            ann = f'{base}/annotations/{split}/{name}'
            _write_pair(f'{base}/images/{split}/{name}.jpg', f'{ann}.png', raw, i)
            Image.fromarray(stuff171[raw]).save(f'{ann}_labelTrainIds.png')
            Image.fromarray(things[raw]).save(f'{ann}_instanceTrainIds.png')
    return base
