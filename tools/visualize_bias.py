"""Picture the bias for one image (the paper's Fig. 4): image | Query prediction (MaskCLIP) | bias logit maps
L_b of chosen classes | rectified prediction.

    python tools/visualize_bias.py IMAGE CONFIG CHECKPOINT [--bias-classes person,sky] [--out bias.png]
        [--device cpu] [--cfg-options k=v ...]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import matplotlib  # noqa: E402

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mmcv  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import DictAction  # noqa: E402
from mmseg.apis.inference import _preprare_data  # noqa: E402

import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.apis import init_segmentor, overlay_with_legend  # noqa: E402
from reclip_mmseg.utils import check_image_file  # noqa: E402


@torch.no_grad()
def bias_views(model, image_path):
    """(Query prediction, bias logits (C, H, W), rectified prediction), all at the image's size."""
    data, _ = _preprare_data(image_path, model)
    data = model.data_preprocessor(data, False)
    inputs, samples = data['inputs'], data['data_samples']
    feats = model.backbone(inputs)
    head = model.decode_head
    h, w = samples[0].ori_shape
    H, W = inputs.shape[-2:]
    ih, iw = samples[0].img_shape

    def to_image(x):  # grid -> padded input -> crop padding -> original size
        x = F.interpolate(x, size=(H, W), mode='bilinear', align_corners=False)[..., :ih, :iw]
        return F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False)[0]

    query = to_image(head.query_logits(feats.dense)).argmax(0)
    bias = to_image(head.total_bias(feats.dense, feats.pos)[:1])
    rectified = model.predict(inputs, samples)[0].pred_sem_seg.data[0]
    return query.cpu().numpy(), bias.cpu().numpy(), rectified.cpu().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('image')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--bias-classes', help='comma-separated names whose bias maps to show (default: 3 with '
                                               'the largest bias range)')
    parser.add_argument('--out', default='bias.png')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    try:
        check_image_file(args.image)  # missing, empty or not an image: named now, not deep in the pipeline
    except ValueError as err:
        raise SystemExit(str(err))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)  # before any work, not after
    model = init_segmentor(args.config, args.checkpoint, None, args.device, args.cfg_options)
    if not hasattr(model.decode_head, 'total_bias'):
        raise SystemExit(f'{args.config} has no bias head (BiasRectifiedHead); give a rectification config')
    names, palette = list(model.dataset_meta['classes']), model.dataset_meta['palette']
    query, bias, rectified = bias_views(model, args.image)
    if args.bias_classes:
        wanted = [n.strip() for n in args.bias_classes.split(',')]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise SystemExit(f'--bias-classes {unknown} are not among the model classes {names}')
        shown = [names.index(n) for n in wanted]
    else:
        shown = list((bias.max((1, 2)) - bias.min((1, 2))).argsort()[::-1][:3])
    image = mmcv.imread(args.image, channel_order='rgb')
    panels = [('image', image), ('Query (MaskCLIP)', overlay_with_legend(image, query, names, palette))]
    panels += [(f'bias $L_b$: {names[c]}', bias[c]) for c in shown]
    panels += [('rectified (ReCLIP++)', overlay_with_legend(image, rectified, names, palette))]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2 * image.shape[0] / image.shape[1] + 0.5),
                             dpi=110)
    for ax, (title, content) in zip(axes, panels):
        if content.ndim == 2:
            im = ax.imshow(content, cmap='coolwarm')
            fig.colorbar(im, ax=ax, fraction=0.035)
        else:
            ax.imshow(content)
        ax.set_title(title, fontsize=9)
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
