"""Reading what the offline tools need out of a training config."""
import os
from typing import Tuple

from mmengine.config import Config, ConfigDict

from .hypotheses import HYPOTHESIS_DEFAULTS, MODE_SETTINGS, WINDOW_CROP_DIVISOR


def hypothesis_params(cfg: Config, config_name: str = 'the config') -> dict:
    """The hypothesis settings a config makes: the release's defaults (``HYPOTHESIS_DEFAULTS``) updated with the
    config's ``hypotheses`` (without its ``file``); a window config without ``window_size`` takes the release's
    crop / 6 (said by ``derived``), its stride half the side. Used by tools/gen_hypotheses.py to make a file and by
    the train pipeline to check one, so both read the same settings."""
    params = dict(HYPOTHESIS_DEFAULTS)
    params.update({k: v for k, v in (cfg.get('hypotheses') or {}).items() if k not in ('file', '_delete_')})
    if params['mode'] == 'whole_image':  # ReCLIP: no windows
        for key in MODE_SETTINGS['windows']:
            params.pop(key, None)
        return params
    if params.get('window_size') is None:
        crop = cfg.get('crop_size')
        if not crop:
            raise KeyError(f'{config_name} names neither hypotheses.window_size nor crop_size; set '
                           f'`hypotheses = dict(window_size=PX)` (the release uses crop_size / {WINDOW_CROP_DIVISOR})')
        params['window_size'] = int(min(crop) if isinstance(crop, (tuple, list)) else crop) // WINDOW_CROP_DIVISOR
        params['derived'] = f'crop_size {tuple(crop) if isinstance(crop, (tuple, list)) else crop} / ' \
                            f'{WINDOW_CROP_DIVISOR} = {params["window_size"]} px'
        if 'window_stride' not in (cfg.get('hypotheses') or {}):
            params['window_stride'] = params['window_size'] // 2
    return params


def train_dataset_cfg(cfg: Config) -> ConfigDict:
    """The innermost dataset config of ``train_dataloader`` (through wrappers such as RepeatDataset)."""
    loader = cfg.get('train_dataloader')
    if not loader:
        raise KeyError('the config has no train_dataloader: hypotheses are made for a training set')
    ds = loader.dataset
    while 'pipeline' not in ds and 'dataset' in ds:
        ds = ds.dataset
    return ds


def hypothesis_transform_cfg(cfg: Config) -> Tuple[ConfigDict, int]:
    """The ``LoadImageLevelLabels`` step of the train pipeline, and its index."""
    for i, step in enumerate(train_dataset_cfg(cfg).get('pipeline', [])):
        if step.get('type') == 'LoadImageLevelLabels':
            return step, i
    raise KeyError('the train pipeline has no LoadImageLevelLabels step, so nothing would read the hypotheses; '
                   'add dict(type="LoadImageLevelLabels", hypothesis_file=...) after LoadImageFromFile')


def resolve_hypothesis_file(cfg: Config) -> None:
    """Make a relative ``LoadImageLevelLabels.hypothesis_file`` absolute against the train dataset's
    ``data_root``, in place. Done after ``--cfg-options`` are merged, so overriding
    ``train_dataloader.dataset.data_root`` moves the hypotheses with the data (MMEngine would otherwise fix the
    path when the config file is read). Absolute paths are left alone; configs without the step are untouched.

    ``hypotheses.file``, when a config sets it, replaces the step's file first: a config that inherits a dataset
    base but makes its hypotheses differently (ReCLIP's whole-image ones) names its own file this way instead of
    rewriting the pipeline (MMEngine configs cannot edit one element of an inherited list)."""
    if not cfg.get('train_dataloader'):
        return
    ds = train_dataset_cfg(cfg)
    own_file = (cfg.get('hypotheses') or {}).get('file')
    settings = {}
    if cfg.get('hypotheses') is not None:
        settings = {k: v for k, v in hypothesis_params(cfg).items() if k not in ('batch_size', 'derived')}
    for step in ds.get('pipeline', []):
        if step.get('type') == 'LoadImageLevelLabels' and cfg.get('hypotheses') is not None \
                and step.get('expected') is None:  # the file must be of the config's mode and settings
            step.expected = settings
        if step.get('type') == 'LoadImageLevelLabels' and own_file:
            step.hypothesis_file = own_file
        if step.get('type') == 'LoadImageLevelLabels' and not os.path.isabs(step.get('hypothesis_file', '/')):
            step.hypothesis_file = os.path.join(ds.get('data_root') or '', step.hypothesis_file)
