"""Make the image-level hypotheses of a training set (docs/reclip_pp.md §5), once, before rectification training.

    python tools/gen_hypotheses.py CONFIG [--out FILE] [--device cuda] [--cfg-options k=v ...]

Reads the training images of CONFIG's train_dataloader, classifies sliding windows with the config's CLIP
against its Query embeddings (windows batched; ReCLIP configs, `hypotheses.mode='whole_image'`: the whole image
with a cosine threshold and a top-K fallback), and writes the JSON file named by the train pipeline's
LoadImageLevelLabels (or --out), keyed by image file name. Interrupted runs resume where they stopped.
"""
import argparse
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.clip import OpenCLIPTextEncoder, CLIPViT, resolve_class_names  # noqa: E402
from reclip_mmseg.datasets import WindowClassifier, generate_hypotheses  # noqa: E402
from reclip_mmseg.datasets.from_config import (  # noqa: E402
    hypothesis_params, hypothesis_transform_cfg, resolve_hypothesis_file, train_dataset_cfg)


def parse_args():
    parser = argparse.ArgumentParser(description='Generate image-level hypotheses for rectification training')
    parser.add_argument('config')
    parser.add_argument('--out', help='output JSON (default: the train pipeline\'s LoadImageLevelLabels file)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch-size', type=int, help='windows per CLIP forward (default: config hypotheses)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings, key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    resolve_hypothesis_file(cfg)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    head = cfg.model.decode_head
    class_names = resolve_class_names(head.class_names)
    step, _ = hypothesis_transform_cfg(cfg)
    out_file = args.out or step.hypothesis_file
    params = hypothesis_params(cfg, args.config)  # the release's defaults + the config's `hypotheses`
    derived = params.pop('derived', None)
    if derived:
        print(f'hypotheses.window_size not set: using {derived}, as the release does')
    if args.batch_size:
        params['batch_size'] = args.batch_size

    ds_cfg = copy.deepcopy(train_dataset_cfg(cfg))
    ds_cfg.pipeline = []
    dataset = DATASETS.build(ds_cfg)
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]

    image_encoder = CLIPViT(clip=cfg.model.backbone.clip)
    text = OpenCLIPTextEncoder(**{k: v for k, v in head.text_encoder.items() if k != 'type'})
    query = text.class_embeddings(class_names)
    classifier = WindowClassifier(image_encoder.to(args.device), query.to(args.device), params.pop('batch_size'))
    print(f'{len(paths)} training images, {len(class_names)} classes, hypotheses {params} -> {out_file}')
    labels = generate_hypotheses(paths, classifier, class_names, out_file, model_id=image_encoder.weights_id, **params)
    n = max(len(labels), 1)
    print(f'\nwrote {out_file}: {len(labels)} images, {sum(map(len, labels.values())) / n:.2f} classes per image, '
          f'{sum(1 for v in labels.values() if not v)} with an empty hypothesis')


if __name__ == '__main__':
    main()
