"""Reading what the offline tools need out of a training config."""
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
