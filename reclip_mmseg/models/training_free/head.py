"""The training-free MaskCLIP head: the Query logits are the segmentation logits (docs/training_free.md §2). With a
name file (the authors' protocols, docs/training_free.md "The authors' protocols"), one logit per text query."""
from typing import Optional, Sequence, Union

import torch
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from ...clip.vocabularies import _normalised, read_name_file, resolve_class_names
from ..text_head import CLIPTextHead


@MODELS.register_module()
class MaskCLIPHead(CLIPTextHead):
    """Training-free MaskCLIP baseline: the Query logits ``L_q`` are the segmentation logits.

    ``name_file`` (the SCLIP lineage's class-name files, ``reclip_mmseg.clip.vocabularies.read_name_file``: a
    shipped 'sclip/cls_voc21' or a path): line i holds class i's names, split at ``name_separator``; every name is
    its own text query (its words exactly as written: the text encoder must use ``words='raw'``). The head then
    returns Q logit channels, one per name (``name_to_class``: each name's class), for
    ``AuthorsCLIPSegmentor``, which turns them into class scores; ``class_names`` stays the dataset's vocabulary.
    """

    def __init__(self, class_names: Union[str, Sequence[str]] = 'voc20', text_encoder: Optional[dict] = None,
                 denoise_threshold: float = 0.0, denoise_temperature: float = 10.0,
                 denoise_fill: Optional[float] = None, name_file: Optional[str] = None, name_separator: str = ', ',
                 **kwargs):
        # read before the base class builds T_q (build_query_embeds below)
        self._name_queries = read_name_file(name_file, name_separator) if name_file else None
        if self._name_queries is not None and max(self._name_queries[1]) + 1 != len(resolve_class_names(class_names)):
            raise ValueError(f"MaskCLIPHead: name file '{name_file}' has {max(self._name_queries[1]) + 1} class lines "
                             f"but class_names has {len(resolve_class_names(class_names))} classes")
        super().__init__(class_names=class_names, text_encoder=text_encoder, denoise_threshold=denoise_threshold,
                         denoise_temperature=denoise_temperature, denoise_fill=denoise_fill, **kwargs)
        self.name_file = name_file
        self.name_separator = name_separator
        if self._name_queries is None:
            self.name_to_class = None
            return
        names, classes = self._name_queries
        self.name_queries = names
        self.register_buffer('name_to_class', torch.tensor(classes, dtype=torch.long), persistent=False)

    def build_query_embeds(self, encoder, names) -> torch.Tensor:
        if self._name_queries is None:
            return super().build_query_embeds(encoder, names)
        if encoder.words != 'raw':
            raise ValueError(f"MaskCLIPHead(name_file=...) feeds each name as written, as the authors' code does: "
                             f"give the text encoder words='raw' (it has words={encoder.words!r})")
        queries = self._name_queries[0]
        # one embedding per distinct text (a name may sit on two lines: COCO-Object's 'bed' is a background word
        # and a class), then one row per query, repeats included: every query is a softmax competitor
        unique = {}
        for q in queries:
            unique.setdefault(_normalised(q), q)
        keys = list(unique)
        embeds = encoder.class_embeddings([unique[k] for k in keys])
        return embeds[torch.tensor([keys.index(_normalised(q)) for q in queries], device=embeds.device)]

    def forward(self, inputs):
        scores = getattr(inputs, 'scores', None)
        if scores is not None:  # a dense mode that classifies inside the tower ('cliper'): its class scores
            if self.name_to_class is not None:
                raise ValueError("MaskCLIPHead(name_file=...) cannot take class scores made inside the tower "
                                 "(dense_mode='cliper'): they have one channel per class, not per name")
            return scores
        return self.query_logits(self._features(inputs))

    def loss(self, inputs, batch_data_samples: SampleList, train_cfg) -> dict:
        raise RuntimeError('MaskCLIPHead is training-free: evaluate it with tools/test.py CONFIG (no checkpoint).')
