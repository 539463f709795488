"""Image-level multi-label hypotheses (docs/reclip_pp.md §5): sliding windows over the original image vote with CLIP's
ordinary global embedding against the Query embeddings; classes with enough votes form the hypothesis.
ReCLIP (docs/reclip_pp.md §12) instead scores the whole image once: classes whose cosine passes a threshold, else the top K.

Stored once per training set as JSON keyed by image file name (never by line order); made by
``generate_hypotheses`` (hypothesis_run.py: DataLoader workers, windows batched across images, torchrun ranks).
"""
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FILE_VERSION = 1


def resolve_window(height: int, width: int, size: Union[int, float], stride: Union[int, float],
                   image_name: str = '') -> Tuple[int, int]:
    """Window side and stride in pixels: ints are pixels; floats in (0, 1] are fractions (side of the image's
    short side, stride of the side)."""
    side = int(round(size * min(height, width))) if isinstance(size, float) else int(size)
    step = int(round(stride * side)) if isinstance(stride, float) else int(stride)
    if side < 1 or step < 1:
        raise ValueError(f'hypothesis window {side}px / stride {step}px: both must be >= 1 px')
    if side > min(height, width):
        raise ValueError(f'image {image_name} ({width}x{height}) is smaller than the hypothesis window ({side} px). '
                         f'Give hypotheses.window_size as a fraction of the short side (e.g. 0.15) or at most '
                         f'{min(height, width)} px, or drop the image from the split.')
    return side, step


WINDOW_COVERS = ('release', 'full')
HYPOTHESIS_MODES = ('windows', 'whole_image')  # ReCLIP++'s votes; ReCLIP's threshold + top-K
# The release's settings, the one place they are written (docs/reclip_pp.md §5): a config's ``hypotheses`` gives
# what is per dataset (the window side, crop / 6, and its stride) and may override these.
HYPOTHESIS_DEFAULTS = dict(mode='windows', window_stride=0.5, min_vote_share=0.0, window_cover='release',
                           batch_size=64)
WINDOW_CROP_DIVISOR = 6  # the release's window side: the training crop's short side / 6 (VOC 56, Context 80, 85)


def window_boxes(height: int, width: int, side: int, stride: int, cover: str = 'release'
                 ) -> List[Tuple[int, int, int, int]]:
    """Square windows ``(x0, y0, x1, y1)``.

    ``cover='release'`` (default, docs/reclip_pp.md §5): starts ``range(0, length - side, stride)``, end exclusive, so no window
    is flush with the far edge (24 windows on a 200x150 image, side 56, stride 28); an image exactly one window
    long, where that range is empty, gets the one window at 0. ``cover='full'``: starts at multiples of ``stride``
    plus one flush with the far edge if the grid stops short of it, so every pixel is covered (more windows,
    so more classes may get a vote)."""
    if cover not in WINDOW_COVERS:
        raise ValueError(f'hypothesis window cover must be one of {WINDOW_COVERS}, got {cover!r}')

    def starts(length):
        if cover == 'release':
            return list(range(0, length - side, stride)) or [0]
        s = list(range(0, length - side + 1, stride))
        if s[-1] + side < length:
            s.append(length - side)
        return s
    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


def preprocess_windows(image: torch.Tensor, boxes: Sequence[Tuple[int, int, int, int]], size: int = 224
                       ) -> torch.Tensor:
    """CLIP preprocessing of square crops of ``image`` (3, H, W) float in [0, 1]: bicubic (antialiased) resize to
    ``size``, clamp, normalise with CLIP's mean/std -> (N, 3, size, size)."""
    crops = torch.stack([image[:, y0:y1, x0:x1] for x0, y0, x1, y1 in boxes])
    crops = F.interpolate(crops, size=(size, size), mode='bicubic', align_corners=False, antialias=True)
    return clip_normalise(crops)


def clip_normalise(x: torch.Tensor) -> torch.Tensor:
    """Clamp resized images (N, 3, H, W) in [0, 1] and normalise them with CLIP's mean/std."""
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return (x.clamp(0, 1) - mean) / std


def preprocess_whole_image(image: torch.Tensor, size: int = 224) -> torch.Tensor:
    """CLIP's own preprocessing of a whole image (3, H, W) in [0, 1]: short side to ``size`` (bicubic, antialiased;
    the long side ``int(size · long / short)`` as torchvision computes it), centre crop ``size``×``size``
    (offsets rounded as torchvision's CenterCrop), clamp, CLIP mean/std -> (1, 3, size, size)."""
    _, H, W = image.shape
    if H <= W:
        new_h, new_w = size, int(size * W / H)
    else:
        new_h, new_w = int(size * H / W), size
    x = F.interpolate(image[None], size=(new_h, new_w), mode='bicubic', align_corners=False, antialias=True)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return clip_normalise(x[..., top:top + size, left:left + size])


def scores_to_labels(cosine: np.ndarray, threshold: float, top_k: int) -> List[int]:
    """ReCLIP's whole-image hypothesis: the classes whose cosine is at least ``threshold``; if none, the ``top_k``
    classes of highest cosine (ascending class order either way)."""
    keep = np.flatnonzero(cosine >= threshold)
    if keep.size == 0:
        keep = np.sort(np.argsort(-cosine, kind='stable')[:top_k])
    return [int(c) for c in keep]


def votes_to_labels(votes: np.ndarray, min_vote_share: float = 0.0) -> List[int]:
    """Classes whose share of the windows' votes exceeds ``min_vote_share`` (0: at least one vote, the release)."""
    share = votes / max(votes.sum(), 1)
    keep = share > min_vote_share if min_vote_share > 0 else votes > 0
    return [int(c) for c in np.flatnonzero(keep)]


PRECISIONS = ('fp32', 'fp16', 'bf16')  # the CLIP forward of the windows: fp32, or under autocast to fp16 / bf16


class WindowClassifier:
    """Top-1 class of each window by the CLIP global embedding vs the Query embeddings, windows batched.

    Args:
        image_encoder: a ``CLIPViT``; its ``encode_global`` is open_clip's ``encode_image`` minus the last
            block's work for tokens other than the class token.
        query_embeds: (C, D) Query embeddings.
        batch_size: windows per forward.
        precision: 'fp32', or 'fp16' / 'bf16': the image tower runs under ``torch.autocast`` with that dtype (the
            release made its hypotheses with CLIP in fp16); the cosines are computed in fp32 either way.
    """

    def __init__(self, image_encoder: torch.nn.Module, query_embeds: torch.Tensor, batch_size: int = 64,
                 precision: str = 'fp32'):
        if not hasattr(image_encoder, 'encode_global'):
            raise TypeError(f'WindowClassifier needs a CLIPViT (reclip_mmseg.clip.CLIPViT), got '
                            f'{type(image_encoder).__name__}; build one with CLIPViT(clip=cfg.model.backbone.clip)')
        if precision not in PRECISIONS:
            raise ValueError(f'hypothesis precision must be one of {PRECISIONS}, got {precision!r}')
        self.image_encoder = image_encoder
        self.query_embeds = F.normalize(query_embeds.float(), dim=-1)
        self.batch_size = batch_size
        self.precision = precision
        size = image_encoder.visual.image_size
        self.input_size = size[0] if isinstance(size, (tuple, list)) else size

    @torch.no_grad()
    def cosine(self, crops: torch.Tensor) -> torch.Tensor:
        """(N, C) cosine, on the classifier's device, between preprocessed crops (N, 3, S, S) and each Query
        embedding; one forward (the caller batches)."""
        device = self.query_embeds.device
        crops = crops.to(device, non_blocking=True)
        if self.precision == 'fp32':
            emb = self.image_encoder.encode_global(crops)
        else:
            dtype = torch.float16 if self.precision == 'fp16' else torch.bfloat16
            with torch.autocast(device.type, dtype=dtype):
                emb = self.image_encoder.encode_global(crops)
        return F.normalize(emb.float(), dim=-1) @ self.query_embeds.t()

    def top1(self, crops: torch.Tensor) -> torch.Tensor:
        """(N,) top-1 class (int64, on the CPU) of preprocessed crops; one forward."""
        return self.cosine(crops).argmax(dim=-1).cpu()

    @torch.no_grad()
    def votes(self, image: torch.Tensor, boxes: Sequence[Tuple[int, int, int, int]]) -> np.ndarray:
        """(C,) votes of one image's windows (the per-image path; ``generate_hypotheses`` batches windows across
        images instead, with the same votes)."""
        image = image.to(self.query_embeds.device)
        top1 = [self.top1(preprocess_windows(image, boxes[i:i + self.batch_size], self.input_size))
                for i in range(0, len(boxes), self.batch_size)]
        return np.bincount(torch.cat(top1).numpy(), minlength=self.query_embeds.shape[0])

    @torch.no_grad()
    def whole_image_cosine(self, image: torch.Tensor) -> np.ndarray:
        """(C,) cosine between the whole image's global embedding (CLIP preprocessing) and each Query embedding."""
        x = preprocess_whole_image(image.to(self.query_embeds.device), self.input_size)
        return self.cosine(x)[0].cpu().numpy()


def load_image_rgb(path: str) -> torch.Tensor:
    """(3, H, W) float in [0, 1], RGB, upright: the image as MMSeg's loading sees it (EXIF orientation applied,
    as OpenCV's colour decode does), in RGB order (what CLIP was trained on). Read with PIL: palette, grayscale,
    LA/RGBA (alpha dropped, not composited) and CMYK images are converted to RGB; 16-bit grayscale keeps its
    precision (divided by 65535). Unreadable -> an error naming the file.

    (mmcv 2.1's ``imread(flag='unchanged', backend='pillow')`` returned BGR whatever ``channel_order`` said, and
    skipped EXIF orientation: the hypotheses were computed on colour-swapped, sometimes sideways images.)"""
    from PIL import Image, ImageOps
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I'):  # 16-bit grayscale ('I': PNG 16-bit as int32)
                gray = np.asarray(im, dtype=np.float32) / 65535.0
                img = np.repeat(gray[..., None], 3, axis=2)
            else:
                img = np.asarray(im.convert('RGB'), dtype=np.float32) / 255.0
    except Exception as err:  # noqa: BLE001
        raise OSError(f'cannot read image {path}: {err}. Replace or remove the file.') from err
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).contiguous().clamp_(0, 1)


# The settings a hypothesis file records per mode; a file made with others is refused (issue 27, item 8).
MODE_SETTINGS = {'windows': ('window_size', 'window_stride', 'min_vote_share', 'window_cover'),
                 'whole_image': ('threshold', 'top_k')}


def file_mode(data: Dict) -> str:
    """A file's mode: 'whole_image' files record it; window files (ReCLIP++, the first format) do not."""
    return data.get('mode', 'windows')


def check_hypothesis_settings(data: Dict, path: str, expected: Optional[Dict]) -> None:
    """Refuse a file whose mode or settings differ from the config's ``hypotheses`` (a ReCLIP file given to a
    ReCLIP++ config or the other way round, another window size, threshold or top-K). Settings the config does not
    give are not compared."""
    if not expected:
        return
    want = expected.get('mode', 'windows')
    got = file_mode(data)
    how = f'delete it and run `python tools/gen_hypotheses.py CONFIG` (it writes {path})'
    if got != want:
        family = {'windows': "ReCLIP++'s window votes", 'whole_image': "ReCLIP's whole-image scores"}
        raise ValueError(f'hypothesis file {path} holds {family.get(got, got)} (mode {got!r}) but the config makes '
                         f'{family.get(want, want)} (hypotheses.mode={want!r}); {how}, or point the config at the '
                         f'file of its own mode')
    differ = [f'{k}: file {data.get(k)!r}, config {expected[k]!r}' for k in MODE_SETTINGS.get(want, ())
              if k in expected and k in data and data.get(k) != expected[k]]
    if differ:
        raise ValueError(f'hypothesis file {path} was made with other settings ({"; ".join(differ)}); {how}')


def check_hypothesis_entries(labels: Dict, num_classes: int, path: str) -> None:
    """Every entry a list of integer class indices in [0, num_classes), named with its image when not."""
    for image, entry in labels.items():
        bad = None
        if not isinstance(entry, list):
            bad = f'is {entry!r}, not a list of class indices'
        else:
            for value in entry:
                if isinstance(value, bool) or not isinstance(value, int):
                    bad = f'holds {value!r}, not an integer class index'
                elif not 0 <= value < num_classes:
                    bad = f'holds class index {value}, outside 0..{num_classes - 1} ({num_classes} classes)'
                if bad:
                    break
        if bad:
            raise ValueError(f'hypothesis file {path}: the entry of image {image} ({entry!r}) {bad}. The file is '
                             f'damaged or hand-edited: delete it and run `python tools/gen_hypotheses.py CONFIG`')


def read_hypothesis_file(path: str, class_names: Optional[Sequence[str]] = None,
                         expected: Optional[Dict] = None) -> Dict:
    """Load and check a hypothesis file: complete, for these classes, every entry valid, and made in the mode and
    with the settings of the config's ``hypotheses`` (``expected``); errors say which command (re)creates it."""
    how = 'create it with `python tools/gen_hypotheses.py CONFIG`'
    if not os.path.isfile(path):
        raise FileNotFoundError(f'hypothesis file {path} does not exist: {how}')
    try:
        with open(path) as f:
            data = json.load(f)
    except ValueError as err:
        raise ValueError(f'hypothesis file {path} is corrupt ({err}): delete it and {how}') from err
    if not isinstance(data, dict) or data.get('version') != FILE_VERSION or 'labels' not in data:
        raise ValueError(f'hypothesis file {path} is not a reclip_mmseg hypothesis file (version {FILE_VERSION}): {how}')
    if not data.get('complete', False):
        raise ValueError(f'hypothesis file {path} is incomplete (generation was interrupted): run '
                         f'`python tools/gen_hypotheses.py CONFIG` again to finish it')
    labels = data['labels']
    if labels and not any(labels.values()):
        raise ValueError(f'hypothesis file {path}: all {len(labels)} images have an empty hypothesis, so training '
                         f'would run at loss 0 and learn nothing. Check the CLIP weights and the window size '
                         f'(hypotheses.window_size, min_vote_share), delete the file and {how}')
    if class_names is not None and list(data['classes']) != list(class_names):
        raise ValueError(f'hypothesis file {path} is stale: made for classes {data["classes"]} but the config uses '
                         f'{list(class_names)}; delete it and {how}')
    if not isinstance(labels, dict):
        raise ValueError(f'hypothesis file {path}: "labels" is not a mapping image -> classes; delete it and {how}')
    check_hypothesis_entries(labels, len(data.get('classes') or class_names or ()), path)
    check_hypothesis_settings(data, path, expected)
    return data
