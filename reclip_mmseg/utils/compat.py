"""Compatibility fixes of MMEngine 0.10.x, kept in one place: loading its own checkpoints on torch >= 2.6, and
writing them atomically.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine's checkpoints hold its message hub
(``HistoryBuffer`` objects wrapping numpy arrays) and numpy scalars in ``meta``, so MMEngine 0.10.7 can
neither ``--resume`` nor ``load_from`` its own files ("Weights only load failed"). Rather than switching the
safe unpickler off, we allow-list exactly the plain-data types those files contain; every other global in
a checkpoint is still refused, so files we did not write get the same protection as before.

One thing MMEngine writes cannot be allow-listed safely: ``HistoryBuffer.__getstate__`` pickles its
statistics methods (``min``, ``max``, ...) as ``getattr(HistoryBuffer, 'min')``, and allowing ``getattr`` would
let a file reach arbitrary code. Those methods are registered again on import anyway, so we make
``HistoryBuffer`` pickle without them; checkpoints written by our runs then hold only plain data.
"""
import numpy as np
import torch

_REGISTERED = False


def _numpy_globals():
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed numpy.core to numpy._core
    names = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    dtypes_module = getattr(np, 'dtypes', None)  # numpy >= 1.25: one class per dtype
    if dtypes_module is not None:
        names += [getattr(dtypes_module, n) for n in dir(dtypes_module) if n.endswith('DType')]
    return names


def _history_buffer_getstate(self) -> dict:
    """``HistoryBuffer`` state without its statistics methods (``__setstate__`` restores the defaults, and
    custom ones are registered again when the code that defines them is imported)."""
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def register_checkpoint_safe_globals() -> None:
    """Let ``torch.load(weights_only=True)`` read MMEngine checkpoints (idempotent)."""
    global _REGISTERED
    if _REGISTERED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_getstate
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])
    _REGISTERED = True


_ATOMIC = False


def make_checkpoint_writes_atomic() -> None:
    """MMEngine's Runner writes ``iter_N.pth`` in place (``file_backend.put``): a kill during the write leaves a
    truncated file that ``last_checkpoint`` may name. The Runner's ``save_checkpoint`` (the name its module
    imported) is wrapped so that local files go through a temporary file in the same folder and a rename; other
    backends (``s3://`` etc.) are left to MMEngine. A failed write (a full disk: torch says only 'unexpected pos')
    is raised as an ``OSError`` naming the file, the free space and how to go on. Idempotent."""
    global _ATOMIC
    if _ATOMIC:
        return
    import mmengine.runner.runner as runner_module
    from .files import atomic_save
    original = runner_module.save_checkpoint

    def save_checkpoint(checkpoint, filename, file_client_args=None, backend_args=None):
        if '://' in str(filename) or file_client_args is not None or backend_args is not None:
            return original(checkpoint, filename, file_client_args=file_client_args, backend_args=backend_args)
        try:
            atomic_save(checkpoint, str(filename))
        except OSError as err:
            raise OSError(err.errno, f'{err.strerror} Training stopped at this checkpoint; the checkpoints saved '
                                     f'before it are intact: continue with tools/train.py --resume (same work dir) '
                                     f'once there is room.') from err

    runner_module.save_checkpoint = save_checkpoint
    _ATOMIC = True
