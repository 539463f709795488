"""CLIPer's authors' protocol (issue 24): configs/training_free/authors/cliper_*, CLIPer's name files and templates,
CLIPerHead, CLIPerAuthorsSegmentor, CLIPerResize, PresentClassIoUMetric and the Cityscapes halves. Every value is
written here from docs/training_free.md §6.5 (the release's rows and rules), and every reference computation is built
here from those rules with plain loops, never from the modules' helpers."""
import glob
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from PIL import Image

from conftest import ROOT, TINY_CLIP, run_tool_in_process, test_metrics
from synthetic import make_cityscapes_tree

NAME_DIR = os.path.join(ROOT, 'reclip_mmseg', 'clip', 'name_files')


pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors (conftest.py)


# -------------------------------------------------------------- the table (docs/training_free.md §6.5)
W = 'whole'
# dataset: (size, inference (whole, or (crop, stride) of whole + slide), templates, logit scale, score_threshold,
#           bkg_thre, is_normalize, attention_thr, the release's ignore_labels, name file)
ROWS = {
    'voc21': (336, (336, 112), 'car', 100, 0.7, 0.6, True, 0.1, [255], 'cliper/cls_voc21'),
    'context60': (336, (224, 112), 'car', 100, 0.45, 0.45, False, 0.2, [255], 'cliper/cls_context60'),
    'cocoobject': (336, (224, 112), 'openai', 50, 0.3, 0.3, False, 0.2, [255], 'cliper/cls_coco81'),
    'voc20': (336, W, 'car', 100, 0.0, 0.001, False, 0.1, [0, 255], 'cliper/cls_voc21'),
    'context59': (336, (224, 112), 'car', 100, 0.3, 0.3, False, 0.2, [0, 255], 'cliper/cls_context60'),
    'cocostuff171': (336, W, 'car', 50, 0.1, 0.1, False, 0.2, [0, 255], 'cliper/cls_coco_stuff172'),
    'cityscapes': (560, W, 'openai', 100, 0.0, 0.0001, False, 0.35, [0, 255], 'cliper/cls_city'),
    'ade20k': (336, W, 'car', 100, 0.3, 0.3, False, 0.2, [0, 255], 'cliper/cls_ade20k'),
}
TEMPLATES = {'car': 'cliper_car15', 'openai': 'imagenet80'}
# the repository's data bases (configs/training_free/authors/_base_/datasets/), Cityscapes' halves on top
DATASET_TYPES = {'voc21': 'PascalVOCDataset', 'context60': 'PascalContextDataset', 'cocoobject': 'COCOObjectDataset',
                 'voc20': 'PascalVOC20Dataset', 'context59': 'PascalContextDataset59',
                 'cocostuff171': 'COCOStuffDataset', 'cityscapes': 'CLIPerCityscapesDataset', 'ade20k': 'ADE20KDataset'}
# how each repository dataset stores the release's ground truth (docs/training_free.md §6.5): 'same' (class 0 is
# the background), 'reduced' (the release's raw map with 0 ignored; here 0 -> 255, v -> v - 1), 'shifted' (the
# release reads the train ids + 1 with 255 kept; here the train ids)
ENCODING = {'voc21': 'same', 'context60': 'same', 'cocoobject': 'same', 'voc20': 'reduced', 'context59': 'reduced',
            'ade20k': 'reduced', 'cocostuff171': 'shifted', 'cityscapes': 'shifted'}
CAR15 = ('a clean origami {}.', 'a photo of a {}.', 'This is a photo of a {}', 'There is a {} in the scene',
         'There is the {} in the scene', 'a photo of a {} in the scene', 'a photo of a small {}.',
         'a photo of a medium {}.', 'a photo of a large {}.', 'This is a photo of a small {}.',
         'This is a photo of a medium {}.', 'This is a photo of a large {}.', 'There is a small {} in the scene.',
         'There is a medium {} in the scene.', 'There is a large {} in the scene.')


def test_every_preset_is_pinned_to_the_doc():
    files = sorted(os.path.basename(f) for f in glob.glob(f'{ROOT}/configs/training_free/authors/cliper_*.py'))
    assert files == sorted(f'cliper_vit-b16_{d}.py' for d in ROWS)
    for d, (size, inference, tpl, ls, score, bkg, norm, thr, ignore, name_file) in ROWS.items():
        cfg = Config.fromfile(f'{ROOT}/configs/training_free/authors/cliper_vit-b16_{d}.py')
        m = cfg.model
        assert m.type == 'CLIPerAuthorsSegmentor', d
        b = m.backbone
        assert (b.dense_mode, b.pos_resize, b.pad_to_patch) == ('cliper', 'size_bilinear', False), d
        assert (b.cliper.logit_scale, b.cliper.attention_thr) == (ls, thr), d
        if inference == W:
            assert m.test_cfg == dict(mode='whole'), d
        else:
            crop, stride = inference
            assert m.test_cfg == dict(mode='whole+slide', crop_size=(crop, crop), stride=(stride, stride)), d
        assert (m.score_threshold, m.bkg_thre, m.is_normalize) == (score, bkg, norm), d
        head = m.decode_head
        assert (head.type, head.class_names, head.name_file) == ('CLIPerHead', d, name_file), d
        assert (head.text_encoder.templates, head.text_encoder.words) == (TEMPLATES[tpl], 'raw'), d
        assert m.pamr.enabled is False and m.data_preprocessor.test_cfg is None, d
        pipeline = cfg.test_dataloader.dataset.pipeline
        steps = [s.type for s in pipeline]
        want = ['LoadImageFromFile', 'CLIPerResize', 'LoadAnnotations'] + (
            ['CLIPerCityscapesHalf'] if d == 'cityscapes' else []) + ['PackSegInputs']
        assert steps == want, d
        resize = pipeline[1]
        assert resize.size == size and resize.get('multiple', 16) == 16, d
        assert cfg.test_dataloader.dataset.type == DATASET_TYPES[d] and cfg.train_dataloader is None, d
        assert cfg.test_evaluator == dict(type='PresentClassIoUMetric', ignore_index=255), d
        # the release's ignore_labels in this repository's encodings (checked by evaluation below): its background
        # is the dataset's class 0 where 0 is scored, no class (255) where it is ignored
        assert m.background_index == (0 if ignore == [255] else 255), d
        assert (ignore == [255]) == (ENCODING[d] == 'same'), d


def test_cliper_name_files_and_templates_are_the_releases():
    from reclip_mmseg.clip.vocabularies import TEMPLATE_SETS, read_cliper_name_file

    def lines(path):
        with open(os.path.join(NAME_DIR, path + '.txt'), encoding='utf-8') as f:
            return f.read().splitlines()
    voc_bg = ('ground, land, grass, tree, building, wall, sky, lake, water, river, sea, railway, railroad, keyboard, '
              'helmet, cloud, house, mountain, ocean, road, rock, street, valley, bridge, sign')
    voc = [voc_bg, 'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat', 'cow',
           'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes, people, human', 'pottedplant', 'sheep',
           'sofa', 'train', 'tvmonitor screen']
    assert lines('cliper/cls_voc21') == voc
    coco_bg = ('ground, land, grass, tree, building, wall, sky, lake, water, river, sea, railway, railroad, helmet, '
               'cloud, house, mountain, ocean, road, rock, street, valley, bridge')
    coco = ('person with cloth people human|bicycle|car|motorbike|aeroplane|bus|train|truck|boat|traffic light|'
            'fire hydrant|stop sign|parking meter|bench|bird|cat|dog|horse|sheep|cow|elephant|bear|zebra|giraffe|'
            'backpack|umbrella|handbag|tie|suitcase|frisbee|skis|snowboard|sports ball|kite|baseball bat|'
            'baseball glove|skateboard|surfboard|tennis racket|bottle|wine glass|cup|fork|knife|spoon|bowl|banana|'
            'apple|sandwich|orange|broccoli|carrot|hot dog|pizza|donut|cake|chair seat|sofa|pottedplant|bed|'
            'diningtable|toilet|tvmonitor|laptop|mouse|remote|keyboard|cell phone|microwave|oven|toaster|sink|'
            'refrigerator|book|clock|vase|scissors|teddy bear|hair drier|toothbrush').split('|')
    assert lines('cliper/cls_coco81') == [coco_bg] + coco and len(coco) == 80
    # the others differ from SCLIP's files on the lines the doc names
    sclip = {k: lines(f'sclip/{k}') for k in ('cls_context60', 'cls_ade20k', 'cls_city_scapes', 'cls_coco_stuff')}
    ctx = {'bird': 'bird avian', 'chair': 'chair seat', 'person': 'person with cloth people human',
           'tvmonitor': 'tvmonitor screen'}
    assert lines('cliper/cls_context60') == [ctx.get(n, n) for n in sclip['cls_context60']]
    assert lines('cliper/cls_ade20k') == ['background'] + [
        'person with cloth people human' if n == 'person' else n for n in sclip['cls_ade20k']]
    assert lines('cliper/cls_city') == ['background'] + [
        {'trafficlight': 'traffic light', 'trafficsign': 'traffic sign'}.get(n, n) for n in sclip['cls_city_scapes']]
    with open(os.path.join(NAME_DIR, 'cliper', 'cls_city.txt')) as f:
        assert f.read().endswith('bicycle\n')  # this one ends with a newline
    assert lines('cliper/cls_coco_stuff172') == ['background'] + sclip['cls_coco_stuff']
    # the reading rule: line 1 split on spaces and commas into single words; each further line one prompt
    background, prompts = read_cliper_name_file('cliper/cls_voc21')
    assert len(background) == 25 and {'keyboard', 'helmet', 'sign'} <= set(background) and background[0] == 'ground'
    assert prompts == tuple(voc[1:]) and prompts[14] == 'person with clothes, people, human'
    assert len(read_cliper_name_file('cliper/cls_coco81')[0]) == 23
    assert read_cliper_name_file('cliper/cls_context60')[0] == ('background',)
    assert {len(read_cliper_name_file(f'cliper/{f}')[1]) for f in ('cls_ade20k', 'cls_coco_stuff172', 'cls_city')} == {
        150, 171, 19}
    assert TEMPLATE_SETS['cliper_car15'] == CAR15 and len(TEMPLATE_SETS['imagenet80']) == 80


# ------------------------------------------------------- the decision (docs/training_free.md §6.5), by hand
def _bilinear(x, H, Wd):
    """(h, w) -> (H, W), bilinear with half-pixel centres (align_corners=False), indices clamped at 0."""
    h, w = x.shape
    out = np.zeros((H, Wd))
    for Y in range(H):
        sy = max((Y + 0.5) * h / H - 0.5, 0.0)
        y0 = int(sy)
        y1, ly = min(y0 + 1, h - 1), sy - y0
        for X in range(Wd):
            sx = max((X + 0.5) * w / Wd - 0.5, 0.0)
            x0 = int(sx)
            x1, lx = min(x0 + 1, w - 1), sx - x0
            out[Y, X] = ((1 - ly) * ((1 - lx) * x[y0, x0] + lx * x[y0, x1])
                         + ly * ((1 - lx) * x[y1, x0] + lx * x[y1, x1]))
    return out


def _reference_decision(seg, H, Wd, score_threshold, bkg_thre, is_normalize):
    """The release's order on (C, h, w) fused maps: score = each map's maximum; maps bilinear to (H, W), divided by
    their maximum + 1e-5, times the score; classes with score <= score_threshold dropped; optional min-max
    (max + 1e-6); values below bkg_thre -> 0; label = 1 + argmax, 0 where the maximum is 0. With bkg_thre 0 the
    background competes with (1 - max)^2. Labels in CLIPer's space."""
    C = seg.shape[0]
    score = [seg[c].max() for c in range(C)]
    cam = [_bilinear(seg[c], H, Wd) for c in range(C)]
    cam = [cam[c] / (cam[c].max() + 1e-5) * score[c] for c in range(C)]
    if is_normalize:
        cam = [(cam[c] - cam[c].min()) / ((cam[c] - cam[c].min()).max() + 1e-6) for c in range(C)]
    labels = np.zeros((H, Wd), np.int64)
    for y in range(H):
        for x in range(Wd):
            vals = [cam[c][y, x] if score[c] > score_threshold else 0.0 for c in range(C)]
            if bkg_thre > 0:
                vals = [v if v >= bkg_thre else 0.0 for v in vals]
                best = int(np.argmax(vals))
                labels[y, x] = 0 if vals[best] == 0 else best + 1
            else:
                labels[y, x] = int(np.argmax([(1 - max(vals)) ** 2] + vals))
    return labels


def test_decision_matches_the_release_order_by_hand():
    from reclip_mmseg.models.training_free.cliper_authors import cliper_decision
    rng = np.random.default_rng(0)
    for score_thr, bkg, norm in ((0.7, 0.6, True), (0.3, 0.3, False), (0.0, 0.001, False), (0.45, 0.45, False),
                                 (0.2, 0.0, False), (0.5, 0.0, True)):
        seg = rng.uniform(0.0, 1.2, (4, 3, 5)).astype(np.float32)
        seg[1] *= 0.4  # a weak class, dropped by most thresholds
        ref = _reference_decision(seg.astype(np.float64), 13, 17, score_thr, bkg, norm)
        got, _ = cliper_decision(torch.from_numpy(seg)[None], (13, 17), score_thr, bkg, norm)
        assert (got[0].numpy() == ref).mean() > 0.99, (score_thr, bkg, norm)
        assert set(np.unique(ref)) <= set(range(5))


# ---------------------------------------------------------------------- the segmentor on the tiny CLIP
def _tiny_cliper_model(**kw):
    from mmseg.registry import MODELS
    cfg = dict(type='CLIPerAuthorsSegmentor',
               data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.771, 116.746, 104.094],
                                      std=[68.501, 66.632, 70.323], bgr_to_rgb=True),
               backbone=dict(type='CLIPViT', clip=TINY_CLIP, with_global=False, dense_mode='cliper',
                             pos_resize='size_bilinear', pad_to_patch=False,
                             cliper=dict(logit_scale=100.0, attention_thr=0.1)),
               decode_head=dict(type='CLIPerHead', class_names='voc21', name_file='cliper/cls_voc21',
                                text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP,
                                                  templates='cliper_car15', words='raw')),
               score_threshold=0.2, bkg_thre=0.3, is_normalize=True,
               test_cfg=ConfigDict(mode='whole+slide', crop_size=(32, 32), stride=(16, 16)))
    cfg.update(kw)
    return MODELS.build(cfg).eval()


def _reference_prediction(model, image, ori, slide, label_offset, background_label):
    """docs/training_free.md §6.5 on one image, loops: queries [classes; background words; the classes' normalised
    mean]; each layer's softmax over all of them, classes kept; with slide, every window's per-layer logits summed
    into the patch grid and divided by the window count, its head-mean attention summed into a canvas over patch
    pairs, the canvas divided by the pair count + 1e-5 and row-normalised, logits_j = sum_i logits_i canvas_ij,
    softmax, ½/½ with the whole image; the last layer thresholded at attention_thr x its class maximum (inside the
    layer mean too); Q_j = sum_i A_ij P_i with the whole image's attention; scores = Q + layer mean; the decision;
    labels mapped."""
    head, tower = model.decode_head, model.backbone
    enc = head.text_encoder
    cls = enc.class_embeddings(list(head.class_prompts))
    bg = enc.class_embeddings(list(head.background_words))
    queries = torch.cat([cls, bg, F.normalize(cls.mean(0, keepdim=True), dim=-1)])
    C, p = cls.shape[0], 16
    logits, attn, (h, w) = tower.cliper_layer_logits(image, queries)  # (L, 1, N, Q), (1, N, N)
    probs = torch.softmax(logits[:, 0], dim=-1)[..., :C]  # (L, N, C)
    if slide:
        (hc, wc), (hs, ws) = slide
        H, Wd = image.shape[-2:]
        acc, cnt, canvas, pcnt = {}, {}, {}, {}
        for hi in range(max(H - hc + hs - 1, 0) // hs + 1):
            for wi in range(max(Wd - wc + ws - 1, 0) // ws + 1):
                y2, x2 = min(hi * hs + hc, H), min(wi * ws + wc, Wd)
                y1, x1 = max(y2 - hc, 0), max(x2 - wc, 0)
                lg, at, (ch, cw) = tower.cliper_layer_logits(image[:, :, y1:y2, x1:x2], queries)
                cells = [((y1 // p + a // cw) * w + x1 // p + a % cw) for a in range(ch * cw)]
                for a, ga in enumerate(cells):
                    acc[ga] = acc.get(ga, 0) + lg[:, 0, a]
                    cnt[ga] = cnt.get(ga, 0) + 1
                    for b, gb in enumerate(cells):
                        canvas[ga, gb] = canvas.get((ga, gb), 0.0) + float(at[0, a, b])
                        pcnt[ga, gb] = pcnt.get((ga, gb), 0) + 1
        N = h * w
        A = torch.tensor([[canvas.get((i, j), 0.0) / (pcnt.get((i, j), 0) + 1e-5) for j in range(N)]
                          for i in range(N)], dtype=torch.float64)
        A = A / A.sum(1, keepdim=True)
        mean_logits = [acc[i].double() / cnt[i] for i in range(N)]  # (L, Q) each
        slide_logits = torch.stack([sum(mean_logits[i] * A[i, j] for i in range(N)) for j in range(N)], 1)
        probs = 0.5 * torch.softmax(slide_logits, dim=-1)[..., :C].float() + 0.5 * probs
    thr = tower.cliper['attention_thr']
    last = probs[-1].clone()
    last[last < thr * last.max(0, keepdim=True).values] = 0
    probs = torch.cat([probs[:-1], last[None]])
    A = attn[0]
    prop = torch.stack([sum(A[i, j] * last[i] for i in range(h * w)) for j in range(h * w)])
    seg = (prop + probs.mean(0)).t().reshape(C, h, w)
    labels = _reference_decision(seg.double().numpy(), ori[0], ori[1], model.score_threshold, model.bkg_thre,
                                 model.is_normalize)
    return np.where(labels == 0, background_label, labels - 1 + label_offset)


def test_segmentor_predicts_as_the_release_by_hand():
    from mmseg.structures import SegDataSample
    from reclip_mmseg.clip.vocabularies import read_cliper_name_file
    torch.manual_seed(0)
    image = torch.randn(1, 3, 48, 80)
    for kw, slide, offset, bg_label in (
            (dict(), ((32, 32), (16, 16)), 1, 0),  # VOC-21: background is class 0, labels as CLIPer's
            (dict(decode_head=dict(type='CLIPerHead', class_names='voc20', name_file='cliper/cls_voc21',
                                   text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP,
                                                     templates='cliper_car15', words='raw')),
                  score_threshold=0.0, bkg_thre=0.001, is_normalize=False, test_cfg=ConfigDict(mode='whole')),
             None, 0, 255)):  # VOC-20: CLIPer's l is class l - 1, its background 255
        model = _tiny_cliper_model(**kw)
        head = model.decode_head
        background, prompts = read_cliper_name_file('cliper/cls_voc21')
        assert (head.background_words, head.class_prompts, head.first_class_index) == (background, prompts, offset)
        assert model.background_index == bg_label and model.logit_scale == 100.0
        meta = dict(ori_shape=(37, 61), img_shape=(48, 80))
        with torch.no_grad():
            out = model.predict(image, [SegDataSample(metainfo=meta)])[0].pred_sem_seg.data[0].numpy()
            ref = _reference_prediction(model, image, (37, 61), slide, offset, bg_label)
        assert out.shape == (37, 61) and (out == ref).mean() > 0.995, (kw, (out == ref).mean())
        assert len(np.unique(out)) > 1


def test_head_text_is_the_releases_embedding_and_order():
    """Each query: the mean of its L2-normalised template embeddings, normalised again; the competitors in the
    release's order [classes; background words; the classes' normalised mean]."""
    model = _tiny_cliper_model(test_cfg=ConfigDict(mode='whole'))
    head, enc = model.decode_head, model.decode_head.text_encoder

    def by_hand(text):
        tokens = enc.tokenize([t.format(text) for t in CAR15])
        return F.normalize(F.normalize(enc.encode_tokens(tokens), dim=-1).mean(0), dim=-1)
    q = head.release_queries()
    assert q.shape[0] == 20 + 25 + 1
    assert torch.allclose(q[14], by_hand('person with clothes, people, human'), atol=1e-5)  # one prompt, not split
    assert torch.allclose(q[20 + 13], by_hand('keyboard'), atol=1e-5)  # the 14th background word
    assert torch.allclose(q[-1], F.normalize(q[:20].mean(0), dim=-1), atol=1e-6)
    # the window pass and the whole image's logits come from the tower: its per-layer logits against [T; mean T]
    # are the unified mode's per-layer probabilities before the softmax (CLIPViT(dense_mode='cliper') traced)
    image = torch.randn(1, 3, 32, 48)
    trace = {}
    with torch.no_grad():
        model.backbone(image, text=head.query_embeds, trace=trace)
        plain = torch.cat([head.query_embeds, F.normalize(head.query_embeds.mean(0, keepdim=True), dim=-1)])
        logits, attn, grid = model.backbone.cliper_layer_logits(image, plain)
    assert grid == (2, 3)
    torch.testing.assert_close(torch.softmax(logits[0], -1)[..., :20], trace['layer_probs'][0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(attn, trace['fused_attention'][-1].mean(1)[:, 1:, 1:], atol=1e-6, rtol=1e-5)


def test_what_the_segmentor_refuses():
    with pytest.raises(ValueError, match='no PAMR'):
        _tiny_cliper_model(pamr=dict(enabled=True))
    with pytest.raises(ValueError, match='prob_thd'):
        _tiny_cliper_model(prob_thd=0.1)
    with pytest.raises(ValueError, match='backbone.cliper.logit_scale'):
        _tiny_cliper_model(logit_scale=50.0)
    with pytest.raises(ValueError, match='whole\\+slide'):
        _tiny_cliper_model(test_cfg=ConfigDict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    with pytest.raises(ValueError, match='background_index'):
        _tiny_cliper_model(background_index=255)  # VOC-21's background is its class 0
    with pytest.raises(ValueError, match='class lines'):
        _tiny_cliper_model(decode_head=dict(type='CLIPerHead', class_names='context59', name_file='cliper/cls_voc21',
                                            text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP,
                                                              words='raw')))
    from mmseg.registry import MODELS
    with pytest.raises(ValueError, match='CLIPerAuthorsSegmentor'):  # the head is read by its segmentor only
        MODELS.build(dict(type='CLIPSegmentor', backbone=dict(type='CLIPViT', clip=TINY_CLIP, dense_mode='cliper'),
                          decode_head=dict(type='CLIPerHead', class_names='voc21', name_file='cliper/cls_voc21',
                                           text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP,
                                                             words='raw'))))


def test_positional_resize_is_bilinear_by_size():
    """The release's positional resize (pos_resize='size_bilinear'): the patch grid bilinearly to the token grid by
    size (no +0.1 offset), the class token's embedding kept; at the trained grid it changes nothing."""
    from reclip_mmseg.clip.positions import interpolate_pos_embed
    pos = torch.randn(1 + 14 * 14, 8)
    grid = pos[1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(21, 28), mode='bilinear', align_corners=False)
    got = interpolate_pos_embed(pos, 21, 28, rule='size_bilinear')
    assert torch.equal(got[0], pos[0])
    torch.testing.assert_close(got[1:], want.permute(0, 2, 3, 1).reshape(21 * 28, 8))
    assert not torch.allclose(interpolate_pos_embed(pos, 21, 28)[1:], got[1:], atol=1e-4)  # bicubic differs
    assert torch.equal(interpolate_pos_embed(pos, 14, 14, rule='size_bilinear'), pos)


# ------------------------------------------------------------------------------- the input: CLIPerResize
def _images(tmp_path):
    rng = np.random.default_rng(1)
    out = {}
    rgb = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'rgb.jpg', quality=90)
    out['rgb.jpg'] = (375, 500)
    Image.fromarray(rng.integers(0, 256, (500, 333, 4), dtype=np.uint8), 'RGBA').save(tmp_path / 'rgba.png')
    out['rgba.png'] = (500, 333)
    pal = Image.fromarray(rng.integers(0, 40, (90, 130), dtype=np.uint8), 'L').convert('P')
    pal.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tolist())
    pal.save(tmp_path / 'palette.png')
    out['palette.png'] = (90, 130)
    Image.fromarray(rng.integers(0, 256, (200, 270), dtype=np.uint8), 'L').save(tmp_path / 'grey.png')
    out['grey.png'] = (200, 270)
    Image.fromarray(rng.integers(0, 256, (120, 410), dtype=np.uint8), 'L').save(tmp_path / 'grey.jpg')
    out['grey.jpg'] = (120, 410)
    return out


def test_resize_is_the_releases_pil_resize_in_rgb(tmp_path):
    """The short side to `size`, each side rounded to the nearest multiple of 16, PIL bicubic on the image as PIL
    opens it, then RGB; MMSeg's BGR in the pipeline, RGB again after the data pre-processor."""
    from mmcv.transforms import LoadImageFromFile
    from mmseg.models.data_preprocessor import SegDataPreProcessor
    from reclip_mmseg.datasets import CLIPerResize
    pre = SegDataPreProcessor(mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323], bgr_to_rgb=True)
    for name, (h, w) in _images(tmp_path).items():
        path = str(tmp_path / name)
        for size in (336, 560):
            scale = size / min(h, w)
            want = (round(w * scale / 16) * 16, round(h * scale / 16) * 16)  # no side of these lands on a tie
            assert all(abs(s * scale / 16 % 1 - 0.5) > 1e-6 for s in (h, w))
            ref = np.asarray(Image.open(path).resize(want, Image.BICUBIC).convert('RGB'))
            results = CLIPerResize(size=size)(LoadImageFromFile()(dict(img_path=path)))
            assert results['img_shape'] == (want[1], want[0]) and results['ori_shape'] == (h, w), name
            assert min(want) == size, name
            np.testing.assert_array_equal(results['img'][..., ::-1], ref, err_msg=name)  # BGR in the pipeline
            if size == 336:
                x = torch.from_numpy(results['img'].copy()).permute(2, 0, 1)
                norm = pre(dict(inputs=[x]), False)['inputs'][0]
                red = (torch.from_numpy(ref[..., 0].copy()).float() - 122.771) / 68.501
                torch.testing.assert_close(norm[0], red)  # channel 0 is red: RGB for CLIP
    # from an array (no file): MMSeg's BGR array through PIL
    rgb = np.asarray(Image.open(tmp_path / 'rgb.jpg').convert('RGB'))
    res = CLIPerResize(size=336)(dict(img=np.ascontiguousarray(rgb[..., ::-1]), ori_shape=(375, 500)))
    np.testing.assert_array_equal(res['img'][..., ::-1],
                                  np.asarray(Image.fromarray(rgb).resize((448, 336), Image.BICUBIC)))
    # the palette and RGBA files differ from a resize of the loaded RGB array: the file's own mode matters
    pal = np.asarray(Image.open(tmp_path / 'palette.png').convert('RGB'))
    res = CLIPerResize(size=336, from_file=False)(dict(img=np.ascontiguousarray(pal[..., ::-1])))
    assert (res['img'][..., ::-1] != np.asarray(Image.open(tmp_path / 'palette.png').resize(
        (480, 336), Image.BICUBIC).convert('RGB'))).any()


# ------------------------------------------------------------------------------------------ the metric
def _reference_miou(gt, pred, num_classes, ignore):
    """The release's metric, loops: one confusion matrix (ground truth in `ignore` dropped), IoU = TP / (row +
    column - TP + 1e-5), mean over the classes present in the ground truth; pixel accuracy."""
    hist = np.zeros((num_classes, num_classes))
    for g_img, p_img in zip(gt, pred):
        for g, p in zip(g_img.ravel(), p_img.ravel()):
            if g not in ignore:
                hist[g, p] += 1
    iou = [hist[c, c] / (hist[c].sum() + hist[:, c].sum() - hist[c, c] + 1e-5) for c in range(num_classes)]
    present = [c for c in range(num_classes) if hist[c].sum() > 0]
    return 100 * np.mean([iou[c] for c in present]), 100 * np.trace(hist) / hist.sum()


def _metric(dataset_classes, ignore_index, gts, preds):
    from reclip_mmseg.evaluation import PresentClassIoUMetric
    metric = PresentClassIoUMetric(ignore_index=ignore_index)
    metric.dataset_meta = dict(classes=dataset_classes)
    for g, p in zip(gts, preds):
        metric.process([], [dict(pred_sem_seg=dict(data=torch.from_numpy(p)[None]),
                                 gt_sem_seg=dict(data=torch.from_numpy(g)[None]))])
    return metric.compute_metrics(metric.results)


def test_metric_matches_the_release_metric_by_hand():
    rng = np.random.default_rng(2)
    K = 6
    gts = [rng.integers(0, 4, (9, 11)) for _ in range(3)]  # classes 4 and 5 never in the ground truth
    for g in gts:
        g[0, :5] = 255
    preds = [rng.integers(0, K, (9, 11)) for _ in range(3)]  # ... but predicted: they do not enter the mean
    got = _metric(tuple(f'c{i}' for i in range(K)), 255, gts, preds)
    miou, acc = _reference_miou(gts, preds, K, [255])
    assert got['mIoU'] == pytest.approx(miou, abs=1e-9) and got['aAcc'] == pytest.approx(acc, abs=1e-9)
    assert got['mIoU'] > _mmseg_miou(gts, preds, K)  # MMSeg's IoUMetric counts the predicted-only classes as 0
    got = _metric(tuple(f'c{i}' for i in range(K)), [0, 255], gts, preds)
    assert got['mIoU'] == pytest.approx(_reference_miou(gts, preds, K, [0, 255])[0], abs=1e-9)


def _mmseg_miou(gts, preds, K):
    from mmseg.evaluation import IoUMetric
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=tuple(f'c{i}' for i in range(K)))
    metric.process([], [dict(pred_sem_seg=dict(data=torch.from_numpy(p)[None]),
                             gt_sem_seg=dict(data=torch.from_numpy(g)[None])) for g, p in zip(gts, preds)])
    return metric.compute_metrics(metric.results)['mIoU']


@pytest.mark.parametrize('dataset', sorted(ROWS))
def test_each_presets_metric_in_the_datasets_labels_is_the_releases_in_its_own(dataset):
    """The release's ground truth and labels (its ignore_labels from the table; CLIPer's label 0 = background,
    1..C the class lines) against the preset's metric on the same pixels as this repository's dataset encodes them
    (ENCODING) and as the segmentor maps CLIPer's labels (background_index)."""
    from reclip_mmseg.clip.vocabularies import read_cliper_name_file, resolve_class_names
    cfg = Config.fromfile(f'{ROOT}/configs/training_free/authors/cliper_vit-b16_{dataset}.py')
    C = len(read_cliper_name_file(ROWS[dataset][-1])[1])
    classes = resolve_class_names(dataset)
    rng = np.random.default_rng(3)
    encoding, ignore = ENCODING[dataset], ROWS[dataset][8]
    gts, preds, d_gts, d_preds = [], [], [], []
    for _ in range(2):
        g = rng.integers(0 if encoding != 'shifted' else 1, min(C, 7) + 1, (8, 10))
        g[0, :3] = 255
        if encoding != 'shifted':
            g[1, :4] = 0  # background (scored) or 'other' / background (ignored)
        p = rng.integers(0, min(C, 7) + 1, (8, 10))
        gts.append(g)
        preds.append(p)
        d_gts.append(g if encoding == 'same' else np.where(g == 255, 255, np.where(g == 0, 255, g - 1)))
        d_preds.append(p if encoding == 'same' else np.where(p == 0, cfg.model.background_index, p - 1))
    miou, acc = _reference_miou(gts, preds, C + 1, ignore)
    metric_cfg = dict(cfg.test_evaluator)
    assert metric_cfg.pop('type') == 'PresentClassIoUMetric'
    got = _metric(classes, metric_cfg['ignore_index'], d_gts, d_preds)
    assert got['mIoU'] == pytest.approx(miou, abs=1e-9) and got['aAcc'] == pytest.approx(acc, abs=1e-9)
    assert len(classes) == C + (encoding == 'same')


# ------------------------------------------------------------------------------- Cityscapes' halves
def test_cityscapes_halves_cut_the_resized_image_at_its_height(tmp_path):
    from reclip_mmseg.datasets import CLIPerCityscapesHalf
    img = np.arange(30 * 72 * 3, dtype=np.uint8).reshape(30, 72, 3)  # resized image: cut at column 30
    gt = np.arange(20 * 48, dtype=np.int64).reshape(20, 48) % 19  # label map at its own size: cut at column 20
    for half, cols, gcols in (('right', slice(30, 72), slice(20, 48)), ('left', slice(0, 30), slice(0, 20))):
        out = CLIPerCityscapesHalf()(dict(img=img, gt_seg_map=gt, seg_fields=['gt_seg_map'], cliper_half=half,
                                          ori_shape=(20, 48)))
        np.testing.assert_array_equal(out['img'], img[:, cols])
        np.testing.assert_array_equal(out['gt_seg_map'], gt[:, gcols])
        assert out['img_shape'] == (30, cols.stop - cols.start) and out['ori_shape'] == (20, gcols.stop - gcols.start)
    with pytest.raises(KeyError, match='CLIPerCityscapesDataset'):
        CLIPerCityscapesHalf()(dict(img=img))

    from mmseg.registry import DATASETS
    root = make_cityscapes_tree(str(tmp_path))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='CLIPerResize', size=64), dict(type='LoadAnnotations'),
                dict(type='CLIPerCityscapesHalf'), dict(type='PackSegInputs')]
    ds = DATASETS.build(dict(type='CLIPerCityscapesDataset', data_root=root, pipeline=pipeline,
                             data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')))
    assert len(ds) == 4  # two images, two halves each
    assert [ds.get_data_info(i)['cliper_half'] for i in range(4)] == ['right', 'left', 'right', 'left']
    assert ds.get_data_info(0)['img_path'] == ds.get_data_info(1)['img_path']
    right, left = ds[0]['data_samples'], ds[1]['data_samples']
    assert right.gt_sem_seg.data.shape[-2:] == (48, 16) and left.gt_sem_seg.data.shape[-2:] == (48, 48)
    assert ds[0]['inputs'].shape[-2:] == (64, 16) and ds[1]['inputs'].shape[-2:] == (64, 64)  # 64 x 80, cut at 64
    with pytest.raises(ValueError, match='CLIPerCityscapesHalf'):
        DATASETS.build(dict(type='CLIPerCityscapesDataset', data_root=root, pipeline=pipeline[:3] + pipeline[4:],
                            data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')))


# -------------------------------------------------------------------- presets end to end (tools/test.py)
def _run_test_tool(preset, root, tmp_path, *extra):
    """tools/test.py on ``preset`` in this process with the tiny CLIP on the synthetic tree at ``root``; returns the
    metrics JSON the tool wrote."""
    opts = [f'{w}.{k}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
            for k in ('model_name=reclip-tiny', 'pretrained=None')]
    opts += [f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False']
    run_tool_in_process('test.py', os.path.join(ROOT, 'configs/training_free/authors', preset), '--work-dir',
                        tmp_path / 'wd', *extra, '--cfg-options', *opts)
    return test_metrics(tmp_path / 'wd')


def _files_miou(pairs, K, ignore):
    """CLIPer's mIoU from label files, loops: (gt, pred) arrays; ground truth in ``ignore`` dropped; a prediction
    outside 0..K-1 counts in a 'no class' column; IoU = TP / (row + column - TP + 1e-5); mean over the classes in
    the ground truth."""
    hist = np.zeros((K, K + 1))
    for gt, pred in pairs:
        for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
            if g not in ignore:
                hist[g, p if p < K else K] += 1
    present = [c for c in range(K) if hist[c].sum() > 0]
    return 100 * np.mean([hist[c, c] / (hist[c].sum() + hist[:K, c].sum() - hist[c, c] + 1e-5) for c in present])


def test_cityscapes_preset_runs_through_tools_test_and_writes_each_half(tmp_path):
    """configs/training_free/authors/cliper_vit-b16_cityscapes.py (halves, 80 templates, 'no class' labels, CLIPer's
    metric) through tools/test.py --out with the tiny CLIP on a synthetic Cityscapes tree: every half's prediction
    file (NAME_right.png, NAME_left.png), the manifest, and the tool's mIoU recomputed from those files and the
    ground-truth files on disk."""
    root = make_cityscapes_tree(str(tmp_path / 'data'), n=(1, 2))
    out = tmp_path / 'pred'
    metrics = _run_test_tool('cliper_vit-b16_cityscapes.py', root, tmp_path, '--out', str(out))
    assert set(metrics) >= {'mIoU', 'aAcc'} and np.isfinite(metrics['aAcc'])
    with open(glob.glob(str(tmp_path / 'wd' / '2*' / '2*.log'))[0]) as f:
        log = f.read()
    assert 'Iter(test) [4/4]' in log  # two images, two halves each
    assert "CLIPer's mIoU" in log and 'CLIPerAuthorsSegmentor' in log
    gt_files = sorted(glob.glob(f'{root}/gtFine/val/*/*_gtFine_labelTrainIds.png'))
    names = [os.path.basename(f)[:-len('_gtFine_labelTrainIds.png')] + '_leftImg8bit' for f in gt_files]
    assert sorted(os.listdir(out)) == sorted(['manifest.json'] + [f'{n}_{h}.png' for n in names
                                                                   for h in ('right', 'left')])
    import json
    manifest = json.load(open(out / 'manifest.json'))
    assert manifest['complete'] and manifest['count'] == manifest['expected'] == 4
    pairs = []
    for gt_file, name in zip(gt_files, names):
        gt = np.asarray(Image.open(gt_file))
        h = gt.shape[0]
        for half, cut in (('right', gt[:, h:]), ('left', gt[:, :h])):
            pred = np.asarray(Image.open(out / f'{name}_{half}.png'))
            assert pred.dtype == np.uint8 and pred.shape == cut.shape
            assert set(np.unique(pred).tolist()) <= set(range(19)) | {255}  # train ids, 255: no class
            pairs.append((cut, pred))
    assert metrics['mIoU'] == pytest.approx(_files_miou(pairs, 19, {255}), abs=1e-6)


def test_ade_preset_writes_the_files_encoding(tmp_path):
    """ADE20K (reduce_zero_label): --out writes the official file encoding, as MMSeg's IoUMetric does (class c as
    c + 1; CLIPer's 'no class' as 0, ADE's 'other'); the release's metric on the raw files (0 ignored, 150 classes
    and its background column 0) from those files equals the tool's mIoU."""
    from synthetic import make_ade_tree
    root = make_ade_tree(str(tmp_path / 'data'), n=(0, 2))
    out = tmp_path / 'pred'
    metrics = _run_test_tool('cliper_vit-b16_ade20k.py', root, tmp_path, '--out', str(out))
    gt_files = sorted(glob.glob(f'{root}/annotations/validation/*.png'))
    assert sorted(os.listdir(out)) == sorted(['manifest.json'] + [os.path.basename(f) for f in gt_files])
    pairs = [(np.asarray(Image.open(f)), np.asarray(Image.open(out / os.path.basename(f)))) for f in gt_files]
    assert all(p.shape == g.shape for g, p in pairs)
    assert metrics['mIoU'] == pytest.approx(_files_miou(pairs, 151, {0, 255}), abs=1e-6)  # ignore_labels [0, 255]
