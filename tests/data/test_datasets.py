"""The five benchmark protocols on synthetic trees in the official layouts (issue 5)."""

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS
from PIL import Image

from conftest import ROOT, TINY_CLIP, run_tool
from reclip_mmseg.clip import VOCABULARIES
from synthetic import make_ade_tree, make_cityscapes_tree, make_coco_stuff_tree, make_context_tree


def build(config_name, data_root, loader='val_dataloader'):
    cfg = Config.fromfile(f'{ROOT}/configs/_base_/datasets/{config_name}.py')
    ds_cfg = cfg[loader].dataset
    ds_cfg.data_root = data_root
    return DATASETS.build(ds_cfg), cfg


def test_voc20_counts_ignore_and_known_pixel(voc_root):
    dataset, cfg = build('voc20', voc_root)
    assert len(dataset) == 3 and dataset.metainfo['classes'] == VOCABULARIES['voc20']
    assert len(dataset.metainfo['classes']) == 20
    train, _ = build('voc20', voc_root, 'train_dataloader')
    assert len(train) == 4
    sample = dataset[0]
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    raw = np.array(Image.open(dataset.get_data_info(0)['seg_map_path']))
    # the test pipeline resizes the short side to 336 (nearest for labels): compare where classes are defined
    raw = np.array(Image.fromarray(raw).resize(gt.shape[::-1], Image.NEAREST))
    assert (gt[raw == 0] == 255).all()  # background ignored
    assert (gt[raw == 255] == 255).all()  # boundary ignored
    obj = raw[(raw > 0) & (raw < 255)]
    assert obj.size and (gt[(raw > 0) & (raw < 255)] == obj - 1).all()  # VOC class k -> index k-1


@pytest.mark.parametrize('name,maker,n_classes,known', [
    ('context59', make_context_tree, 59, 4),  # raw 5 -> 4 (background 0 ignored)
    ('ade20k', make_ade_tree, 150, 4),  # raw 5 -> 4 (0 = other, ignored)
    ('cityscapes', make_cityscapes_tree, 19, 5),  # train ids as they are
])
def test_mmseg_protocols_counts_ignore_and_known_pixel(tmp_path, name, maker, n_classes, known):
    root = maker(str(tmp_path))
    dataset, cfg = build(name, root)
    train, _ = build(name, root, 'train_dataloader')
    assert (len(train), len(dataset)) == (3, 2)
    assert len(dataset.metainfo['classes']) == n_classes
    assert tuple(dataset.metainfo['classes']) == VOCABULARIES[cfg.vocabulary]
    sample = dataset.pipeline(dict(dataset.get_data_info(0)))  # at the test scale
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    h, w = gt.shape
    assert gt[h // 8, w // 8] == known
    if name != 'cityscapes':
        assert gt[h * 3 // 4 - 2, w * 3 // 4] == 255  # background / other ignored
    assert (gt[-1] == 255).all()


def test_coco_stuff27_converter_against_independent_table(tmp_path):
    # independent table: COCO category (id - 1 as stored in stuffthingmaps) -> coarse class, by hand
    by_hand = {0: 'person', 2: 'vehicle', 91: 'textile', 156: 'sky', 168: 'plant', 148: 'ground', 11: None,
               181: 'solid', 46: 'kitchen', 62: 'furniture-things', 97: 'furniture-stuff', 120: 'food-stuff'}
    raw = tuple(by_hand)
    root = make_coco_stuff_tree(str(tmp_path), raw_values=raw[:4])
    run_tool('tools/convert_coco_stuff27.py', root)
    out = f'{root}/annotations27/val2017/000000000000_labelTrainIds27.png'
    label = np.array(Image.open(out))
    classes = VOCABULARIES['cocostuff27']
    for j, v in enumerate(raw[:4]):
        assert (label[:47, j * 16:(j + 1) * 16] == classes.index(by_hand[v])).all(), v
    assert (label[47] == 255).all()
    from reclip_mmseg.datasets import stuffthingmap_lut
    lut = stuffthingmap_lut()
    for v, coarse in by_hand.items():
        assert lut[v] == (255 if coarse is None else classes.index(coarse)), v
    assert (lut < 255).sum() == 171 and len(set(lut[lut < 255])) == 27
    dataset, _ = build('cocostuff27', root)
    assert len(dataset) == 2 and len(dataset.metainfo['classes']) == 27
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    assert gt[0, 0] == classes.index('person') and (gt[-1] == 255).all()


# The 80 COCO thing category ids (the 2017 release's instances_*.json), written out: raw label value = id - 1.
COCO_THING_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32,
                  33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
                  60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90)


def test_coco_object_converter_maps_things_to_1_80_and_stuff_and_unlabeled_to_background(tmp_path):
    """COCO-Object as the field builds it from COCO-Stuff's raw maps: a map holding every range (things, the unused
    thing values, the value 90 no category has, stuff 91..181, unlabeled 255) converted by the tool, compared with
    a table made from the official thing ids; then read by the dataset through MMSeg's pipeline."""
    assert len(COCO_THING_IDS) == 80
    raw = np.array(list(range(0, 182)) + [255] * 14, dtype=np.uint8).reshape(14, 14)  # every value 0..181 and 255
    root = tmp_path / 'coco_stuff164k'
    (root / 'annotations' / 'val2017').mkdir(parents=True)
    (root / 'images' / 'val2017').mkdir(parents=True)
    Image.fromarray(raw).save(root / 'annotations' / 'val2017' / '000000000007.png')
    Image.fromarray(np.full((14, 14), 3, np.uint8)).save(root / 'annotations' / 'val2017' / '000000000007_labelTrainIds.png')
    Image.fromarray(np.zeros((14, 14, 3), np.uint8)).save(root / 'images' / 'val2017' / '000000000007.jpg')
    run_tool('tools/convert_coco_object.py', str(root))
    out = np.array(Image.open(root / 'annotations' / 'val2017' / '000000000007_instanceTrainIds.png'))
    expected = np.zeros_like(raw)
    for index, cat_id in enumerate(COCO_THING_IDS, start=1):
        expected[raw == cat_id - 1] = index
    np.testing.assert_array_equal(out, expected)
    assert (out[raw == 255] == 0).all() and (out[raw >= 91] == 0).all() and (out[raw == 11] == 0).all()
    assert sorted(set(out.ravel().tolist())) == list(range(81))  # every class once, no ignore value
    assert not (root / 'annotations' / 'val2017' / '000000000007_labelTrainIds_instanceTrainIds.png').exists()
    classes = VOCABULARIES['cocoobject']
    assert len(classes) == 81 and classes[0] == 'background'
    for cat_id, name in ((1, 'person'), (13, 'stop sign'), (27, 'backpack'), (67, 'dining table'), (90, 'toothbrush')):
        assert classes[COCO_THING_IDS.index(cat_id) + 1] == name
    cfg = Config.fromfile(f'{ROOT}/configs/training_free/_base_/cocoobject.py')
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.data_root = str(root)
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 1 and tuple(dataset.metainfo['classes']) == classes
    gt = dataset[0]['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt, expected)  # background 0 is a scored class: nothing becomes 255


def test_class_list_and_vocabulary_disagreeing_fails_before_running(voc_root, tmp_path):
    from mmengine.runner import Runner
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py')
    cfg.model.backbone.clip = TINY_CLIP
    cfg.model.decode_head.text_encoder.clip = TINY_CLIP
    cfg.model.decode_head.class_names = 'cityscapes'
    cfg.test_dataloader.dataset.data_root = voc_root
    cfg.val_dataloader.dataset.data_root = voc_root
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='disagree') as err:
        runner.test()
    assert 'road' in str(err.value) and 'aeroplane' in str(err.value)


HAND_WRITTEN = '''
# Written by hand: no project base config, so no CheckClassNamesHook in it.
default_scope = 'mmseg'
custom_imports = dict(imports=['reclip_mmseg'], allow_failed_imports=False)
clip = dict(model_name='reclip-tiny', pretrained=None)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.0, 117.0, 104.0], std=[68.0, 67.0, 70.0],
                           bgr_to_rgb=True, size_divisor=16, test_cfg=dict(size_divisor=16)),
    backbone=dict(type='CLIPViT', clip=clip),
    decode_head=dict(type='MaskCLIPHead', class_names='cityscapes', text_encoder=dict(type='OpenCLIPTextEncoder', clip=clip)))
test_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(type='PascalVOC20Dataset', data_root='{root}',
                                    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                                    ann_file='ImageSets/Segmentation/val.txt',
                                    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                                              dict(type='PackSegInputs')]))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
'''


def test_hand_written_config_gets_the_class_name_check_from_the_tools(voc_root, tmp_path):
    config = tmp_path / 'hand_written.py'
    config.write_text(HAND_WRITTEN.replace('{root}', voc_root))
    proc = run_tool('tools/test.py', str(config), '--work-dir', str(tmp_path / 'work'), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and 'disagree' in out and 'road' in out and 'aeroplane' in out, out[-3000:]
    assert 'mIoU:' not in out
