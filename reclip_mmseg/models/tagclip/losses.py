"""TagCLIP's losses (docs/tagclip.md §3, §2.7): sigmoid focal over every class mask, dice over the classes present,
sigmoid focal on the trusty map; all divided by the number of (image, present class) masks."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmseg.registry import MODELS
from torchvision.ops import sigmoid_focal_loss


def one_hot_targets(target: torch.Tensor, num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """(B, H, W) labels -> (B, C, H, W) float one-hot; an ignored pixel is all zeros (a negative for every class,
    as the release treats it: there is no "don't care")."""
    valid = target != ignore_index
    onehot = F.one_hot(torch.where(valid, target, 0), num_classes).permute(0, 3, 1, 2).float()
    return onehot * valid.unsqueeze(1)


def dice_per_mask(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """(..., H, W) logits and {0, 1} targets -> (...) ``1 - (2 sum(p y) + s) / (sum(p) + sum(y) + s)``, p = sigmoid."""
    p = logits.sigmoid().flatten(-2)
    y = targets.flatten(-2)
    return 1 - (2 * (p * y).sum(-1) + smooth) / (p.sum(-1) + y.sum(-1) + smooth)


@MODELS.register_module()
class TagCLIPCriterion(nn.Module):
    """``mask_weight·L_focal + dice_weight·L_dice + trusty_weight·L_trusty`` (20 / 1 / 10 in the release).

    * ``L_focal = (1/N_m) Σ_{b,c} mean_p FL(m_bcp, y_bcp)`` over all C training channels (FL: sigmoid focal,
      alpha 0.25, gamma 2; torchvision's).
    * ``L_dice = (1/N_m) Σ_{(b,c) present} dice(m_bc, y_bc)`` with smoothing 1.
    * ``L_trusty = (1/N_m) Σ_b mean_p FL(m_τ,bp, u_bp)`` ('focal'; or 'dice', or 'focal+dice').
    * ``N_m``: the number of (image, class) pairs present in the target, averaged over ranks, at least 1.

    Returns ``dict(loss_mask=…, loss_dice=…[, loss_trusty=…])``, already weighted (MMEngine sums every key
    starting with 'loss').
    """

    def __init__(self, mask_weight: float = 20.0, dice_weight: float = 1.0, trusty_weight: float = 10.0,
                 focal_alpha: float = 0.25, focal_gamma: float = 2.0, dice_smooth: float = 1.0,
                 trusty_loss: str = 'focal', ignore_index: int = 255):
        super().__init__()
        if trusty_loss not in ('focal', 'dice', 'focal+dice'):
            raise ValueError(f"TagCLIPCriterion.trusty_loss must be 'focal', 'dice' or 'focal+dice', got {trusty_loss!r}")
        self.mask_weight, self.dice_weight, self.trusty_weight = mask_weight, dice_weight, trusty_weight
        self.focal_alpha, self.focal_gamma, self.dice_smooth = focal_alpha, focal_gamma, dice_smooth
        self.trusty_loss = trusty_loss
        self.ignore_index = ignore_index

    @property
    def loss_name(self) -> str:
        return 'loss_tagclip'

    def _focal(self, logits, targets):  # (..., H, W) -> (...) pixel means
        return sigmoid_focal_loss(logits, targets, alpha=self.focal_alpha, gamma=self.focal_gamma,
                                  reduction='none').flatten(-2).mean(-1)

    def forward(self, class_logits: torch.Tensor, target: torch.Tensor, trusty_logits: Optional[torch.Tensor] = None,
                trusty_target: Optional[torch.Tensor] = None) -> dict:
        """class_logits (B, C, H, W); target (B, H, W) training-class ids with ``ignore_index``;
        trusty_logits (B, 1, H, W) and trusty_target (B, H, W) in {0, 1} (``ignore_index``: left out, the pixel
        means of the trusty map then run over the other pixels), or None."""
        onehot = one_hot_targets(target, class_logits.shape[1], self.ignore_index)
        present = onehot.flatten(2).amax(-1) > 0  # (B, C)
        num_masks = present.sum().float()
        all_reduce(num_masks, op='mean')  # a no-op outside distributed training
        num_masks = num_masks.clamp(min=1)
        logits = class_logits.float()
        losses = dict(
            loss_mask=self.mask_weight * self._focal(logits, onehot).sum() / num_masks,
            loss_dice=self.dice_weight * dice_per_mask(logits, onehot, self.dice_smooth)[present].sum() / num_masks)
        if trusty_logits is not None:
            m = trusty_logits.float()[:, 0]
            valid = trusty_target != self.ignore_index
            u = (trusty_target * valid).float()
            loss = m.new_zeros(())
            if 'focal' in self.trusty_loss:
                focal = sigmoid_focal_loss(m, u, alpha=self.focal_alpha, gamma=self.focal_gamma, reduction='none')
                loss = loss + ((focal * valid).flatten(-2).sum(-1) / valid.flatten(-2).sum(-1).clamp(min=1)).sum()
            if 'dice' in self.trusty_loss:  # a left-out pixel: probability 0 and target 0, so it adds nothing
                loss = loss + dice_per_mask(m.masked_fill(~valid, -1e4), u, self.dice_smooth).sum()
            losses['loss_trusty'] = self.trusty_weight * loss / num_masks
        return losses
