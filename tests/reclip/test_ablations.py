"""Every ablation of the paper as a config (docs/reclip_pp.md §13, issue 14, item 3): each builds and runs one training iteration
through MMEngine's train_step on the tiny CLIP, changes the one fact its row names, and configs/reclip_pp/README.md lists it."""
import copy
import glob
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmseg.registry import MODELS
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from conftest import ROOT, TINY_CLIP, options_dict

ABLATIONS = sorted(os.path.relpath(p, ROOT) for p in glob.glob(f'{ROOT}/configs/reclip_pp/ablations/*.py'))
TINY = {f'{w}.{k}': v for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
        for k, v in TINY_CLIP.items()}
STUDENT = ['model.backbone.depth=18', 'model.backbone.init_cfg=None', 'model.decode_head.in_channels=512',
           'model.decode_head.channels=64']


@pytest.fixture(scope='module')
def teacher_checkpoints(tmp_path_factory):
    """Tiny rectification checkpoints (VOC and Context classes) after one SGD step, for the distillation rows."""
    paths = {}
    from conftest import SCHEDULE
    for ds in ('voc20', 'context59'):
        cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_{SCHEDULE[ds]}_{ds}.py')
        cfg.merge_from_dict(TINY)
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        one_training_iteration(model)
        paths[ds] = str(tmp_path_factory.mktemp('rect') / f'{ds}.pth')
        torch.save(dict(state_dict=model.state_dict(), meta=dict()), paths[ds])
    return paths


def one_training_iteration(model, size=64):
    """MMEngine's train_step on two uint8 crops (data preprocessor, loss, backward, SGD step)."""
    model.train()
    n = model.decode_head.num_classes
    samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, n, (1, size, size))),
                             metainfo=dict(image_level_labels=[b, n - 1], img_shape=(size, size),
                                           pad_shape=(size, size), ori_shape=(size, size))) for b in range(2)]
    data = dict(inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(2)],
                data_samples=samples)
    optim = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01))
    before = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
    losses = model.train_step(data, optim)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    return before, losses


def build(config, teacher_checkpoints):
    cfg = Config.fromfile(f'{ROOT}/{config}')
    if cfg.model.type == 'ReCLIPDistiller':
        ds = os.path.basename(config)[:-3].split('_')[-1]  # {row}_{backbone}_{schedule}_{dataset}
        opts = STUDENT + [f'model.teacher.checkpoint={teacher_checkpoints[ds]}']
        opts += ['model.teacher.clip.model_name=reclip-tiny', 'model.teacher.clip.pretrained=None']
        cfg.merge_from_dict(options_dict(opts))
    else:
        cfg.merge_from_dict(TINY)
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model)


def test_every_table_row_has_a_config():
    names = {os.path.basename(p)[:-3] for p in ABLATIONS}
    from conftest import SCHEDULE
    for ds in ('voc20', 'context59'):
        for row in ('t3_reclip', 't3_reclip_decoder', 't3_reclip_decoder_windows', 't3_reclip_pp',
                    't4_learnable_query', 't5_bias_added', 't6_finetune_clip_image_encoder', 'fig3_no_crop'):
            assert f'{row.replace("_", "-")}_vit-b16_{SCHEDULE[ds]}_{ds}' in names
    for row in ('t8_mask_only', 't8_mask_feature', 't8_mask_feature_text', 't9_own_head', 't9_query_only',
                't9_query_bias', 't9_query_bias_rmg'):
        assert f'{row.replace("_", "-")}_vit-b16_20k_voc20' in names
    with open(f'{ROOT}/configs/reclip_pp/README.md') as f:
        readme = f.read()
    missing = [p for p in ABLATIONS if os.path.relpath(p, 'configs/reclip_pp') not in readme]
    assert not missing, f'configs/reclip_pp/README.md ablation table lacks {missing}'


@pytest.mark.parametrize('config', ABLATIONS)
def test_ablation_config_builds_and_trains_one_iteration(config, teacher_checkpoints):
    cfg, model = build(config, teacher_checkpoints)
    assert 'work_dir' not in cfg  # MMEngine's default work_dirs/<config name>: unique, the names are
    before, losses = one_training_iteration(model)
    moved = [k for k, v in model.named_parameters() if k in before and not torch.equal(before[k], v.detach())]
    assert moved, f'{config}: no parameter changed in one iteration'


def test_each_row_changes_the_fact_it_names(teacher_checkpoints):
    def head(name):
        row = name[len('voc_'):].replace('_', '-')  # the paper row of VOC-20's ablation config
        return Config.fromfile(f'{ROOT}/configs/reclip_pp/ablations/{row}_vit-b16_20k_voc20.py').model.decode_head

    base = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py')
    assert head('voc_t5_bias_added').bias_mode == 'add'
    assert head('voc_t4_learnable_query').query_learner.num_context == 16
    assert head('voc_t3_reclip').type == 'DependentBiasHead' and head('voc_t3_reclip').mask_decoder is None
    assert head('voc_t3_reclip_decoder').mask_decoder.kernel_size == 5
    windows = Config.fromfile(f'{ROOT}/configs/reclip_pp/ablations/t3-reclip-decoder-windows_vit-b16_20k_voc20.py')
    assert {k: v for k, v in windows.hypotheses.items() if k != 'file'} == base.hypotheses
    assert windows.hypotheses.file == base.hypothesis_file
    assert Config.fromfile(f'{ROOT}/configs/reclip_pp/ablations/fig3-no-crop_vit-b16_20k_voc20.py').hypotheses.mode == 'whole_image'
    assert head('voc_t8_mask_only').loss_feat.loss_weight == 0 and head('voc_t8_mask_only').loss_text.loss_weight == 0
    assert head('voc_t8_mask_feature').loss_feat.loss_weight == 0.5
    assert head('voc_t8_mask_feature').loss_text.loss_weight == 0
    assert head('voc_t9_query_only').classifier == 'query' and head('voc_t9_query_bias').classifier == 'query_bias'
    assert head('voc_t9_own_head').type == 'DeepLabV2Head'


def test_learnable_query_is_trained_and_used_by_loss_and_prediction(teacher_checkpoints):
    _, model = build('configs/reclip_pp/ablations/t4-learnable-query_vit-b16_20k_voc20.py', teacher_checkpoints)
    head = model.decode_head
    context_before = head.query_learner.context.detach().clone()
    one_training_iteration(model)
    assert not torch.equal(context_before, head.query_learner.context.detach())
    model.eval()
    with torch.no_grad():
        expected = torch.nn.functional.normalize(head.query_learner().float(), dim=-1)
        torch.testing.assert_close(head.current_query_embeds(), expected)
        assert not torch.allclose(expected, head.query_embeds)  # not the fixed template ensemble
    assert 'decode_head.query_learner.context' in model.state_dict()


def test_finetuned_clip_image_encoder_is_trained_saved_and_the_shared_clip_untouched(teacher_checkpoints):
    with pytest.warns(UserWarning, match='Table VI'):
        _, model = build('configs/reclip_pp/ablations/t6-finetune-clip-image-encoder_vit-b16_20k_voc20.py', teacher_checkpoints)
    shared = copy.deepcopy(model.backbone.clip_model.visual.state_dict())
    before, _ = one_training_iteration(model)
    tower = {k for k in before if k.startswith('backbone.trainable_visual.')}
    assert 'backbone.trainable_visual.conv1.weight' in tower and 'backbone.trainable_visual.proj' in tower
    changed = {k for k, v in model.named_parameters() if k in tower and not torch.equal(before[k], v.detach())}
    assert 'backbone.trainable_visual.conv1.weight' in changed
    assert 'backbone.trainable_visual.transformer.resblocks.0.attn.in_proj_weight' in changed
    for k, v in model.backbone.clip_model.visual.state_dict().items():  # the loaded (shared) model stays frozen
        assert torch.equal(shared[k], v), k
    state = model.state_dict()
    assert 'backbone.trainable_visual.conv1.weight' in state
    fresh = build('configs/reclip_pp/ablations/t6-finetune-clip-image-encoder_vit-b16_20k_voc20.py', teacher_checkpoints)[1]
    fresh.load_state_dict(state)  # a checkpoint of this row restores the fine-tuned tower
    assert torch.equal(fresh.backbone.trainable_visual.conv1.weight, model.backbone.trainable_visual.conv1.weight)
