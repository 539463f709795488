"""Cache files written atomically and once per job (not raced by distributed ranks)."""
import contextlib
import glob
import os
import tempfile
import warnings
from typing import Any, Callable, List, Optional, Tuple

import torch
from mmengine.dist import barrier, get_dist_info, is_distributed


def atomic_save(obj: Any, path: str, saver: Optional[Callable[[Any, str], None]] = None) -> None:
    """Write ``obj`` to ``path`` through a temporary file in the same folder, then rename.

    A crash mid-write leaves the old file (or none), never a half-written one.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp_', suffix=os.path.basename(path), dir=folder)
    os.close(fd)
    try:
        (saver or torch.save)(obj, tmp)
        # mkstemp creates 0600; give the file the permissions a plain open() would (shared caches, other users)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_or_none(path: str, loader: Optional[Callable[[str], Any]] = None, what: str = 'cache file') -> Any:
    """Load a cache file; ``None`` when it is absent or unreadable (a corrupt cache is reported and rebuilt)."""
    if not os.path.isfile(path):
        return None
    try:
        if loader is not None:
            return loader(path)
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable cache is rebuilt
        warnings.warn(f'{what} {path} is unreadable ({type(err).__name__}: {err}); rebuilding it.')
        return None


@contextlib.contextmanager
def main_process_first():
    """Rank 0 runs the body first (and writes caches); the other ranks run it after, reading the cache."""
    rank, _ = get_dist_info()
    if is_distributed() and rank != 0:
        barrier()
    yield
    if is_distributed() and rank == 0:
        barrier()


def iteration_checkpoints(work_dir: str) -> List[str]:
    """The ``iter_N.pth`` files of an MMEngine work dir, newest (largest N) first."""
    found = []
    for path in glob.glob(os.path.join(work_dir, 'iter_*.pth')):
        stem = os.path.basename(path)[len('iter_'):-len('.pth')]
        if stem.isdigit():
            found.append((int(stem), path))
    return [path for _, path in sorted(found, reverse=True)]


def image_file_header(path: str, min_side: int) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
    """(why the image or label file cannot be used or None, its (w, h) or None), from the header only. Paths
    that are not local files (a storage backend's URI) and formats only OpenCV reads pass unmeasured."""
    from PIL import Image, UnidentifiedImageError
    if '://' in path:
        return None, None
    if not os.path.isfile(path):
        return 'does not exist', None
    if os.path.getsize(path) == 0:
        return 'is empty (0 bytes)', None
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (UnidentifiedImageError, OSError):
        import cv2
        return (None if cv2.haveImageReader(path) else 'is not an image file any reader here knows'), None
    if min(w, h) < min_side:
        return f'is {w}x{h} px: each side must be at least {min_side} px', (w, h)
    return None, (w, h)


def check_image_file(path: str, min_side: int = 1) -> None:
    """Raise ``ValueError`` naming ``path`` when it is not a usable image (see ``image_file_header``)."""
    fault, _ = image_file_header(path, min_side)
    if fault:
        raise ValueError(f'image {path} {fault}; give another image')
