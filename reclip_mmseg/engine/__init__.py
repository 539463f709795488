from .hooks import CheckClassNamesHook, CheckFiniteLossHook, CheckImageFilesHook, CheckLabelValuesHook

__all__ = ['CheckClassNamesHook', 'CheckFiniteLossHook', 'CheckImageFilesHook', 'CheckLabelValuesHook']
