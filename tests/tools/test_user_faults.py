"""What users trip over (issue 18): each fault injected, each refusal or recovery checked."""
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS

from conftest import ROOT, TINY_CLIP, test_metrics


def _rectify_model(name='reclip-pp_vit-b16_20k_voc20.py'):
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/{name}')
    for w in ('backbone', 'decode_head.text_encoder'):
        cfg.merge_from_dict({f'model.{w}.clip': TINY_CLIP})
    return MODELS.build(cfg.model)


def _load(model, state, tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    torch.save(dict(state_dict=state), path)
    load_checkpoint(model, path, map_location='cpu')


def test_checkpoint_missing_a_trained_tensor_is_refused_naming_it(tmp_path):
    good = _rectify_model().state_dict()
    state = {k: v for k, v in good.items() if k != 'decode_head.bias_projector.proj.weight'}
    with pytest.raises(ValueError, match=r"Missing: \['bias_projector.proj.weight'\].*rectification checkpoint"):
        _load(_rectify_model(), state, tmp_path)
    _load(_rectify_model(), good, tmp_path)  # the complete one loads


def test_checkpoint_of_another_clip_width_is_refused_naming_shapes(tmp_path):
    state = dict(_rectify_model().state_dict())
    state['decode_head.prompt_learner.context'] = torch.zeros(73, 7)
    state['decode_head.bias_projector.proj.weight'] = torch.zeros(512, 768, 1, 1)
    with pytest.raises(ValueError, match=r'Other shapes.*prompt_learner.context: checkpoint \(73, 7\)'):
        _load(_rectify_model(), state, tmp_path)


def test_distillation_checkpoint_given_to_a_rectification_config_is_refused(tmp_path):
    rect = _rectify_model().state_dict()
    state = {k: v for k, v in rect.items() if 'mask_decoder' in k or 'gumbel' in k}
    state['decode_head.aspp.aspp.0.weight'] = torch.zeros(4, 4, 3, 3)
    state['backbone.conv1.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match='looks like a distillation'):
        _load(_rectify_model(), state, tmp_path)


def test_hypotheses_that_are_all_empty_stop_with_how_to_regenerate(tmp_path):
    from conftest import write_hypotheses
    from reclip_mmseg.datasets import read_hypothesis_file
    path = write_hypotheses(str(tmp_path / 'h.json'), ['a.jpg', 'b.jpg'], [[], []], ['cat', 'dog'])
    with pytest.raises(ValueError, match='all 2 images have an empty hypothesis.*gen_hypotheses'):
        read_hypothesis_file(path)
    path = write_hypotheses(str(tmp_path / 'ok.json'), ['a.jpg', 'b.jpg'], [[], [1]], ['cat', 'dog'])
    assert read_hypothesis_file(path)['labels']['b.jpg'] == [1]  # some empty ones are fine


def test_eval_caches_keep_only_the_most_recent_grids():
    from mmseg.structures import SegDataSample
    from reclip_mmseg.utils.lru import GridCache
    cache = GridCache(max_entries=2)
    made = []
    for key in ('a', 'b', 'a', 'c', 'a'):
        cache.get(key, lambda k=key: made.append(k) or k)
    assert made == ['a', 'b', 'c'] and 'b' not in cache and len(cache) == 2  # 'a' was used last, 'b' evicted
    model = _rectify_model().eval()
    with torch.no_grad():
        for size in range(32, 32 + 16 * 11, 16):  # 11 grid sizes
            s = SegDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size), ori_shape=(size, size)))
            model.predict(torch.randn(1, 3, size, size), [s])
    assert len(model.decode_head._bias_cache) == 8 and len(model.backbone._pos_cache) == 8


def test_every_shipped_config_has_a_tta_pipeline_around_its_test_scale():
    """`tools/test.py --tta` needs `tta_pipeline` (it crashed on every config before); ratio 1.0 is the test scale."""
    import glob
    files = sorted(glob.glob(f'{ROOT}/configs/*/*.py'))
    assert len(files) > 80
    for f in files:
        cfg = Config.fromfile(f)
        if not cfg.get('test_dataloader'):
            continue
        test_resize = [s for s in cfg.test_dataloader.dataset.pipeline if s.type == 'Resize'][0]
        aug = cfg.tta_pipeline[1]
        assert aug.type == 'TestTimeAug', f
        assert tuple(aug.transforms[0][2].scale) == tuple(test_resize.scale), f
        assert [t.prob for t in aug.transforms[1]] == [0.0, 1.0], f


def test_tools_test_tta_runs(voc_root, tmp_path):
    from conftest import run_tool, tiny_options
    opts = [o for o in tiny_options(voc_root) if not o.startswith(('train', 'param_scheduler', 'default_hooks'))]
    run_tool('tools/test.py', 'configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py', '--tta', '--work-dir', str(tmp_path),
                    '--cfg-options', *opts)
    test_metrics(tmp_path)


def test_tools_test_show_dir_needs_only_the_test_data(voc_root, tmp_path):
    """The train data_root stays the config's (absent) one: only the test set exists."""
    import glob
    from conftest import run_tool
    ckpt = str(tmp_path / 'rect.pth')
    torch.save(dict(state_dict=_rectify_model().state_dict()), ckpt)
    opts = [f'{w}.{k}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
            for k in ('model_name=reclip-tiny', 'pretrained=None')]
    opts += [f'test_dataloader.dataset.data_root={voc_root}', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False']
    run_tool('tools/test.py', 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', ckpt, '--work-dir', str(tmp_path / 'wd'),
             '--show-dir', 'vis', '--cfg-options', *opts)
    assert len(glob.glob(str(tmp_path / 'wd' / 'vis' / 'vis_data' / 'vis_image' / '*.png'))) == 3


def test_label_values_outside_the_classes_are_named_once(tmp_path):
    import logging
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner
    from PIL import Image
    from conftest import options_dict, tiny_options
    from synthetic import make_voc_tree
    root = make_voc_tree(str(tmp_path / 'data'), n_train=1, n_val=2)
    label_file = os.path.join(root, 'SegmentationClass', '2007_val000.png')
    label = Image.open(label_file)
    pixels = np.array(label)
    pixels[:4, :4] = 25  # VOC has classes 1..20 (and 0, 255): 25 -> index 24 after the VOC-20 shift
    out = Image.fromarray(pixels, mode='P')
    out.putpalette(label.getpalette())
    out.save(label_file)
    opts = [o for o in tiny_options(root) if not o.startswith(('train', 'param_scheduler', 'default_hooks'))]
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py')
    cfg.merge_from_dict(options_dict(opts))
    cfg.work_dir = str(tmp_path / 'wd')
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    runner = Runner.from_cfg(cfg)
    MMLogger.get_current_instance().addHandler(handler)
    try:
        runner.test()
    finally:
        MMLogger.get_current_instance().removeHandler(handler)
    warned = [m for m in messages if 'outside the 20 classes' in m]
    assert len(warned) == 1 and '2007_val000.png' in warned[0] and '[24]' in warned[0]


def _image(path, size, mode='RGB'):
    from PIL import Image
    Image.new(mode, size).save(path)


def test_empty_one_pixel_and_mismatched_files_are_named_before_anything_runs(tmp_path):
    """Issue 18.17: a zero-byte image, a 1x1 and a 50x1 image (with labels of their size) and a label of another
    size than its image stopped deep inside MMCV/MMSeg (cv2 '!buf.empty()', numpy 'does not support item
    assignment', PixelData 'dim must be 2 or 3', IoUMetric IndexError) without a file name. Now every one of
    them is listed before the first iteration; 2-px sides, which MMSeg handles, pass."""
    from mmengine.runner import Runner
    from conftest import options_dict, tiny_options
    from synthetic import make_voc_tree
    root = make_voc_tree(str(tmp_path / 'data'), n_train=1, n_val=6)
    img = lambda n: os.path.join(root, 'JPEGImages', f'2007_val00{n}.jpg')  # noqa: E731
    lab = lambda n: os.path.join(root, 'SegmentationClass', f'2007_val00{n}.png')  # noqa: E731
    open(img(0), 'wb').close()
    _image(img(1), (1, 1)), _image(lab(1), (1, 1), 'P')
    _image(img(2), (50, 1)), _image(lab(2), (50, 1), 'P')
    _image(img(3), (30, 20))  # its label stays 80x64
    _image(img(4), (2, 50)), _image(lab(4), (2, 50), 'P')  # thin but usable
    expected = {f'{img(0)} is empty (0 bytes)',
                f'{img(1)} is 1x1 px: each side must be at least 2 px',
                f'{lab(1)} is 1x1 px: each side must be at least 2 px',
                f'{img(2)} is 50x1 px: each side must be at least 2 px',
                f'{lab(2)} is 50x1 px: each side must be at least 2 px',
                f'{lab(3)} is 80x64 px but its image {img(3)} is 30x20'}
    opts = [o for o in tiny_options(root) if not o.startswith(('train', 'param_scheduler', 'default_hooks'))]
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py')
    cfg.merge_from_dict(options_dict(opts))
    cfg.work_dir = str(tmp_path / 'wd')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.test()
    message = str(err.value)
    listed = {line.strip() for line in message.splitlines()[1:-1]}
    assert listed == expected, message
    assert message.startswith('6 unusable file(s) in the test_dataloader dataset (PascalVOC20Dataset')
    # once the faulty files are replaced, the same run goes through (2-px sides included)
    for n in (0, 1, 2, 3):
        _image(img(n), (80, 64)), _image(lab(n), (80, 64), 'P')
    cfg.work_dir = str(tmp_path / 'wd2')
    metrics = Runner.from_cfg(cfg).test()
    assert 'mIoU' in metrics


def test_image_tools_name_an_empty_image_at_once(tmp_path):
    from conftest import run_tool
    empty = str(tmp_path / 'empty.jpg')
    open(empty, 'wb').close()
    for tool in (['tools/image_demo.py', empty, 'configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py'],
                 ['tools/visualize_bias.py', empty, 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', 'none.pth']):
        proc = run_tool(*tool, '--out', str(tmp_path / 'out.png'), check=False)
        assert proc.returncode != 0 and f'image {empty} is empty (0 bytes)' in proc.stderr, proc.stderr[-2000:]
        assert 'Traceback' not in proc.stderr and not os.path.exists(tmp_path / 'out.png')


def test_tools_add_the_image_file_check_to_hand_written_configs():
    from reclip_mmseg.engine.launch import ensure_data_checks
    cfg = Config(dict(custom_hooks=[dict(type='CheckImageFilesHook', min_side=4)]))
    ensure_data_checks(cfg)
    assert cfg.custom_hooks == [dict(type='CheckImageFilesHook', min_side=4),
                                dict(type='mmseg.CheckClassNamesHook')]  # a configured one is kept, not doubled
    cfg = Config(dict())
    ensure_data_checks(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == ['mmseg.CheckClassNamesHook', 'mmseg.CheckImageFilesHook']
