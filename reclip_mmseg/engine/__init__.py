from .hooks import CheckClassNamesHook, CheckFiniteLossHook, CheckLabelValuesHook

__all__ = ['CheckClassNamesHook', 'CheckFiniteLossHook', 'CheckLabelValuesHook']
