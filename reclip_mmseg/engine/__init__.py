from .hooks import CheckClassNamesHook, CheckFiniteLossHook

__all__ = ['CheckClassNamesHook', 'CheckFiniteLossHook']
