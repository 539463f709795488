"""The authors' protocols (issue 24, item 1): configs/training_free/authors/, the name files of the SCLIP lineage,
MaskCLIPHead(name_file=...) and AuthorsCLIPSegmentor. Every value is written here from the releases as
docs/training_free.md §6 cites them (§6.1 scoring order and PAMR, §6.2 name files, §6.3 per-method rows), and every
reference computation is built here from those formulas, never from the module's helpers."""
import glob
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict

from conftest import ROOT, TINY_CLIP, options_dict
from synthetic import make_voc_tree

NAME_DIR = os.path.join(ROOT, 'reclip_mmseg', 'clip', 'name_files')


pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors (conftest.py)
PERSON7 = ('person, person in shirt, person in jeans, person in dress, person in sweater, person in skirt, '
           'person in jacket')
STUFF26 = ('sky, wall, tree, wood, grass, road, sea, river, mountain, sands, desk, bed, building, cloud, lamp, door, '
           'window, wardrobe, ceiling, shelf, curtain, stair, floor, hill, rail, fence')
TV5 = 'television monitor, tv monitor, monitor, television, screen'


def _lines(path):
    with open(os.path.join(NAME_DIR, path + '.txt'), encoding='utf-8') as f:
        return f.read().split('\n')


# ------------------------------------------------------------------------------------------------- name files
def test_name_files_are_the_releases_files():
    # docs/training_free.md §6.2: classes and queries (pieces split at ', ') of SCLIP's copies
    counts = {'cls_voc21': (21, 56), 'cls_voc20': (20, 30), 'cls_coco_object': (81, 113), 'cls_context60': (60, 60),
              'cls_context59': (59, 59), 'cls_coco_stuff': (171, 171), 'cls_city_scapes': (19, 19),
              'cls_ade20k': (150, 150)}
    for stem, (classes, queries) in counts.items():
        with open(os.path.join(NAME_DIR, 'sclip', stem + '.txt'), encoding='utf-8') as f:
            text = f.read()
        assert not text.endswith('\n'), stem  # no file ends with a newline
        lines = text.split('\n')
        assert (len(lines), sum(len(line.split(', ')) for line in lines)) == (classes, queries), stem
    voc21, coco = _lines('sclip/cls_voc21'), _lines('sclip/cls_coco_object')
    assert voc21[0] == STUFF26 and len(STUFF26.split(', ')) == 26 and coco[0] == STUFF26
    assert voc21[15] == PERSON7 and voc21[20] == TV5 and coco[1] == PERSON7 + ', body'
    assert _lines('sclip/cls_voc20') == voc21[1:]
    assert _lines('sclip/cls_context60')[0] == 'background' and _lines('sclip/cls_context60')[-1] == 'wood '
    assert _lines('sclip/cls_context60')[1:-1] == _lines('sclip/cls_context59')[:-1]
    assert _lines('sclip/cls_coco_stuff')[9] == 'trafficlight' and _lines('sclip/cls_ade20k')[44] == 'chestofdrawers'
    # docs/training_free.md §6.2: SFP's and ClearCLIP's copies differ from SCLIP's on these lines only
    people = PERSON7.replace('person', 'people')
    diffs = {'sfp/cls_voc21': {15: people}, 'sfp/cls_voc20': {14: people}, 'sfp/cls_city_scapes': {11: 'people'},
             'clearclip/cls_voc21': {0: 'background', 15: 'person', 20: 'tvmonitor'},
             'clearclip/cls_voc20': {14: 'person', 19: 'tvmonitor'},
             'clearclip/cls_coco_object': {0: 'background', 1: 'person'}}
    for path, changed in diffs.items():
        ref = _lines('sclip/' + path.split('/')[1])
        assert _lines(path) == [changed.get(i, line) for i, line in enumerate(ref)], path
    # CLIPer's own files (cliper/, its own reading rule) are pinned in test_cliper_authors.py
    assert sorted(os.path.relpath(p, NAME_DIR) for p in glob.glob(f'{NAME_DIR}/*/*.txt')
                  if not os.path.relpath(p, NAME_DIR).startswith('cliper/')) == sorted(
        [f'sclip/{s}.txt' for s in counts] + [f'{p}.txt' for p in diffs])
    with open(os.path.join(ROOT, 'setup.py')) as f:
        assert "'clip/name_files/*/*.txt'" in f.read()  # shipped in the wheel


def test_read_name_file_splits_lines_into_queries():
    from reclip_mmseg.clip.vocabularies import read_name_file
    names, classes = read_name_file('sclip/cls_voc21')
    assert len(names) == 56 and names[:26] == tuple(STUFF26.split(', ')) and classes[:26] == (0,) * 26
    assert names[26:28] == ('aeroplane', 'bicycle') and classes[26:28] == (1, 2)
    assert classes.count(15) == 7 and classes.count(20) == 5 and max(classes) == 20
    names, classes = read_name_file('sclip/cls_context60')
    assert names[-1] == 'wood ' and classes == tuple(range(60))


# ---------------------------------------------------------------- the scoring (docs/training_free.md §6.1)
def _reference_scores(logits, name_to_class, num_classes, logit_scale, area_thd, prob_thd):
    """docs/training_free.md §6.1 on one image, loops and numpy: logits (Q, H, W) -> (class scores, labels)."""
    L = logit_scale * logits.astype(np.float64)
    P = np.exp(L - L.max(axis=0, keepdims=True))
    P /= P.sum(axis=0, keepdims=True)  # 1. softmax over all Q names
    S = np.zeros((num_classes,) + P.shape[1:])
    for c in range(num_classes):  # 2. class score = max of its names' probabilities
        S[c] = np.max(P[[q for q, k in enumerate(name_to_class) if k == c]], axis=0)
    if area_thd is not None:  # 3. n_c over the argmax map; N_fg = sum over c >= 1
        arg = S.argmax(axis=0)
        n = np.array([(arg == c).sum() for c in range(num_classes)])
        n_fg = n[1:].sum()
        for c in range(1, num_classes):
            if not n[c] > area_thd * n_fg:
                S[c] = 0.0
    labels = S.argmax(axis=0)  # 4. argmax, then top score below prob_thd -> 0
    labels[S.max(axis=0) < prob_thd] = 0
    return S, labels


def _module_scores(logits, name_to_class, num_classes, logit_scale, area_thd, prob_thd):
    from reclip_mmseg.models.training_free.authors import authors_labels, name_class_scores, remove_small_classes
    scores = name_class_scores(torch.from_numpy(logits)[None], torch.tensor(name_to_class), num_classes, logit_scale)
    scores = remove_small_classes(scores, area_thd)
    return scores[0].double().numpy(), authors_labels(scores, prob_thd)[0].numpy()


def test_authors_scoring_matches_the_doc_order():
    rng = np.random.default_rng(0)
    name_to_class = [0, 0, 0, 1, 2, 2, 3, 0, 3]  # synonyms, background words spread over the list
    for area, prob in ((None, 0.0), (None, 0.3), (0.1, 0.15), (0.3, 0.0)):
        logits = rng.normal(0, 0.2, (9, 12, 14)).astype(np.float32)
        ref_s, ref_l = _reference_scores(logits, name_to_class, 4, 50.0, area, prob)
        got_s, got_l = _module_scores(logits, name_to_class, 4, 50.0, area, prob)
        np.testing.assert_allclose(got_s, ref_s, atol=1e-6)
        assert (got_l == ref_l).all()


def test_area_thd_removes_a_small_class_whose_pixels_fall_to_the_next_class():
    # 4 classes, one name each; 10 x 10 pixels: class 1 wins 60, class 2 wins 36, class 3 wins 4 (4 / 100 of the
    # foreground-predicted pixels: removed at area_thd 0.1; N_fg = 100, not the image's 100 + background)
    logits = np.zeros((4, 10, 12), np.float32)
    logits[0, :, 10:] = 1.0  # 20 background pixels: not part of N_fg
    logits[1, :6, :10] = 1.0
    logits[2, 6:, :10] = 1.0
    logits[2, 6:8, 8:10] = 0.5  # class 3's pixels: class 2 is their second choice
    logits[3, 6:8, 8:10] = 1.0
    base_s, base_l = _module_scores(logits, [0, 1, 2, 3], 4, 40.0, None, 0.0)
    assert [(base_l == c).sum() for c in range(4)] == [20, 60, 36, 4]
    ref_s, ref_l = _reference_scores(logits, [0, 1, 2, 3], 4, 40.0, 0.1, 0.0)
    got_s, got_l = _module_scores(logits, [0, 1, 2, 3], 4, 40.0, 0.1, 0.0)
    assert (got_l == ref_l).all() and (got_s[3] == 0).all() and np.allclose(got_s[:3], base_s[:3])
    assert [(got_l == c).sum() for c in range(4)] == [20, 60, 40, 0]  # class 3's 4 pixels went to class 2
    # at area_thd 0.04 class 3 fails too (4 > 0.04 * 100 is false: survival needs strictly more)
    assert (_module_scores(logits, [0, 1, 2, 3], 4, 40.0, 0.04, 0.0)[1] != 3).all()
    assert ((_module_scores(logits, [0, 1, 2, 3], 4, 40.0, 0.039, 0.0)[1] == 3).sum()) == 4
    # prob_thd applies after the removal, to the new maximum
    _, thd_l = _module_scores(logits, [0, 1, 2, 3], 4, 40.0, 0.1, 0.9)
    assert (thd_l[6:8, 8:10] == 0).all() and (thd_l[:6, :10] == 1).all()


# ------------------------------------------------------------------------------- the segmentor on a tiny CLIP
def _reference_pamr(image, masks, iterations=10, dilations=(8, 16)):
    """PAMR as the releases vendor it (docs/training_free.md §6.1), loops over neighbours: 8 neighbours per
    dilation (centre excluded), replicate padding; affinity
    -|I(p) - I(p+d)| / (1e-8 + 0.1 * sigma), sigma the (unbiased) std over all 9 * |D| samples, mean over colour
    channels, softmax over the 8 * |D| neighbours; each iteration m <- sum_j a_j m(p + d_j)."""
    H, W = image.shape[-2:]
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def shifted(t, d, dy, dx):
        p = F.pad(t, (d, d, d, d), mode='replicate')
        return p[..., d + dy * d:d + dy * d + H, d + dx * d:d + dx * d + W]
    samples = torch.stack([shifted(image, d, dy, dx) for d in dilations for dy, dx in offsets], 2)
    sigma = samples.std(dim=2)
    aff = torch.stack([-(shifted(image, d, dy, dx) - image).abs() for d in dilations for dy, dx in offsets
                       if (dy, dx) != (0, 0)], 2)
    aff = torch.softmax((aff / (1e-8 + 0.1 * sigma[:, :, None])).mean(1), dim=1)
    for _ in range(iterations):
        masks = sum(aff[:, j:j + 1] * shifted(masks, d, dy, dx) for j, (d, (dy, dx)) in enumerate(
            [(d, o) for d in dilations for o in offsets if o != (0, 0)]))
    return masks


def _tiny_authors_model(**kw):
    from mmseg.registry import MODELS
    cfg = dict(type='AuthorsCLIPSegmentor',
               data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.771, 116.746, 104.094],
                                      std=[68.501, 66.632, 70.323], bgr_to_rgb=True),
               backbone=dict(type='CLIPViT', clip=TINY_CLIP, with_global=False, dense_mode='sclip'),
               decode_head=dict(type='MaskCLIPHead', class_names='voc21', name_file='sclip/cls_voc21',
                                text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP, templates='imagenet80',
                                                  words='raw')),
               logit_scale=65.0, prob_thd=0.1, area_thd=0.1,
               test_cfg=ConfigDict(mode='whole'))
    cfg.update(kw)
    return MODELS.build(cfg).eval()


def test_segmentor_predicts_with_names_pamr_area_and_background():
    from mmseg.structures import SegDataSample
    from reclip_mmseg.clip.vocabularies import read_name_file
    model = _tiny_authors_model(pamr=dict(enabled=True))
    head = model.decode_head
    assert model.pamr_cfg == dict(enabled=True, iterations=10, dilations=(8, 16))  # the releases' default
    names, classes = read_name_file('sclip/cls_voc21')
    # one query per name (Q = 56), each the 80-template embedding of the name as written; a repeated name would
    # repeat its row
    ref = head.text_encoder.class_embeddings(list(names))
    assert head.query_embeds.shape == (56, ref.shape[1]) and torch.allclose(head.query_embeds, ref, atol=1e-6)
    assert head.name_to_class.tolist() == list(classes) and head.num_classes == 21
    torch.manual_seed(0)
    inputs = torch.randn(1, 3, 48, 64)
    meta = dict(ori_shape=(30, 41), img_shape=(48, 64), padding_size=[0, 0, 0, 0], flip=True,
                flip_direction='horizontal')
    with torch.no_grad():
        out = model.predict(inputs, [SegDataSample(metainfo=meta)])[0]
        feats = model.backbone(inputs).dense  # (1, D, 3, 4), unit norm
    # independent: cosine logits per name, bilinear to the input, flip undone, bilinear to the original size, PAMR
    # there with the normalised input resized likewise, then the scoring
    logits = torch.einsum('bdhw,qd->bqhw', feats, ref)
    logits = F.interpolate(logits, size=(48, 64), mode='bilinear', align_corners=False).flip(3)
    logits = F.interpolate(logits, size=(30, 41), mode='bilinear', align_corners=False)
    image = F.interpolate(inputs.flip(3), size=(30, 41), mode='bilinear', align_corners=False)
    logits = _reference_pamr(image, logits)
    _, labels = _reference_scores(logits[0].numpy(), list(classes), 21, 65.0, 0.1, 0.1)
    assert out.pred_sem_seg.data.shape == (1, 30, 41)
    assert (out.pred_sem_seg.data[0].numpy() == labels).mean() > 0.999


def test_a_name_head_needs_the_authors_segmentor_and_raw_words():
    with pytest.raises(ValueError, match='AuthorsCLIPSegmentor'):
        _build_unified_with_names()
    with pytest.raises(ValueError, match="words='raw'"):
        _tiny_authors_model(decode_head=dict(type='MaskCLIPHead', class_names='voc21', name_file='sclip/cls_voc21',
                                             text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP)))
    with pytest.raises(ValueError, match='class lines'):
        _tiny_authors_model(decode_head=dict(type='MaskCLIPHead', class_names='voc20', name_file='sclip/cls_voc21',
                                             text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP,
                                                               words='raw')))


def _build_unified_with_names():
    from mmseg.registry import MODELS
    return MODELS.build(dict(
        type='CLIPSegmentor', backbone=dict(type='CLIPViT', clip=TINY_CLIP, with_global=False),
        decode_head=dict(type='MaskCLIPHead', class_names='voc21', name_file='sclip/cls_voc21',
                         text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP, templates='single',
                                           words='raw'))))


# ------------------------------------------------------------------------------------------------- the presets
S, W = 'slide', 'whole'
# method: (dense mode, default crop/stride, PAMR, name separator, {dataset: (S, inference, ls, prob, area, name file)})
# from docs/training_free.md §6.3 (a '-' there is the segmentor default: prob 0, area None)
PRESETS = {
    'sclip': ('sclip', (224, 112), False, ', ', {
        'voc21': (336, S, 65, 0.1, 0.1, 'sclip/cls_voc21'), 'context60': (336, S, 50, 0.1, None, 'sclip/cls_context60'),
        'cocoobject': (336, S, 50, 0.1, None, 'sclip/cls_coco_object'), 'voc20': (336, S, 40, 0, None, 'sclip/cls_voc20'),
        'context59': (336, S, 40, 0, None, 'sclip/cls_context59'),
        'cocostuff171': (448, S, 40, 0, None, 'sclip/cls_coco_stuff'),
        'cityscapes': (560, S, 40, 0, None, 'sclip/cls_city_scapes'), 'ade20k': (336, S, 40, 0, None, 'sclip/cls_ade20k')}),
    'clearclip': ('clearclip', (448, 224), False, ',', {
        'voc21': (448, S, 50, 0.5, None, 'clearclip/cls_voc21'),
        'context60': (448, S, 50, 0.15, None, 'sclip/cls_context60'),
        'cocoobject': (448, S, 50, 0.4, None, 'clearclip/cls_coco_object'),
        'voc20': (448, S, 50, 0, None, 'clearclip/cls_voc20'), 'context59': (448, S, 50, 0, None, 'sclip/cls_context59'),
        'cocostuff171': (448, S, 50, 0, None, 'sclip/cls_coco_stuff'),
        'cityscapes': (448, (224, 224), 50, 0, None, 'sclip/cls_city_scapes'),
        'ade20k': (448, S, 50, 0, None, 'sclip/cls_ade20k')}),
    'naclip': ('naclip', (224, 112), True, ', ', {
        'voc21': (336, W, 40, 0.1, None, 'sclip/cls_voc21'), 'context60': (336, S, 40, 0.1, None, 'sclip/cls_context60'),
        'cocoobject': (336, S, 40, 0.1, None, 'sclip/cls_coco_object'), 'voc20': (336, W, 40, 0, None, 'sclip/cls_voc20'),
        'context59': (336, S, 40, 0, None, 'sclip/cls_context59'),
        'cocostuff171': (336, S, 40, 0, None, 'sclip/cls_coco_stuff'),
        'cityscapes': (560, S, 40, 0, None, 'sclip/cls_city_scapes'), 'ade20k': (336, S, 40, 0, None, 'sclip/cls_ade20k')}),
    'sc-clip': ('sc_clip', (224, 112), False, ', ', {
        'voc21': (336, S, 50, 0.15, 0.1, 'sclip/cls_voc21'),
        'context60': (336, S, 40, 0.15, None, 'sclip/cls_context60'),
        'cocoobject': (336, S, 55, 0.35, None, 'sclip/cls_coco_object'),
        'voc20': (336, S, 40, 0, None, 'sclip/cls_voc20'), 'context59': (336, S, 40, 0, None, 'sclip/cls_context59'),
        'cocostuff171': (336, S, 40, 0, None, 'sclip/cls_coco_stuff'),
        'cityscapes': (560, S, 40, 0, None, 'sclip/cls_city_scapes'), 'ade20k': (336, S, 40, 0, None, 'sclip/cls_ade20k')}),
    'sfp': ('sfp', (224, 112), False, ', ', {
        'voc21': (336, S, 50, 0.15, 0.1, 'sfp/cls_voc21'), 'context60': (336, S, 40, 0.15, None, 'sclip/cls_context60'),
        'cocoobject': (336, S, 55, 0.35, None, 'sclip/cls_coco_object'), 'voc20': (336, S, 40, 0, None, 'sfp/cls_voc20'),
        'context59': (336, S, 40, 0, None, 'sclip/cls_context59'),
        'cocostuff171': (336, S, 40, 0, None, 'sclip/cls_coco_stuff'),
        'cityscapes': (560, S, 40, 0, None, 'sfp/cls_city_scapes'), 'ade20k': (384, S, 40, 0, None, 'sclip/cls_ade20k')}),
    'resclip': ('resclip', (224, 112), False, ', ', {
        'voc21': (336, W, 40, 0.1, None, 'sclip/cls_voc21'), 'context60': (336, S, 40, 0.1, None, 'sclip/cls_context60'),
        'cocoobject': (336, S, 40, 0.1, None, 'sclip/cls_coco_object'), 'voc20': (336, W, 40, 0, None, 'sclip/cls_voc20'),
        'context59': (336, S, 40, 0, None, 'sclip/cls_context59'),
        'cocostuff171': (336, S, 40, 0, None, 'sclip/cls_coco_stuff'),
        'cityscapes': (560, S, 40, 0, None, 'sclip/cls_city_scapes'), 'ade20k': (336, S, 40, 0, None, 'sclip/cls_ade20k')}),
}
# ResCLIP's per-dataset (temp_thd, tau_r, lambda_r, tau_s, lambda_s), docs/training_free.md §2.1
RESCLIP = {'voc21': (0.5, 2.0, 0.3, 2.2, 0.7), 'context60': (0.3, 2.0, 0.3, 1.8, 0.7),
           'cocoobject': (0.11, 2.0, 0.4, 1.8, 0.7), 'voc20': (0.1, 2.0, 0.6, 2.1, 0.6),
           'context59': (0.25, 2.0, 0.4, 1.8, 0.7), 'cocostuff171': (0.11, 2.0, 0.4, 1.8, 0.7),
           'cityscapes': (0.1, 2.0, 0.2, 2.1, 0.6), 'ade20k': (0.25, 2.0, 0.3, 2.1, 0.7)}
DATASET_TYPES = {'voc21': 'PascalVOCDataset', 'context60': 'PascalContextDataset', 'cocoobject': 'COCOObjectDataset',
                 'voc20': 'PascalVOC20Dataset', 'context59': 'PascalContextDataset59', 'cocostuff171': 'COCOStuffDataset',
                 'cityscapes': 'CityscapesDataset', 'ade20k': 'ADE20KDataset'}


def test_every_preset_is_pinned_to_the_doc():
    files = sorted(os.path.basename(f) for f in glob.glob(f'{ROOT}/configs/training_free/authors/*.py'))
    # CLIPer's presets (its own segmentor, text and metric) are pinned in test_cliper_authors.py
    assert [f for f in files if not f.startswith('cliper_')] == sorted(
        f'{m}_vit-b16_{d}.py' for m, (*_, rows) in PRESETS.items() for d in rows)
    for method, (mode, (crop, stride), pamr, sep, rows) in PRESETS.items():
        for d, (size, inference, ls, prob, area, name_file) in rows.items():
            cfg = Config.fromfile(f'{ROOT}/configs/training_free/authors/{method}_vit-b16_{d}.py')
            m, where = cfg.model, (method, d)
            assert m.type == 'AuthorsCLIPSegmentor' and m.backbone.dense_mode == mode, where
            resize = [s for s in cfg.test_dataloader.dataset.pipeline if s.type == 'Resize']
            assert [(r.scale, r.keep_ratio) for r in resize] == [((2048, size), True)], where
            steps = [s.type for s in cfg.test_dataloader.dataset.pipeline]
            assert steps == ['LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackSegInputs'], where
            if inference == W:
                assert m.test_cfg == dict(mode='whole'), where
            else:
                c, s = inference if isinstance(inference, tuple) else (crop, stride)
                assert m.test_cfg == dict(mode='slide', crop_size=(c, c), stride=(s, s)), where
            assert (m.logit_scale, m.prob_thd, m.area_thd) == (ls, prob, area), where
            head = m.decode_head
            assert (head.class_names, head.name_file, head.name_separator) == (d, name_file, sep), where
            assert head.text_encoder.templates == 'imagenet80' and head.text_encoder.words == 'raw', where
            assert head.denoise_threshold == 0.0, where
            assert m.pamr == dict(enabled=pamr, iterations=10, dilations=(8, 16)), where
            assert m.data_preprocessor.test_cfg is None, where  # no padding of the test image
            assert cfg.test_dataloader.dataset.type == DATASET_TYPES[d] and cfg.train_dataloader is None, where
            assert cfg.test_evaluator == dict(type='IoUMetric', iou_metrics=['mIoU']), where
            if mode == 'resclip':
                r = m.backbone.resclip
                assert (r.temp_thd, r.tau_r, r.lambda_r, r.tau_s, r.lambda_s) == RESCLIP[d] and r.base == 'naclip'


def _evaluate(config, data_root, tmp_path, deep=False):
    from mmengine.runner import Runner
    name = 'reclip-tiny-deep' if deep else 'reclip-tiny'
    opts = [f'{w}.{k}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
            for k in (f'model_name={name}', 'pretrained=None')]
    opts += [f'test_dataloader.dataset.data_root={data_root}', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1000']
    cfg = Config.fromfile(f'{ROOT}/{config}')
    cfg.merge_from_dict(options_dict(opts))
    cfg.work_dir = str(tmp_path / os.path.basename(config))
    cfg.log_level = 'WARNING'
    return Runner.from_cfg(cfg).test()


def test_presets_evaluate_end_to_end(tmp_path):
    """SCLIP on VOC21 (slide, 26 background words, area_thd) and NACLIP on VOC21 (whole image, PAMR) through
    MMEngine's Runner on a tiny VOC tree."""
    import logging
    from mmengine.logging import MMLogger
    root = make_voc_tree(str(tmp_path / 'voc'), n_train=1, n_val=2)
    for config in ('configs/training_free/authors/sclip_vit-b16_voc21.py',
                   'configs/training_free/authors/naclip_vit-b16_voc21.py'):
        metrics = _evaluate(config, root, tmp_path)
        assert 0.0 <= metrics['mIoU'] <= 100.0 and np.isfinite(metrics['aAcc']), (config, metrics)
    MMLogger.get_current_instance().setLevel(logging.INFO)


def test_the_releases_position_resize_and_unpadded_patches():
    """The image tower as the six releases feed it (configs/training_free/authors/_base_/authors.py): the
    positional grid resized by the scale factors (g + 0.1) / 14 (written out here with F.interpolate, as the doc
    states it) and no padding to the patch size (the grid of an unpadded input equals that of the input cut to a
    multiple of the patch)."""
    import glob
    import torch.nn.functional as F
    from mmengine.config import Config
    from reclip_mmseg.clip import CLIPViT
    from reclip_mmseg.clip.positions import interpolate_pos_embed
    pos = torch.randn(1 + 14 * 14, 8)
    grid = pos[1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    want = F.interpolate(grid, scale_factor=(21.1 / 14, 28.1 / 14), mode='bicubic', align_corners=False,
                         recompute_scale_factor=False).permute(0, 2, 3, 1).reshape(21 * 28, 8)
    got = interpolate_pos_embed(pos, 21, 28, rule='release_offset')
    assert torch.equal(got[0], pos[0]) and torch.allclose(got[1:], want, atol=1e-6)
    assert not torch.allclose(interpolate_pos_embed(pos, 21, 28)[1:], want, atol=1e-4)  # the size rule differs
    assert torch.equal(interpolate_pos_embed(pos, 14, 14, rule='release_offset'), pos)  # 197 tokens: untouched

    clip = dict(model_name='reclip-tiny', pretrained=None)
    released = CLIPViT(clip=clip, with_global=False, pad_to_patch=False, pos_resize='release_offset').eval()
    plain = CLIPViT(clip=clip, with_global=False, pos_resize='release_offset').eval()
    x = torch.randn(1, 3, 100, 120)
    with torch.no_grad():
        a = released(x).dense
        b = plain(x[..., :96, :112]).dense  # 6 x 7 patches, nothing to pad
        c = plain(x).dense  # padded to 112 x 128: 7 x 8 patches
    assert a.shape[-2:] == (6, 7) and c.shape[-2:] == (7, 8) and torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match='pos_resize'):
        CLIPViT(clip=clip, pos_resize='scale')
    for path in glob.glob(os.path.join(ROOT, 'configs/training_free/authors/*_vit-b16_*.py')):
        if os.path.basename(path).startswith('cliper_'):  # CLIPer's release resizes bilinearly by size
            continue
        backbone = Config.fromfile(path).model.backbone
        assert (backbone.pos_resize, backbone.pad_to_patch) == ('release_offset', False), path
