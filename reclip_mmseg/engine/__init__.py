from .hooks import (CheckClassNamesHook, CheckFiniteLossHook, CheckImageFilesHook, CheckLabelValuesHook,
                    IterationSeedHook)
from .schedulers import WarmupPolyLR

__all__ = ['CheckClassNamesHook', 'CheckFiniteLossHook', 'CheckImageFilesHook', 'CheckLabelValuesHook',
           'IterationSeedHook', 'WarmupPolyLR']
