"""Reading what the offline tools need out of a training config."""
import os
from typing import Tuple

from mmengine.config import Config, ConfigDict


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
    settings = {k: v for k, v in (cfg.get('hypotheses') or {}).items() if k not in ('file', 'batch_size')}
    for step in ds.get('pipeline', []):
        if step.get('type') == 'LoadImageLevelLabels' and cfg.get('hypotheses') is not None \
                and step.get('expected') is None:  # the file must be of the config's mode and settings
            step.expected = dict(settings, mode=settings.get('mode', 'windows'))
        if step.get('type') == 'LoadImageLevelLabels' and own_file:
            step.hypothesis_file = own_file
        if step.get('type') == 'LoadImageLevelLabels' and not os.path.isabs(step.get('hypothesis_file', '/')):
            step.hypothesis_file = os.path.join(ds.get('data_root') or '', step.hypothesis_file)
