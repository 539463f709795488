"""The MMSeg command line end to end on CPU: train, resume, test, hypotheses (issues 2, 3, 4)."""
import glob
import json
import os
import shutil
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from conftest import DETERMINISTIC_ENV, ROOT, options_dict, run_tool, test_metrics, tiny_options

RECTIFY = 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.mark.slow  # ~25 s; the kill -9 test (tests/tools/test_reliability.py) resumes to the same parameters in CI
def test_resume_ends_with_exactly_the_parameters_of_an_uninterrupted_run(voc_root, voc_hypotheses, tmp_path):
    whole, parts = str(tmp_path / 'whole'), str(tmp_path / 'parts')
    run_tool('tools/train.py', RECTIFY, '--work-dir', whole, '--cfg-options',
             *tiny_options(voc_root, voc_hypotheses, iters=4, interval=2), env=DETERMINISTIC_ENV)
    # "interrupted" after iteration 2: its checkpoint is all such a run leaves (a real kill: test_reliability.py)
    os.makedirs(parts)
    shutil.copy(os.path.join(whole, 'iter_2.pth'), parts)
    with open(os.path.join(parts, 'last_checkpoint'), 'w') as f:
        f.write(os.path.join(parts, 'iter_2.pth'))
    out = run_tool('tools/train.py', RECTIFY, '--work-dir', parts, '--resume', '--cfg-options',
                   *tiny_options(voc_root, voc_hypotheses, iters=4, interval=2), env=DETERMINISTIC_ENV)
    assert 'resumed' in (out.stdout + out.stderr).lower()
    a, b = _state(f'{whole}/iter_4.pth'), _state(f'{parts}/iter_4.pth')
    assert set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    mid = _state(f'{whole}/iter_2.pth')
    assert not torch.equal(mid['decode_head.prompt_learner.context'], a['decode_head.prompt_learner.context'])
    # a checkpoint holds what was trained, never the frozen CLIP
    assert not any('clip' in k for k in a) and os.path.getsize(f'{whole}/iter_4.pth') < 2e6


def test_trained_checkpoint_reproduces_predictions_through_tools_test(voc_root, voc_hypotheses, tmp_path):
    from mmengine.runner import Runner
    cfg = Config.fromfile(os.path.join(ROOT, RECTIFY))
    cfg.merge_from_dict(options_dict(tiny_options(voc_root, voc_hypotheses, iters=2, interval=2)))
    cfg.work_dir = str(tmp_path / 'train')
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model.eval()
    expected = {}
    for batch in runner.test_dataloader:
        with torch.no_grad():
            for sample in model.test_step(batch):
                expected[os.path.basename(sample.img_path)] = sample.pred_sem_seg.data[0].numpy()
    out_dir = str(tmp_path / 'pred')
    run_tool('tools/test.py', RECTIFY, str(tmp_path / 'train' / 'iter_2.pth'), '--out', out_dir,
                    '--work-dir', str(tmp_path / 'test'), '--cfg-options', *tiny_options(voc_root))
    test_metrics(tmp_path / 'test')
    assert len(expected) == 3
    for name, pred in expected.items():
        saved = np.array(Image.open(os.path.join(out_dir, name.replace('.jpg', '.png'))))
        # IoUMetric writes labels + 1 for reduce_zero_label datasets (background slot) - undo that
        saved = saved.astype(np.int64) - 1
        assert np.array_equal(saved, pred), name


def test_maskclip_config_runs_tools_test(voc_root, tmp_path):
    opts = [o for o in tiny_options(voc_root) if not o.startswith(('train', 'param_scheduler', 'default_hooks'))]
    curve = str(tmp_path / 'curve.json')
    run_tool('tools/test.py', 'configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py', '--work-dir', str(tmp_path), '--bias-metric', curve,
                    '--out', str(tmp_path / 'pred'), '--cfg-options', *opts)
    metrics = test_metrics(tmp_path)
    assert 'bias/class_pref_score' in metrics and 'bias/space_pref_slope' in metrics
    assert 'counts' in json.load(open(curve)) and len(glob.glob(str(tmp_path / 'pred' / '*.png'))) == 3


def test_gen_hypotheses_tool_writes_file_keyed_by_name(voc_root, tmp_path):
    out = str(tmp_path / 'hyp.json')
    run_tool('tools/gen_hypotheses.py', RECTIFY, '--out', out, '--cfg-options', *tiny_options(voc_root),
             'hypotheses.window_size=32', 'hypotheses.window_stride=16')
    data = json.load(open(out))
    names = [n.strip() + '.jpg' for n in open(os.path.join(voc_root, 'ImageSets/Segmentation/train.txt'))]
    assert data['complete'] and sorted(data['labels']) == sorted(names)
    assert all(isinstance(v, list) and all(0 <= c < 20 for c in v) and v for v in data['labels'].values())


def test_tensorboard_backend_switchable_from_the_command_line(voc_root, voc_hypotheses, tmp_path):
    run_tool('tools/train.py', RECTIFY, '--work-dir', str(tmp_path), '--cfg-options',
             *tiny_options(voc_root, voc_hypotheses, iters=2, interval=2),
             'visualizer.vis_backends.0.type=TensorboardVisBackend')
    assert glob.glob(str(tmp_path / '*' / 'vis_data' / 'events.out.tfevents.*'))


def test_benchmark_tool_reports_every_mode_with_same_run_baselines(tmp_path):
    """tools/benchmark.py on the tiny CLIP: every mode runs and writes its ratios against baselines measured in
    the same run; the batched hypothesis votes equal the one-window loop's."""
    out = str(tmp_path / 'bench.json')
    run_tool('tools/benchmark.py', 'configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py', '--mode', 'all', '--device', 'cpu',
             '--num-classes', '27', '--batch', '2', '--size', '64', '--repeats', '1', '--warmup', '0',
             '--hyp-batch', '16', '--out', out, '--cfg-options', 'model_name=reclip-tiny', 'pretrained=None',
             timeout=600)
    r = json.load(open(out))
    model = r['inference']
    # a 375x500 original at COCO-Stuff's test scale (short side 512), padded to /16
    assert model['original_image'] == [375, 500] and model['test_input'] == [512, 688]
    assert set(model['inference_ratio_vs_floor']) == {'rectified_logits', 'maskclip_logits', 'rectified', 'maskclip'}
    assert all(v > 0 for v in model['inference_ratio_vs_floor'].values())
    assert r['train']['train_s_per_iter'] > 0 and r['train']['peak_memory_mb'] > 0
    hyp = r['hypotheses']
    assert hyp['identical_votes'] and hyp['windows_per_image'] == 16 * 12  # 56 px windows, stride 28, 500x375, release enumeration
    assert r['query']['classes'] == 27 and r['query']['prompts'] == 27 * 85 and r['query']['speedup'] > 0
    assert r['prompt']['classes'] == 27 and r['prompt']['speedup'] > 0
    dense = r['dense']['ratio_vs_maskclip']
    assert set(dense) == {f'{m}/{k}' for m in ('maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip', 'cliper')
                          for k in ('whole', 'slide')}
    assert dense['maskclip/whole'] == 1.0 and all(v > 0 for v in dense.values())
    # the tiny CLIP has 2 blocks: not ViT-B's 12 (sc_clip, sfp, resclip), fewer than GEM's 6 + 1
    assert set(r['dense']['skipped']) == {'sc_clip', 'sfp', 'resclip', 'gem'}
    post = r['postprocess']  # MMSeg's all-classes post-processing vs the class-chunked label maps
    assert post['identical_labels'] and post['memory_C847']['identical_labels']
    assert set(post['ratio_vs_floor']) == {'logits', 'mmseg_postprocess', 'class_chunked'}
    peak = post['memory_C847']['extra_peak_mb']  # 847 x 512 x 683 floats at the original alone are 1.1 GB
    assert peak['mmseg_postprocess'] > 1000 and peak['class_chunked'] < peak['mmseg_postprocess'] / 3, peak


def test_benchmark_hypotheses_scale_mode_times_both_paths_against_the_floor_and_projects_coco(tmp_path):
    """tools/benchmark.py --mode hypotheses_scale on the tiny CLIP (the ranks comparison left out here: the torchrun
    test of tests/data/test_hypothesis_run.py checks 2 ranks): both paths against the per-window floor, the same
    labels, and the COCO-Stuff-164k projection at the config's 85 px windows."""
    out = str(tmp_path / 'bench.json')
    run_tool('tools/benchmark.py', 'configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py', '--mode', 'hypotheses_scale',
             '--device', 'cpu', '--num-classes', '27', '--hyp-images', '2', '--hyp-batch', '16', '--hyp-workers', '1',
             '--hyp-ranks', '0', '--repeats', '1', '--warmup', '0', '--out', out,
             '--cfg-options', 'model_name=reclip-tiny', 'pretrained=None')
    r = json.load(open(out))['hypotheses_scale']
    assert r['identical_labels'] and (r['window'], r['stride'], r['windows_per_image']) == (85, 42, 70)
    assert all(r[k] > 0 for k in ('floor_s_per_window', 'serial_ratio_vs_floor', 'loader_ratio_vs_floor',
                                  'loader_speedup_vs_serial', 'worker_s_per_image'))
    p = r['projection']
    assert p['windows_per_image'] == 140 and p['windows'] == 118_287 * 140  # 480x640, release enumeration
    assert p['hours_eight_devices'] == pytest.approx(p['hours_one_device'] / 8)


def test_benchmark_distill_mode_runs_the_teacher_once_against_its_floor(tmp_path):
    """tools/benchmark.py --mode distill on the tiny CLIP and a ResNet-18 student: one teacher ViT pass per
    iteration (counted), the iteration and the teacher's one- vs two-pass share timed against same-run floors."""
    out = str(tmp_path / 'bench.json')
    run_tool('tools/benchmark.py', 'configs/reclip_pp/reclip-pp-distill_r101_20k_voc20.py', '--mode', 'distill', '--device', 'cpu',
             '--batch', '1', '--size', '64', '--repeats', '1', '--warmup', '0', '--student-depth', '18', '--out', out,
             '--cfg-options', 'model_name=reclip-tiny', 'pretrained=None')
    r = json.load(open(out))['distill']
    assert r['teacher_backbone_calls_per_iteration'] == 1 and r['student_depth'] == 18
    assert all(r[k] > 0 for k in ('train_ratio_vs_floor', 'teacher_speedup', 'floor_s', 'feature_loss_s',
                                  'feature_loss_interpolate_s', 'feature_loss_speedup', 'peak_memory_mb'))
    assert r['feature_loss_impl'] == 'separable'  # the config default is what the iteration is timed with


def test_benchmark_tagclip_mode_measures_against_the_forward_backward_floor_and_checkpointing(tmp_path):
    """tools/benchmark.py --mode tagclip on the 12-block tiny CLIP: the iteration against the no-grad forward and
    against the real floor (forward + backward of the tower to the prompts), and activation checkpointing's time and
    kept-for-backward memory beside the plain run."""
    out = str(tmp_path / 'bench.json')
    run_tool('tools/benchmark.py', 'configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py', '--mode', 'tagclip',
             '--device', 'cpu', '--batch', '1', '--size', '64', '--repeats', '2', '--warmup', '0', '--out', out,
             '--cfg-options', 'model_name=reclip-tiny-deep', 'pretrained=None')
    r = json.load(open(out))['tagclip']
    assert all(r[k] > 0 for k in ('train_ratio_vs_floor', 'train_ratio_vs_forward_backward_floor',
                                  'checkpointing_time_ratio', 'backbone_forward_backward_s'))
    assert 0 < r['backbone_saved_for_backward_checkpointed_mb'] < r['backbone_saved_for_backward_mb']


def test_api_reference_is_generated_from_the_code_and_up_to_date():
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    import gen_api_reference
    text = gen_api_reference.render()
    with open(os.path.join(ROOT, 'docs', 'api.md')) as f:
        assert f.read() == text, 'docs/api.md is out of date: run python tools/gen_api_reference.py'
    for _, registry, _ in gen_api_reference.REGISTRIES:
        for name, obj in gen_api_reference.plugin_entries(registry):
            assert f'### `{name}`' in text and obj.__doc__, name
    assert "| `unseen_idx` | `()` |" in text and "dict(type='VPTCLIPViT')" in text


def test_your_own_dataset_example_runs_on_a_camvid_layout(tmp_path):
    """docs/usage.md, "Your own dataset": the CamVid example, void (11) ignored, classes checked against the head."""
    import numpy as np
    from PIL import Image
    root = tmp_path / 'CamVid'
    for d in ('test', 'testannot'):
        (root / d).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(root / 'test' / f'0001TP_{i}.png')
        label = np.full((48, 64), 11, dtype=np.uint8)
        label[:24] = 0
        label[24:, :32] = 3
        Image.fromarray(label).save(root / 'testannot' / f'0001TP_{i}.png')
    opts = ['model.backbone.clip.model_name=reclip-tiny', 'model.backbone.clip.pretrained=None',
            'model.decode_head.text_encoder.clip.model_name=reclip-tiny',
            'model.decode_head.text_encoder.clip.pretrained=None', f'test_dataloader.dataset.data_root={root}',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    proc = run_tool('tools/test.py', 'examples/camvid/maskclip_camvid.py', '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options', *opts, env=dict(PYTHONPATH=os.path.join(ROOT, 'examples', 'camvid')))
    out = proc.stdout + proc.stderr
    assert 'mIoU:' in out and 'sign symbol' in out
    assert 'outside the' not in out  # void became 255 (ignored), not an out-of-range value (CheckLabelValuesHook)
