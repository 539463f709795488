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


def make_voc_tree(root: str, n_train: int = 4, n_val: int = 3, size=(64, 80), seed: int = 0) -> str:
    """VOCdevkit/VOC2012 with JPEGImages, palette SegmentationClass PNGs (0 background, 255 boundary, 1..20
    objects as rectangles) and ImageSets/Segmentation/{train,val}.txt. Returns the VOC2012 folder."""
    rng = np.random.default_rng(seed)
    voc = os.path.join(root, 'VOCdevkit', 'VOC2012')
    for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(os.path.join(voc, d), exist_ok=True)
    pal = _voc_palette().flatten().tolist()
    splits = {'train': [], 'val': []}
    for split, n in (('train', n_train), ('val', n_val)):
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
            lab = Image.fromarray(label, mode='P')
            lab.putpalette(pal)
            lab.save(os.path.join(voc, 'SegmentationClass', name + '.png'))
            splits[split].append(name)
    for split, names in splits.items():
        with open(os.path.join(voc, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return voc
