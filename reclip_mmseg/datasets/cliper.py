"""CLIPer's own input and its Cityscapes halves, for its authors' protocol (configs/training_free/authors/cliper_*;
docs/training_free.md §6.5): ``CLIPerResize`` (its PIL resize), ``CLIPerCityscapesDataset`` with
``CLIPerCityscapesHalf`` (every image scored as two halves)."""
import io
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS, TRANSFORMS
from PIL import Image


def cliper_size(width: int, height: int, size: int, multiple: int = 16):
    """CLIPer's output size (w, h) (CLIPer@c05fa41:modified_clip/model.py:155-163): both sides scaled by
    ``size / min(width, height)`` (floats), then each rounded half up to a multiple of ``multiple``
    (``int(x / multiple + 0.5) * multiple``)."""
    ratio = size / min(width, height)
    return (int(width * ratio / multiple + 0.5) * multiple, int(height * ratio / multiple + 0.5) * multiple)


def cliper_resize_pil(image: Image.Image, size: int, multiple: int = 16) -> np.ndarray:
    """The release's image transform up to ToTensor, on a PIL image as ``Image.open`` gives it: resized in the file's
    own mode with PIL bicubic (PIL itself resizes palette images by nearest neighbour and RGBA with premultiplied
    alpha), **then** converted to RGB (CLIP's ``_convert_image_to_rgb`` comes after the resize). (h, w, 3) uint8,
    RGB."""
    w, h = cliper_size(image.width, image.height, size, multiple)
    return np.asarray(image.resize((w, h), Image.BICUBIC).convert('RGB'))


@TRANSFORMS.register_module()
class CLIPerResize(BaseTransform):
    """CLIPer's resize: the short side to ``size``, each side rounded to the nearest multiple of ``multiple`` (the
    patch), PIL bicubic, as the release's ``_resize`` (CLIPer@c05fa41:modified_clip/model.py:155-163).

    The release opens the file with PIL and resizes it in its own mode before converting to RGB, so with
    ``from_file=True`` (default) the image is read again here from ``results['img_path']`` with PIL (a palette PNG
    is then resized by nearest neighbour, an RGBA one with premultiplied alpha, a grey one in grey, as the release
    does; a JPEG's EXIF orientation is not applied, as in the release, and ``ori_shape`` becomes PIL's size, the
    frame the label maps are stored in). Without a file (an array given to the inference API, or
    ``from_file=False``) the loaded ``results['img']`` (MMSeg's BGR) is resized through PIL.

    Writes ``img`` in MMSeg's **BGR** order (uint8), so the data pre-processor's ``bgr_to_rgb=True`` hands CLIP the
    RGB image the release gives it, and ``img_shape``, ``scale_factor`` (w, h), ``keep_ratio=True``. The label map
    is not resized: put ``LoadAnnotations`` after this step, so predictions are scored at the original size.

    Args:
        size: the short side before rounding (the release's ``size``: 336, Cityscapes 560).
        multiple: each side is rounded to a multiple of it (the CLIP's patch size, 16 on ViT-B/16).
        from_file: read the image again from ``img_path`` with PIL (see above).
        backend_args: file backend arguments, as ``LoadImageFromFile``'s.
    """

    def __init__(self, size: int = 336, multiple: int = 16, from_file: bool = True,
                 backend_args: Optional[dict] = None):
        if size <= 0 or multiple <= 0:
            raise ValueError(f'CLIPerResize: size and multiple must be > 0, got {size}, {multiple}')
        self.size = size
        self.multiple = multiple
        self.from_file = from_file
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results.get('img_path')
        if self.from_file and path:
            image = Image.open(io.BytesIO(fileio.get(path, backend_args=self.backend_args)))
            image.load()
            results['ori_shape'] = (image.height, image.width)
        else:
            image = Image.fromarray(np.ascontiguousarray(results['img'][..., ::-1]))  # BGR -> RGB
            results.setdefault('ori_shape', (image.height, image.width))
        rgb = cliper_resize_pil(image, self.size, self.multiple)
        results['img'] = np.ascontiguousarray(rgb[..., ::-1])  # MMSeg's BGR
        h, w = rgb.shape[:2]
        results['img_shape'] = (h, w)
        results['scale_factor'] = (w / image.width, h / image.height)
        results['keep_ratio'] = True
        return results

    def __repr__(self):
        return f'{type(self).__name__}(size={self.size}, multiple={self.multiple}, from_file={self.from_file})'


HALVES = ('right', 'left')  # even index, odd index (CLIPer@c05fa41:data/cityscapes/city_datasets.py:42-73)


@TRANSFORMS.register_module()
class CLIPerCityscapesHalf(BaseTransform):
    """Cuts the sample to the half ``results['cliper_half']`` names (``CLIPerCityscapesDataset`` sets it), as
    CLIPer's Cityscapes loader does (CLIPer@c05fa41:data/cityscapes/city_datasets.py:42-73): 'right' keeps the
    columns from the height on, 'left' the first height columns; the image is cut at **its** height (after
    ``CLIPerResize``, as the release cuts the resized image), the label map at its own height (original size).
    On Cityscapes' 1024 x 2048 both halves are squares. ``ori_shape`` becomes the cut label map's size (the
    predictions are resized to it). Goes after ``CLIPerResize`` and ``LoadAnnotations``."""

    def transform(self, results: dict) -> dict:
        half = results.get('cliper_half')
        if half not in HALVES:
            raise KeyError(f"CLIPerCityscapesHalf: the sample has cliper_half={half!r}, expected one of {HALVES}: "
                           f"use it with CLIPerCityscapesDataset, which gives every image both halves")

        def cut(array):
            side = array.shape[0]
            if array.shape[1] <= side:
                raise ValueError(f"CLIPerCityscapesHalf: {results.get('img_path')} is {array.shape[0]} x "
                                 f"{array.shape[1]}; the halves need a width above the height")
            return np.ascontiguousarray(array[:, side:] if half == 'right' else array[:, :side])
        results['img'] = cut(results['img'])
        results['img_shape'] = results['img'].shape[:2]
        if 'gt_seg_map' in results:
            for key in results.get('seg_fields', ['gt_seg_map']):
                results[key] = cut(results[key])
            results['ori_shape'] = results['gt_seg_map'].shape[:2]
        else:
            h, w = results['ori_shape'][:2]
            results['ori_shape'] = (h, w - h) if half == 'right' else (h, h)
        return results


@DATASETS.register_module()
class CLIPerCityscapesDataset(CityscapesDataset):
    """MMSeg's Cityscapes, every image listed twice, as CLIPer scores it (CLIPer@c05fa41:data/cityscapes/
    city_datasets.py:42-73; docs/training_free.md §6.5): index 2i is image i's right half, 2i + 1 its left half
    (``data_info['cliper_half']``); the pipeline's ``CLIPerCityscapesHalf`` cuts them, so the dataset refuses a
    pipeline without it (every image would be scored whole, twice). Labels are MMSeg's train ids (0..18, 255), the
    release's ``labelTrainIds + 1`` with its ignored 0 mapped back (the preset's comment says how)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not any(isinstance(t, CLIPerCityscapesHalf) for t in getattr(self.pipeline, 'transforms', [])):
            raise ValueError('CLIPerCityscapesDataset: its pipeline has no CLIPerCityscapesHalf step, so each image '
                             'would be scored whole, twice; add dict(type=\'CLIPerCityscapesHalf\') after '
                             'LoadAnnotations (configs/training_free/authors/cliper_vit-b16_cityscapes.py)')

    def load_data_list(self):
        return [dict(info, cliper_half=half) for info in super().load_data_list() for half in HALVES]
