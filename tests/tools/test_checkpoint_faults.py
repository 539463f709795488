"""Checkpoints that do not belong to the config (issue 27, items 1-3): a trained method without its checkpoint, a
training-free method given one, TagCLIP / ZegCLIP checkpoints of another method or token count, ReCLIP vs ReCLIP++.
The refusals happen through the tools, or through MMEngine's own ``load_checkpoint`` (what the runner calls for
a CHECKPOINT or ``load_from``), never after metrics were printed."""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS

from conftest import ROOT, TINY_CLIP, run_tool

TAGCLIP_VOC = 'configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py'
DEEP = dict(model_name='reclip-tiny-deep', pretrained=None)


def build(config, clip=TINY_CLIP):
    cfg = Config.fromfile(os.path.join(ROOT, config))
    cfg.model.backbone.clip = dict(clip)
    cfg.model.decode_head.text_encoder.clip = dict(clip)
    cfg.model.decode_head.text_encoder.cache_dir = False
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp('ckpts')
    out = {}
    for name, config, clip in (('reclip_pp', 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', TINY_CLIP),
                               ('reclip', 'configs/reclip/reclip_vit-b16_20k_voc20.py', TINY_CLIP),
                               ('tagclip10', TAGCLIP_VOC, DEEP)):
        out[name] = str(folder / f'{name}.pth')
        torch.save(dict(state_dict=build(config, clip).state_dict(), meta=dict()), out[name])
    return out


def test_trained_configs_without_a_checkpoint_are_refused_before_anything_runs(tmp_path):
    for config, method in ((TAGCLIP_VOC, 'TagCLIP / ZegCLIP'), ('configs/reclip/reclip-distill_r50_20k_voc20.py', 'distillation student')):
        proc = run_tool('tools/test.py', config, '--work-dir', str(tmp_path / 'wd'), check=False)
        assert proc.returncode != 0, config
        assert method in proc.stderr and 'no CHECKPOINT was given' in proc.stderr and '--untrained' in proc.stderr
        assert not list(tmp_path.glob('wd/*/*.json'))  # no metrics file was written


def test_training_free_config_given_a_checkpoint_says_it_is_not_used(checkpoints, tmp_path):
    proc = run_tool('tools/test.py', 'configs/training_free/sfp_vit-b16_voc20.py', checkpoints['tagclip10'],
                    '--work-dir', str(tmp_path / 'wd'), check=False)
    assert proc.returncode != 0
    assert 'has no trained weights' in proc.stderr and checkpoints['tagclip10'] in proc.stderr
    assert '--ignore-checkpoint' in proc.stderr
    from reclip_mmseg.engine.checkpoint_policy import check_test_checkpoint
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py')
    assert check_test_checkpoint(cfg.model, checkpoints['reclip_pp'], 'x.py', ignore_checkpoint=True) is None


def test_tagclip_config_refuses_a_reclip_pp_checkpoint_through_the_tools(checkpoints, voc_root, tmp_path):
    opts = [f'{w}.{k}={v}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
            for k, v in DEEP.items()]
    opts += [f'test_dataloader.dataset.data_root={voc_root}', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False']
    proc = run_tool('tools/test.py', TAGCLIP_VOC, checkpoints['reclip_pp'], '--work-dir', str(tmp_path / 'wd'),
                    '--cfg-options', *opts, check=False)
    assert proc.returncode != 0
    assert "VPTCLIPViT: the checkpoint has no weights for this module (prefix 'backbone.'), so it is not a " \
        'checkpoint of this TagCLIP / ZegCLIP config' in proc.stderr
    assert not list(tmp_path.glob('wd/*/*.json'))


def test_tagclip_checkpoint_of_another_token_count_or_method_is_refused_at_load(checkpoints):
    coco2voc = build('configs/tagclip/tagclip_vpt-vit-b16_coco2voc20.py', DEEP)  # 100 tokens
    with pytest.raises(ValueError, match='10 prompt tokens, this config 100 \\(model.backbone.num_tokens\\)'):
        load_checkpoint(coco2voc, checkpoints['tagclip10'], map_location='cpu', strict=False)
    # the transductive stage's load_from pointing at a ReCLIP++ checkpoint: refused, not trained from random
    trans = build('configs/tagclip/tagclip-transductive_vpt-vit-b16_10k_voc20.py', DEEP)
    with pytest.raises(ValueError, match='no weights for this module .* not a checkpoint of this TagCLIP / ZegCLIP'):
        load_checkpoint(trans, checkpoints['reclip_pp'], map_location='cpu', strict=False)
    # ... while its own inductive checkpoint loads, the trusty token it does not use dropped (the release)
    load_checkpoint(trans, checkpoints['tagclip10'], map_location='cpu', strict=False)
    state = torch.load(checkpoints['tagclip10'], map_location='cpu', weights_only=False)['state_dict']
    assert torch.equal(trans.backbone.prompt_embeddings, state['backbone.prompt_embeddings'])
    # a ZegCLIP-like checkpoint without the trusty token, given to a config that uses it
    del state['decode_head.trusty_token']
    no_trusty = os.path.join(os.path.dirname(checkpoints['tagclip10']), 'no_trusty.pth')
    torch.save(dict(state_dict=state), no_trusty)
    with pytest.raises(ValueError, match="no trusty token.*use_trusty=False"):
        load_checkpoint(build(TAGCLIP_VOC, DEEP), no_trusty, map_location='cpu', strict=False)


def test_reclip_and_reclip_pp_checkpoints_are_named_both_ways(checkpoints):
    with pytest.raises(ValueError, match=r'a ReCLIP \(CVPR\) rectification checkpoint given to a ReCLIP\+\+ '):
        load_checkpoint(build('configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'), checkpoints['reclip'], map_location='cpu')
    with pytest.raises(ValueError, match=r'a ReCLIP\+\+ rectification checkpoint given to a ReCLIP \(CVPR\) '):
        load_checkpoint(build('configs/reclip/reclip_vit-b16_20k_voc20.py'), checkpoints['reclip_pp'], map_location='cpu')
