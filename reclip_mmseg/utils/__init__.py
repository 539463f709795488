from .files import (atomic_save, check_image_file, image_file_header, iteration_checkpoints, load_or_none,
                    main_process_first)
from .compat import register_checkpoint_safe_globals

__all__ = ['atomic_save', 'check_image_file', 'image_file_header', 'iteration_checkpoints', 'load_or_none', 'main_process_first', 'register_checkpoint_safe_globals']
