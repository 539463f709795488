"""Published mIoU (%) the evaluation suite (tools/eval_suite.py) compares against: one machine-readable place.

Each number is quoted, not re-measured, with where it comes from (``source``). The training-free rows are the
table of docs/training_free.md §4 (CLIP ViT-B/16, each paper under its own protocol; the MaskCLIP row is the
re-implementation *without* residual / FFN those papers tabulate); the ReCLIP++ and ReCLIP rows are the results
tables of configs/reclip_pp/README.md and configs/reclip/README.md (the papers' numbers). A test
(tests/tools/test_eval_suite.py) checks the doc tables against this module.

Keys are ``(method, dataset, pamr)``: ``method`` the config file's first field (``sc-clip``, ``reclip-pp``,
``reclip-pp-distill``...), ``dataset`` the config's dataset token (``voc20``, ``context59``...), ``pamr`` whether
the number is with PAMR post-processing (only NACLIP publishes both).
"""
from typing import Dict, NamedTuple, Optional, Tuple


class Published(NamedTuple):
    miou: float
    source: str


# docs/training_free.md §4, column order of its table
_TF_DATASETS = ('voc20', 'context59', 'ade20k', 'cityscapes', 'cocostuff171', 'voc21', 'context60')
_TF_PAPERS = {
    'maskclip': "MaskCLIP (ECCV'22) re-implemented without residual / FFN, as the training-free papers tabulate it",
    'sclip': "SCLIP (ECCV'24)",
    'clearclip': "ClearCLIP (ECCV'24)",
    'naclip': "NACLIP (WACV'25)",
    'sc-clip': "SC-CLIP (TIP'25)",
    'sfp': "SFP (ICCV'25)",
    'resclip': "ResCLIP (CVPR'25), on the ClearCLIP base",
}
_TF_ROWS = {  # (method, pamr): mIoU in _TF_DATASETS order
    ('maskclip', False): (74.9, 26.4, 11.9, 24.9, 16.7, 43.4, 23.2),
    ('sclip', False): (80.4, 34.2, 16.1, 32.2, 22.4, 59.1, 30.4),
    ('clearclip', False): (80.9, 35.9, 16.7, 30.0, 23.9, 51.8, 32.6),
    ('naclip', False): (79.7, 35.2, 17.4, 35.5, 23.3, 58.9, 32.2),
    ('naclip', True): (83.0, 38.4, 19.1, 38.3, 25.7, 64.1, 35.0),
    ('sc-clip', False): (84.3, 40.1, 20.1, 41.0, 26.6, 64.6, 36.8),
    ('sfp', False): (84.5, 39.9, 20.8, 41.1, 26.4, 62.9, 37.2),
    ('resclip', False): (87.1, 36.4, 17.8, 34.5, 24.3, 59.0, 32.9),
}

# configs/reclip_pp/README.md and configs/reclip/README.md "paper mIoU" columns (no PAMR)
_RECLIP_DATASETS = ('voc20', 'context59', 'ade20k', 'cityscapes', 'cocostuff27')
_RECLIP_ROWS = {
    'reclip-pp': ((73.5, 34.0, 13.5, 21.7, 20.9), 'ReCLIP++ (IJCV 2025), rectification, configs/reclip_pp/README.md'),
    'reclip-pp-distill': ((79.2, 34.5, 14.5, 26.9, 23.2),
                          'ReCLIP++ (IJCV 2025), distillation (ResNet-101), configs/reclip_pp/README.md'),
    'maskclip-baseline': ((49.5, 21.7, 9.5, 19.8, 13.6),
                          "MaskCLIP in ReCLIP++'s protocol (ReCLIP++ paper), configs/reclip_pp/README.md"),
    'reclip': ((58.5, 25.8, 11.1, 16.2, 14.6), 'ReCLIP (CVPR 2024), rectification, configs/reclip/README.md'),
    'reclip-distill': ((75.8, 33.8, 14.3, 19.9, 20.3),
                       'ReCLIP (CVPR 2024), distillation (ResNet-50), configs/reclip/README.md'),
}


def _build() -> Dict[Tuple[str, str, bool], Published]:
    table = {}
    for (method, pamr), values in _TF_ROWS.items():
        source = f"{_TF_PAPERS[method]}{', with PAMR' if pamr else ''}; docs/training_free.md §4"
        for dataset, miou in zip(_TF_DATASETS, values):
            table[(method, dataset, pamr)] = Published(miou, source)
    for method, (values, source) in _RECLIP_ROWS.items():
        for dataset, miou in zip(_RECLIP_DATASETS, values):
            table[(method, dataset, False)] = Published(miou, source)
    return table


PUBLISHED: Dict[Tuple[str, str, bool], Published] = _build()


def published_miou(method: str, dataset: str, pamr: bool = False) -> Optional[Published]:
    """The published mIoU of ``method`` on ``dataset`` (with or without PAMR) and its source; None when no paper
    reports that cell. ``method`` may use underscores (``sc_clip``)."""
    return PUBLISHED.get((method.replace('_', '-'), dataset, bool(pamr)))
