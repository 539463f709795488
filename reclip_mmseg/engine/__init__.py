from .hooks import CheckClassNamesHook

__all__ = ['CheckClassNamesHook']
