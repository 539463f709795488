"""Synthetic zero-shot experiment for TagCLIP: does the trusty map learn to separate non-seen from seen pixels?

    python tools/tagclip_synthetic.py [--iters 300] [--seed 0] [--trusty-target unseen_gt|not_seen] [--json out.json]

Images are 2 x 2 mosaics of 64 px blocks; each block is one of 8 classes or an unlabelled background (label 255,
like VOC's), drawn as its own colour plus noise. Classes 0-5 are seen, 6-7 unseen: their pixels stay in the
training images, their labels are ignored (the inductive protocol). With 'unseen_gt' the trusty map is taught
1 on unseen pixels only; with 'not_seen' also on background. The real VPTCLIPViT (tiny untrained CLIP, 12 blocks) and TagCLIPHead are trained with
TagCLIPCriterion on the seen labels (and the trusty target) for a few hundred AdamW steps on CPU (lr 1e-3: the
release's 2e-4 is for 20k iterations). On held-out
mosaics we report, before and after training:
  * trusty AUC: how well w = sigmoid(trusty logit) ranks unseen pixels above seen ones (0.5 = chance);
  * mIoU(S) and mIoU(U) of the gated prediction (sigmoid - 0.1 on seen classes, seen x (1-w), unseen x w).
What it shows: the trusty token, its loss and the gating work end to end and learn what they are asked to.
What it cannot show: transfer to unseen classes. The tiny CLIP is untrained, so its text embeddings of unseen
names carry no knowledge of how those classes look; mIoU(U) stays near chance here. That needs real CLIP weights.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import reclip_mmseg  # noqa: E402,F401

CLASSES = ('red thing', 'green thing', 'blue thing', 'yellow thing', 'cyan thing', 'magenta thing',
           'white thing', 'black thing')
UNSEEN = [6, 7]
BLOCK, GRID = 64, 2
CLIP = dict(model_name='reclip-tiny-deep', pretrained=None)


def make_batch(gen, colours, n):
    """Images (n, 3, 128, 128) normalised, labels (n, 128, 128): 2 x 2 blocks of random classes or background
    (255); every image has at least one seen block."""
    size = BLOCK * GRID
    labels = torch.empty(n, size, size, dtype=torch.long)
    for b in range(n):
        cls = torch.randint(0, len(CLASSES) + 1, (GRID * GRID,), generator=gen)  # len(CLASSES): background
        if all(int(c) in UNSEEN + [len(CLASSES)] for c in cls):
            cls[0] = int(torch.randint(0, len(CLASSES) - len(UNSEEN), (1,), generator=gen))
        for i, c in enumerate(cls):
            y, x = divmod(i, GRID)
            labels[b, y * BLOCK:(y + 1) * BLOCK, x * BLOCK:(x + 1) * BLOCK] = c
    images = colours[labels].permute(0, 3, 1, 2) + 0.35 * torch.randn(n, 3, size, size, generator=gen)
    return images, labels.masked_fill(labels == len(CLASSES), 255)


def build(seed, trusty_target, num_tokens):
    torch.manual_seed(seed)
    backbone = MODELS.build(dict(type='VPTCLIPViT', clip=CLIP, num_tokens=num_tokens, img_size=BLOCK * GRID))
    head = MODELS.build(dict(
        type='TagCLIPHead', class_names=list(CLASSES), unseen_idx=UNSEEN, trusty_target=trusty_target,
        text_encoder=dict(type='OpenCLIPTextEncoder', clip=CLIP, templates='zegclip_single', cache_dir=False)))
    return backbone, head


@torch.no_grad()
def evaluate(backbone, head, images, labels):
    backbone.eval(), head.eval()
    feats = backbone(images)
    logits = head.upsample(head.mask_logits(feats), labels.shape[-2:])
    pred = head.scores(logits).argmax(1)
    w = logits[:, -1].sigmoid()
    unseen = torch.isin(labels, torch.tensor(UNSEEN))
    labelled = labels != 255  # AUC: unseen against seen pixels (background has no class to rank)
    auc = roc_auc_score(unseen[labelled].numpy(), w[labelled].numpy())
    ious = []
    for c in range(len(CLASSES)):
        inter = ((pred == c) & (labels == c)).sum().item()
        union = ((pred == c) | (labels == c)).sum().item()
        ious.append(inter / union if union else float('nan'))
    ious = np.array(ious)
    seen = [c for c in range(len(CLASSES)) if c not in UNSEEN]
    return dict(trusty_auc=round(float(auc), 4), mIoU_S=round(float(np.nanmean(ious[seen])) * 100, 2),
                mIoU_U=round(float(np.nanmean(ious[UNSEEN])) * 100, 2))


def run(iters=300, seed=0, trusty_target='unseen_gt', batch=8, lr=1e-3, num_tokens=4, n_test=24):
    init_default_scope('mmseg')
    gen = torch.Generator().manual_seed(seed)
    colours = torch.rand(len(CLASSES) + 1, 3, generator=gen) * 2 - 1  # the last: background
    test_images, test_labels = make_batch(gen, colours, n_test)
    backbone, head = build(seed, trusty_target, num_tokens)
    before = evaluate(backbone, head, test_images, test_labels)
    params = [p for m in (backbone, head) for p in m.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    backbone.train(), head.train()
    for _ in range(iters):
        images, labels = make_batch(gen, colours, batch)
        samples = [SegDataSample(gt_sem_seg=PixelData(data=lab[None])) for lab in labels]
        losses = head.loss(backbone(images), samples, None)
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        optim.zero_grad()
        loss.backward()
        optim.step()
    after = evaluate(backbone, head, test_images, test_labels)
    return dict(iters=iters, seed=seed, trusty_target=trusty_target, before=before, after=after)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--trusty-target', default='unseen_gt', choices=['unseen_gt', 'not_seen'])
    parser.add_argument('--json', help='also write the result here')
    args = parser.parse_args()
    result = run(args.iters, args.seed, args.trusty_target)
    print(f"{'':8}{'trusty AUC':>12}{'mIoU(S)':>10}{'mIoU(U)':>10}")
    for name in ('before', 'after'):
        r = result[name]
        print(f"{name:8}{r['trusty_auc']:>12.3f}{r['mIoU_S']:>10.1f}{r['mIoU_U']:>10.1f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
