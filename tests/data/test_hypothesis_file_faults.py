"""Hypothesis files that are damaged or of the other family (issue 27, items 7-8): refused when the file is read,
before the first iteration, naming the file, the image and the entry, or the two modes / settings."""
import json
import os

import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool, tiny_options, write_hypotheses
from reclip_mmseg.clip import VOCABULARIES
from reclip_mmseg.datasets import LoadImageLevelLabels
from reclip_mmseg.datasets.from_config import resolve_hypothesis_file

VOC = list(VOCABULARIES['voc20'])


def _file(tmp_path, labels, **header):
    path = str(tmp_path / 'h.json')
    write_hypotheses(path, [f'img{i}.jpg' for i in range(len(labels))], labels, VOC)
    if header:
        data = json.load(open(path))
        data.update(header)
        for k, v in header.items():
            if v is None:
                data.pop(k)
        json.dump(data, open(path, 'w'))
    return path


def _load(path, expected=None):
    return LoadImageLevelLabels(path, 'voc20', expected)(dict(img_path='/x/img0.jpg'))


def test_a_bad_entry_stops_training_before_the_first_iteration_naming_file_image_entry(voc_root, voc_hypotheses,
                                                                                       tmp_path):
    data = json.load(open(voc_hypotheses))
    image = sorted(data['labels'])[1]
    data['labels'][image] = [3, 'giraffe']
    bad = str(tmp_path / 'bad.json')
    json.dump(data, open(bad, 'w'))
    proc = run_tool('tools/train.py', 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', '--work-dir', str(tmp_path / 'wd'),
                    '--cfg-options', *tiny_options(voc_root, bad, iters=2, interval=1), check=False)
    assert proc.returncode != 0
    assert f"hypothesis file {bad}: the entry of image {image} ([3, 'giraffe']) holds 'giraffe'" in proc.stderr
    assert not any(f.startswith('iter_') for f in os.listdir(tmp_path / 'wd'))  # nothing trained, nothing saved


@pytest.mark.parametrize('entry,says', [([25], 'class index 25, outside 0..19 (20 classes)'),
                                        ([13.7], 'holds 13.7, not an integer'), ([True], 'holds True'),
                                        (7, 'is 7, not a list')])
def test_out_of_range_float_and_non_list_entries_are_named(tmp_path, entry, says):
    path = _file(tmp_path, [[1, 2], entry])
    with pytest.raises(ValueError, match=f'{path}: the entry of image img1.jpg .*{says}'.replace('(', '\\(')
                       .replace(')', '\\)')):
        _load(path)


def test_a_reclip_file_given_to_a_reclip_pp_config_and_back_is_refused(tmp_path):
    pp = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py')
    cvpr = Config.fromfile(f'{ROOT}/configs/reclip/reclip_vit-b16_20k_voc20.py')
    expected = {}
    for name, cfg in (('pp', pp), ('cvpr', cvpr)):
        resolve_hypothesis_file(cfg)  # what the tools do: the step learns the config's mode and settings
        step = [s for s in cfg.train_dataloader.dataset.pipeline if s.type == 'LoadImageLevelLabels'][0]
        expected[name] = step.expected
    assert expected['pp'] == dict(mode='windows', window_size=56, window_stride=28, min_vote_share=0.0,
                                  window_cover='release')
    assert expected['cvpr'] == dict(mode='whole_image', threshold=0.23, top_k=2)
    whole = _file(tmp_path, [[1], [2]], mode='whole_image', threshold=0.23, top_k=2, window_size=None,
                  window_stride=None, min_vote_share=None)
    with pytest.raises(ValueError, match="holds ReCLIP's whole-image scores .* but the config makes ReCLIP\\+\\+'s "
                                         "window votes .*gen_hypotheses"):
        _load(whole, expected['pp'])
    assert _load(whole, expected['cvpr'])['image_level_labels'].tolist() == [1]
    with pytest.raises(ValueError, match='whole-image scores'):  # once read for another config, still checked
        _load(whole, expected['pp'])
    windows = _file(tmp_path, [[1], [2]])
    with pytest.raises(ValueError, match="holds ReCLIP\\+\\+'s window votes .*hypotheses.mode='whole_image'"):
        _load(windows, expected['cvpr'])
    other = _file(tmp_path, [[1], [2]], window_size=80)
    with pytest.raises(ValueError, match='other settings \\(window_size: file 80, config 56\\)'):
        _load(other, expected['pp'])
