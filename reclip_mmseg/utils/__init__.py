from .files import atomic_save, iteration_checkpoints, load_or_none, main_process_first
from .compat import register_checkpoint_safe_globals

__all__ = ['atomic_save', 'iteration_checkpoints', 'load_or_none', 'main_process_first', 'register_checkpoint_safe_globals']
