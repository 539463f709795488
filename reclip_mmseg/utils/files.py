"""Cache files written atomically and once per job (not raced by distributed ranks)."""
import contextlib
import errno
import glob
import os
import shutil
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
        try:
            (saver or torch.save)(obj, tmp)
        except (OSError, RuntimeError) as err:
            if isinstance(err, RuntimeError) and not _is_write_failure(err):
                raise
            raise write_error(path, err) from err
        # mkstemp creates 0600; give the file the permissions a plain open() would (shared caches, other users)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _is_write_failure(err: RuntimeError) -> bool:
    """torch's C++ writer reports a failed write (a full disk: ENOSPC) as a RuntimeError ('unexpected pos N vs M',
    'file write failed')."""
    return any(s in str(err) for s in ('unexpected pos', 'write failed', 'file write'))


def free_space(folder: str) -> str:
    """The free space of the disk holding ``folder`` (its nearest existing parent), for messages."""
    folder = os.path.abspath(folder)
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return 'unknown free space'
    for unit in ('bytes', 'KiB', 'MiB', 'GiB', 'TiB'):
        if free < 1024 or unit == 'TiB':
            return f'{free:.0f} {unit} free' if unit == 'bytes' else f'{free:.1f} {unit} free'
        free /= 1024
    return ''


def write_error(path: str, err: BaseException) -> OSError:
    """An ``OSError`` (the original errno; ENOSPC for torch's failed writes) naming ``path``, the free space on its
    disk and the original error."""
    code = getattr(err, 'errno', None) or errno.ENOSPC
    full = ' (the disk is full)' if code == errno.ENOSPC else ''
    where = os.path.dirname(os.path.abspath(path))
    return OSError(code, f'could not write {path}{full}: {type(err).__name__}: {err}; {free_space(where)} on the '
                         f'disk of {where}. Nothing partial was left at {path} (it is absent or as it was before); '
                         f'free some space (or write elsewhere) and run again.')


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


# EXIF orientations 5..8 turn the picture by 90 degrees: a loader that applies them (OpenCV's colour read, which
# MMSeg's LoadImageFromFile uses) returns height x width where the header says width x height.
_EXIF_ORIENTATION, _QUARTER_TURNS = 0x0112, (5, 6, 7, 8)


def _exif_orientation(img) -> Optional[int]:
    """The EXIF orientation tag of an opened PIL image, from the header (``info['exif']``, parsed at open for JPEG,
    PNG eXIf and WebP) without decoding pixels; None when there is none."""
    raw = img.info.get('exif')
    if not raw:
        return None
    from PIL import Image
    exif = Image.Exif()
    try:
        exif.load(raw)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: the loaders ignore it too
        return None
    return exif.get(_EXIF_ORIENTATION)


def image_file_header(path: str, min_side: int, label: bool = False
                      ) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
    """(why the image or label file cannot be used or None, its (w, h) or None), from the header only. Paths
    that are not local files (a storage backend's URI) and formats only OpenCV reads pass unmeasured.

    An image's size is the upright one (its EXIF orientation applied, as MMSeg's image loader does); a label map
    is read as stored (MMSeg reads labels 'unchanged') and must have one channel (class indices: grey 'L',
    palette 'P' or 16-bit PNG), not several (an RGB colour label)."""
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
            mode, bands = img.mode, len(img.getbands())
            if not label and _exif_orientation(img) in _QUARTER_TURNS:
                w, h = h, w
    except (UnidentifiedImageError, OSError):
        import cv2
        return (None if cv2.haveImageReader(path) else 'is not an image file any reader here knows'), None
    if min(w, h) < min_side:
        return f'is {w}x{h} px: each side must be at least {min_side} px', (w, h)
    if label and bands != 1:
        return f'is a {mode}-mode image ({bands} channels): {LABEL_CHANNELS_FAULT}', (w, h)
    return None, (w, h)


# A label map of several channels is named with this; CheckImageFilesHook then adds LABEL_MODE_HINT once.
LABEL_CHANNELS_FAULT = 'a label map needs one channel of class indices'
LABEL_MODE_HINT = (
    "A label map holds one class index per pixel (a grey 'L', a palette 'P' or a 16-bit PNG; a 'P' PNG such as "
    "VOC's is read as indices and is fine). An RGB label whose colours stand for classes needs a colour-to-index "
    "map: index = np.full(rgb.shape[:2], 255, np.uint8); for i, colour in enumerate(PALETTE): "
    "index[(rgb == colour).all(-1)] = i; Image.fromarray(index).save(path) (PALETTE: your dataset's class "
    "colours, in class order). A grey map saved as RGB (three equal channels) converts with "
    "Image.open(path).convert('L').save(path).")


def check_image_file(path: str, min_side: int = 1) -> None:
    """Raise ``ValueError`` naming ``path`` when it is not a usable image (see ``image_file_header``)."""
    fault, _ = image_file_header(path, min_side)
    if fault:
        raise ValueError(f'image {path} {fault}; give another image')


def prediction_file_name(info: dict) -> str:
    """The PNG name of one sample's prediction under ``tools/test.py --out``, for the metrics that write them and
    for the manifest that lists them: the image's base name, as MMSeg's ``IoUMetric`` names it, with ``_right`` /
    ``_left`` added for CLIPer's Cityscapes halves (``cliper_half``), which score every image twice."""
    name = os.path.splitext(os.path.basename(info['img_path']))[0]
    half = info.get('cliper_half')
    return f'{name}_{half}.png' if half else f'{name}.png'
