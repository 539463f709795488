"""File on disk -> CLIP's input -> scores -> labels, each step against an independent pipeline built from PIL,
torchvision and open_clip's own ``encode_image`` (docs: issue 23, item 1). The formats a dataset really holds: JPEG, PNG
in RGB / P / L / RGBA / 16-bit, and a JPEG whose EXIF orientation says "rotate". A shape-and-range check passed
while the hypotheses were computed on BGR images; every check here compares values, and each one is shown to
tell a colour swap or a sideways image apart."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torchvision import transforms as T

from conftest import TINY_CLIP
from reclip_mmseg.clip import CLIPViT
from reclip_mmseg.datasets.hypotheses import (WindowClassifier, load_image_rgb, preprocess_whole_image,
                                              preprocess_windows, window_boxes)

# CLIP's mean / std written out (OpenAI's preprocessing), not imported from the module under test.
MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
H, W = 150, 200


def photo(h=H, w=W, seed=0):
    """A colour-asymmetric picture: red falls off to the right, blue grows downwards, a green blob; mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 230 * (1 - x / w)
    g = 200 * np.exp(-(((x - 0.6 * w) / (0.2 * w)) ** 2 + ((y - 0.4 * h) / (0.25 * h)) ** 2))
    b = 220 * (y / h)
    return np.clip(np.stack([r, g, b], -1) + rng.normal(0, 6, (h, w, 3)), 0, 255).round().astype(np.uint8)


def write_formats(folder):
    """{format: path} for the same picture in every format (the EXIF one stored sideways, tagged upright)."""
    rgb = photo()
    paths = {}

    def save(name, image, **kw):
        paths[name] = str(folder / name)
        image.save(paths[name], **kw)
    save('rgb.jpg', Image.fromarray(rgb), quality=95)
    save('rgb.png', Image.fromarray(rgb))
    save('palette.png', Image.fromarray(rgb).convert('P', palette=Image.Palette.ADAPTIVE, colors=64))
    save('gray.png', Image.fromarray(rgb).convert('L'))
    save('rgba.png', Image.fromarray(np.dstack([rgb, np.full((H, W), 128, np.uint8)]), 'RGBA'))
    save('gray16.png', Image.fromarray(rgb[..., 0].astype(np.uint16) * 257))
    # EXIF Orientation 6 = "rotate 90° clockwise to display": store the upright picture turned counter-clockwise.
    exif = Image.Exif()
    exif[0x0112] = 6
    save('exif6.jpg', Image.fromarray(np.ascontiguousarray(np.rot90(rgb, 1))), quality=95, exif=exif)
    return paths


def pil_reference(path) -> Image.Image:
    """The upright RGB picture as PIL gives it (16-bit: the high byte, as an 8-bit viewer shows it)."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode.startswith('I'):
            return Image.fromarray((np.asarray(im, dtype=np.float64) / 257).round().astype(np.uint8)).convert('RGB')
        return im.convert('RGB')


WHOLE = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                   T.Normalize(MEAN, STD)])
WINDOW = T.Compose([T.Resize((224, 224), interpolation=T.InterpolationMode.BICUBIC), T.ToTensor(),
                    T.Normalize(MEAN, STD)])
# PIL resizes uint8 pixels, the module float pixels (same antialiased bicubic): they differ by rounding only.
MAX_DIFF, MEAN_DIFF = 0.08, 0.012


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return write_formats(tmp_path_factory.mktemp('formats'))


@pytest.fixture(scope='module')
def tower():
    return CLIPViT(clip=TINY_CLIP).eval()


def close(ours, ref):
    d = (ours - ref).abs()
    return float(d.max()) <= MAX_DIFF and float(d.mean()) <= MEAN_DIFF


FORMATS = ['rgb.jpg', 'rgb.png', 'palette.png', 'gray.png', 'rgba.png', 'gray16.png', 'exif6.jpg']


@pytest.mark.parametrize('name', FORMATS)
def test_loaded_pixels_are_pils_upright_rgb(files, name):
    ours = load_image_rgb(files[name])
    ref = torch.from_numpy(np.asarray(pil_reference(files[name]), dtype=np.float32) / 255).permute(2, 0, 1)
    assert ours.shape == ref.shape == (3, H, W)  # upright: the EXIF file too
    assert float((ours - ref).abs().max()) <= 1 / 255 + 1e-6
    if name not in ('gray.png', 'gray16.png'):
        assert float((ours.flip(0) - ref).abs().mean()) > 0.1  # a BGR read is far away
        assert float((ours[:, :, :150] - ref.transpose(1, 2)[:, :150, :150]).abs().mean()) > 0.05  # so is sideways


@pytest.mark.parametrize('name', FORMATS)
def test_whole_image_input_equals_clip_preprocessing_by_pil_and_torchvision(files, name):
    ours = preprocess_whole_image(load_image_rgb(files[name]))[0]
    ref = WHOLE(pil_reference(files[name]))
    assert close(ours, ref), float((ours - ref).abs().max())
    if name not in ('gray.png', 'gray16.png'):
        assert not close(preprocess_whole_image(load_image_rgb(files[name]).flip(0))[0], ref)


@pytest.mark.parametrize('name', ['rgb.jpg', 'palette.png', 'rgba.png', 'gray16.png', 'exif6.jpg'])
def test_window_inputs_equal_pil_crops(files, name):
    boxes = window_boxes(H, W, 56, 28)
    assert len(boxes) == 24
    ours = preprocess_windows(load_image_rgb(files[name]), boxes)
    image = pil_reference(files[name])
    ref = torch.stack([WINDOW(image.crop(box)) for box in boxes])
    assert close(ours, ref), float((ours - ref).abs().max())


def test_scores_and_votes_equal_open_clips_encode_image_on_the_reference_inputs(files, tower):
    """The classifier's whole-image cosines and window votes against open_clip's ``encode_image`` on the PIL /
    torchvision inputs, with Query rows from open_clip's ``encode_text``."""
    model = tower.clip_model
    tok = __import__('open_clip').get_tokenizer('reclip-tiny')
    words = ['red wall', 'green tree', 'blue sky', 'person', 'dog']
    with torch.no_grad():
        query = F.normalize(model.encode_text(tok([f'a photo of a {w}.' for w in words])), dim=-1)
    clf = WindowClassifier(tower, query, batch_size=7)
    boxes = window_boxes(H, W, 56, 28)
    for name in ('rgb.png', 'exif6.jpg'):
        image = pil_reference(files[name])
        with torch.no_grad():
            ref_cos = (F.normalize(model.encode_image(WHOLE(image)[None]), dim=-1) @ query.t())[0].numpy()
            ref_win = F.normalize(model.encode_image(torch.stack([WINDOW(image.crop(b)) for b in boxes])), dim=-1)
        ours = clf.whole_image_cosine(load_image_rgb(files[name]))
        np.testing.assert_allclose(ours, ref_cos, atol=2e-3)
        swapped = clf.whole_image_cosine(load_image_rgb(files[name]).flip(0))
        assert np.abs(swapped - ref_cos).max() > 4 * np.abs(ours - ref_cos).max()  # the check sees a swap
        ref_scores = ref_win @ query.t()
        top2 = ref_scores.topk(2, dim=1).values
        clear = (top2[:, 0] - top2[:, 1]) > 2e-3  # windows not at a near-tie
        ours_top1 = torch.from_numpy(np.concatenate([
            np.repeat(np.arange(len(words)), clf.votes(load_image_rgb(files[name]), [b]))
            for b in boxes]))
        assert int(clear.sum()) >= len(boxes) // 2
        assert torch.equal(ours_top1[clear], ref_scores.argmax(1)[clear])


@pytest.mark.parametrize('name', ['rgb.jpg', 'rgb.png', 'palette.png', 'gray.png', 'rgba.png', 'gray16.png',
                                  'exif6.jpg'])
def test_mmseg_loading_and_preprocessor_give_the_same_pixels_as_pil(files, name):
    """The segmentor's path (MMSeg's LoadImageFromFile, PackSegInputs, our configs' SegDataPreProcessor with
    CLIP's mean/std and bgr_to_rgb) against PIL's upright RGB normalised by hand."""
    from mmengine.config import Config
    from mmseg.registry import MODELS, TRANSFORMS
    from conftest import ROOT
    cfg = Config.fromfile(f'{ROOT}/configs/_base_/models/clip_vit_b16.py')
    pre = MODELS.build(cfg.data_preprocessor)
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    pack = TRANSFORMS.build(dict(type='PackSegInputs'))
    data = pre(dict(zip(('inputs', 'data_samples'), zip(*[
        (p['inputs'], p['data_samples']) for p in [pack(load(dict(img_path=files[name])))]]))), False)
    x = data['inputs'][0][:, :H, :W]
    ref = np.asarray(pil_reference(files[name]), dtype=np.float32)
    ref = (torch.from_numpy(ref).permute(2, 0, 1) - torch.tensor([122.771, 116.746, 104.094])[:, None, None]) \
        / torch.tensor([68.501, 66.632, 70.323])[:, None, None]
    tol = (2.5 if name.endswith('.jpg') else 1.01) / 66.6  # decoders may differ by a level on JPEG
    assert float((x - ref).abs().max()) <= tol
