"""The training-free MaskCLIP head: the Query logits are the segmentation logits (docs/training_free.md §2)."""
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from ..text_head import CLIPTextHead


@MODELS.register_module()
class MaskCLIPHead(CLIPTextHead):
    """Training-free MaskCLIP baseline: the Query logits ``L_q`` are the segmentation logits."""

    def forward(self, inputs):
        scores = getattr(inputs, 'scores', None)
        if scores is not None:  # a dense mode that classifies inside the tower ('cliper'): its class scores
            return scores
        return self.query_logits(self._features(inputs))

    def loss(self, inputs, batch_data_samples: SampleList, train_cfg) -> dict:
        raise RuntimeError('MaskCLIPHead is training-free: evaluate it with tools/test.py CONFIG (no checkpoint).')
