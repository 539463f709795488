from .hooks import (CheckClassNamesHook, CheckFiniteLossHook, CheckImageFilesHook, CheckLabelValuesHook,
                    IterationSeedHook)

__all__ = ['CheckClassNamesHook', 'CheckFiniteLossHook', 'CheckImageFilesHook', 'CheckLabelValuesHook',
           'IterationSeedHook']
