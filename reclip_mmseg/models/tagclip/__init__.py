"""TagCLIP (docs/tagclip.md): deep-VPT CLIP backbone, relationship descriptor, ATM decoder with the trusty token,
losses. ZegCLIP is the same head without the trusty token and without query self-attention."""
from .backbone import VPTCLIPViT
from .head import ATMCrossAttention, ATMDecoderLayer, RelationshipDescriptor, TagCLIPHead
from .losses import TagCLIPCriterion, dice_per_mask, one_hot_targets

__all__ = ['VPTCLIPViT', 'TagCLIPHead', 'RelationshipDescriptor', 'ATMCrossAttention', 'ATMDecoderLayer',
           'TagCLIPCriterion', 'dice_per_mask', 'one_hot_targets']
