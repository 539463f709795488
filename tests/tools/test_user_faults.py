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


def test_damaged_but_loadable_query_cache_is_detected_and_rebuilt(tmp_path):
    from reclip_mmseg.clip import OpenCLIPTextEncoder
    enc = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
    good = enc.class_embeddings(['cat', 'dog'], progress=False)
    path = next((tmp_path / 'text_embeds').glob('*.pth'))
    for damage in (lambda e: e.fill_(float('nan')), lambda e: e.mul_(1.01), lambda e: e[:, :3].zero_()):
        data = torch.load(path, weights_only=True)
        damage(data['embeds'])
        torch.save(data, path)  # overwritten data, still a loadable file
        fresh = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
        with pytest.warns(UserWarning, match='damaged'):
            again = fresh.class_embeddings(['cat', 'dog'], progress=False)
        torch.testing.assert_close(again, good)
        assert torch.equal(torch.load(path, weights_only=True)['embeds'], good)  # the rebuilt copy replaced it


def test_read_only_cache_directory_warns_and_goes_on(tmp_path):
    from reclip_mmseg.clip import OpenCLIPTextEncoder
    if os.geteuid() == 0:  # root ignores permission bits: make the cache folder a file instead
        blocked = tmp_path / 'blocked'
        blocked.write_text('a file where the cache folder should be')
        cache = blocked
    else:
        cache = tmp_path / 'ro'
        cache.mkdir(mode=0o500)
    enc = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(cache))
    with pytest.warns(UserWarning, match='could not be written'):
        emb = enc.class_embeddings(['cat', 'dog'], progress=False)
    assert emb.shape[0] == 2 and torch.isfinite(emb).all()


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


def test_cache_files_follow_the_umask_not_0600(tmp_path):
    from reclip_mmseg.utils import atomic_save
    old = os.umask(0o022)
    try:
        atomic_save({'a': 1}, str(tmp_path / 'x.pth'))
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / 'x.pth').st_mode & 0o777) == 0o644


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


def test_divergence_stops_and_a_blown_up_checkpoint_is_never_named_good(tmp_path):
    from types import SimpleNamespace
    from reclip_mmseg.engine.hooks import CheckFiniteLossHook
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(0.5)
    runner = SimpleNamespace(model=model, iter=0, work_dir=str(tmp_path))
    hook = CheckFiniteLossHook(divergence_factor=1e3)
    hook.before_train(runner)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'iter_2.pth')  # sane
    blown = {k: v * 1e27 for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=blown), tmp_path / 'iter_4.pth')  # finite, but 1e27 times larger
    (tmp_path / 'iter_6.pth').write_bytes(b'truncated')  # unreadable
    for i, loss in enumerate([3.0, 2.9, 3.1, 3.0, 2.8]):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs=dict(loss=torch.tensor(loss)))
    runner.iter = 5
    with pytest.raises(FloatingPointError, match=r'diverging loss at iteration 6: 3e\+04.*iter_2\.pth'):
        hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(3e4)))
    with pytest.raises(FloatingPointError, match='non-finite loss at iteration 6.*iter_2.pth'):
        hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(float('nan'))))
    hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(30.0)))  # 10x the median: not divergence
    quiet = CheckFiniteLossHook(divergence_factor=None)
    quiet.before_train(runner)
    quiet._recent = [3.0] * 10
    quiet.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(3e9)))  # switched off: no stop
    (tmp_path / 'iter_2.pth').unlink()
    with pytest.raises(FloatingPointError, match='no good checkpoint was saved before it'):
        hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(float('inf'))))


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
