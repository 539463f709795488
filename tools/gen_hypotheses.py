"""Make the image-level hypotheses of a training set (docs/reclip_pp.md §5), once, before rectification training.

    python tools/gen_hypotheses.py CONFIG [--out FILE] [--device cuda] [--workers 4] [--amp auto|none|fp16|bf16]
        [--batch-size 256] [--cfg-options k=v ...]
    tools/dist_hypotheses.sh CONFIG NUM_PROCS [args]      # torchrun: the images shared among the ranks

Reads the training images of CONFIG's train_dataloader, classifies sliding windows with the config's CLIP
against its Query embeddings (ReCLIP configs, `hypotheses.mode='whole_image'`: the whole image with a cosine
threshold and a top-K fallback), and writes the JSON file named by the train pipeline's LoadImageLevelLabels (or
--out), keyed by image file name. DataLoader workers decode and crop; windows of several images go through CLIP
together. Each rank appends to its own part file (OUT.parts/rank{r}.jsonl); one merge writes OUT, the same bytes
for any number of ranks. Interrupted runs resume from the parts, with any number of ranks.
"""
import argparse
import copy
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_dist_info  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.clip import OpenCLIPTextEncoder, CLIPViT, resolve_class_names  # noqa: E402
from reclip_mmseg.datasets import WindowClassifier, generate_hypotheses  # noqa: E402
from reclip_mmseg.datasets.from_config import (  # noqa: E402
    hypothesis_params, hypothesis_transform_cfg, resolve_hypothesis_file, train_dataset_cfg)
from reclip_mmseg.engine.launch import end_distributed  # noqa: E402

# The ranks only wait for each other (no tensors are exchanged): gloo on GPUs too, with a wait long enough for the
# slowest rank of a COCO-scale run to finish its share.
RANK_WAIT = datetime.timedelta(hours=24)


def parse_args():
    parser = argparse.ArgumentParser(description='Generate image-level hypotheses for rectification training')
    parser.add_argument('config')
    parser.add_argument('--out', help='output JSON (default: the train pipeline\'s LoadImageLevelLabels file)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch-size', type=int, help='windows per CLIP forward (default: config hypotheses)')
    parser.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1),
                        help='DataLoader processes decoding and cropping the images (0: in the main process)')
    parser.add_argument('--amp', choices=['auto', 'none', 'fp16', 'bf16'], default='auto',
                        help='autocast of the CLIP forward: auto = fp16 on CUDA (as the release\'s fp16 CLIP), '
                             'none (fp32) on CPU; recorded in the file')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: started by torchrun (tools/dist_hypotheses.sh); the images are shared')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings, key=value')
    return parser.parse_args()


def init_ranks(device: str) -> str:
    """Join torchrun's process group (gloo; see RANK_WAIT); on CUDA each rank takes the GPU of its LOCAL_RANK.
    Returns the device to run on."""
    import torch.distributed as dist
    if device.startswith('cuda'):
        local_rank = int(os.environ.get('LOCAL_RANK', 0))
        torch.cuda.set_device(local_rank)
        device = f'cuda:{local_rank}'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', timeout=RANK_WAIT)
    return device


def precision(amp: str, device: str) -> str:
    if amp == 'auto':
        return 'fp16' if device.startswith('cuda') else 'fp32'
    return 'fp32' if amp == 'none' else amp


def main():
    args = parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    device = init_ranks(args.device) if args.launcher == 'pytorch' else args.device
    rank, world = get_dist_info()
    say = print if rank == 0 else (lambda *a, **k: None)
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
        say(f'hypotheses.window_size not set: using {derived}, as the release does')
    if args.batch_size:
        params['batch_size'] = args.batch_size

    ds_cfg = copy.deepcopy(train_dataset_cfg(cfg))
    ds_cfg.pipeline = []
    dataset = DATASETS.build(ds_cfg)
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]

    image_encoder = CLIPViT(clip=cfg.model.backbone.clip)
    text = OpenCLIPTextEncoder(**{k: v for k, v in head.text_encoder.items() if k != 'type'})
    query = text.class_embeddings(class_names)
    classifier = WindowClassifier(image_encoder.to(device), query.to(device), params.pop('batch_size'),
                                  precision=precision(args.amp, device))
    say(f'{len(paths)} training images, {len(class_names)} classes, hypotheses {params}, {classifier.precision}, '
        f'{args.workers} loader workers, {world} rank(s) -> {out_file}')
    labels = generate_hypotheses(paths, classifier, class_names, out_file, model_id=image_encoder.weights_id,
                                 workers=args.workers, **params)
    if rank == 0:
        n = max(len(labels), 1)
        print(f'\nwrote {out_file}: {len(labels)} images, {sum(map(len, labels.values())) / n:.2f} classes per '
              f'image, {sum(1 for v in labels.values() if not v)} with an empty hypothesis')
    if end_distributed():  # a distributed rank leaves at once (see end_distributed)
        os._exit(0)


if __name__ == '__main__':
    main()
