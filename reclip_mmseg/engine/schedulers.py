"""``WarmupPolyLR``: mmcv 1.x's poly learning rate with linear warm-up, in closed form (docs: TagCLIP schedule).

TagCLIP / ZegCLIP trained with mmcv 1.x, whose runner multiplies a linear warm-up factor into a poly curve that runs
over the whole schedule. MMEngine's ``LinearLR`` + ``PolyLR`` chain their factors step by step instead: a PolyLR
that starts after the warm-up leaves the lr ~7 % high on average, and one that overlaps it still ~2 % (its
``eta_min`` is added at every step and multiplied up by the warm-up). This scheduler sets the release's value
directly from the iteration.
"""
from typing import List

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS


class _WarmupPolyParamScheduler(_ParamScheduler):

    def __init__(self, optimizer, param_name: str, power: float = 0.9, eta_min: float = 0.0,
                 warmup_iters: int = 0, warmup_ratio: float = 1e-6, begin: int = 0, end: int = INF,
                 last_step: int = -1, by_epoch: bool = False, verbose: bool = False):
        if end == INF:
            raise ValueError(f'{type(self).__name__} needs `end` (the last iteration of the poly curve, max_iters)')
        if not 0 <= warmup_iters <= end - begin:
            raise ValueError(f'{type(self).__name__}: warmup_iters={warmup_iters} must lie in [0, end - begin]')
        self.power, self.eta_min = power, eta_min
        self.warmup_iters, self.warmup_ratio = warmup_iters, warmup_ratio
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> List[float]:
        i, total = self.last_step - self.begin, self.end - self.begin
        factor = (1 - i / total) ** self.power
        warm = 1 - (1 - i / self.warmup_iters) * (1 - self.warmup_ratio) if i < self.warmup_iters else 1.0
        return [((base - self.eta_min) * factor + self.eta_min) * warm for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class WarmupPolyLR(LRSchedulerMixin, _WarmupPolyParamScheduler):
    """mmcv 1.x's ``PolyLrUpdaterHook`` with linear warm-up: at iteration ``i`` (from ``begin``) the lr is
    ``((base − eta_min)(1 − i/T)^power + eta_min) · w_i`` with ``T = end − begin`` and, during the first
    ``warmup_iters``, ``w_i = 1 − (1 − i/warmup_iters)(1 − warmup_ratio)`` (else 1).

    Args:
        power: the poly exponent. eta_min: the floor (mmcv's ``min_lr``, absolute for every parameter group).
        warmup_iters / warmup_ratio: mmcv's linear warm-up. begin / end: the iterations it spans.
    """
