"""Making a training set's hypothesis file (docs/reclip_pp.md §5) at COCO scale, on one process or many.

- Images are decoded (``load_image_rgb``) and cropped + preprocessed in ``torch.utils.data.DataLoader`` workers
  (``HypothesisImages``); the main process concatenates the windows of consecutive images into forwards of
  ``classifier.batch_size`` windows and splits the top-1 classes back per image (``WindowStream``).
- Under ``torchrun`` (a process group initialised, e.g. by ``tools/gen_hypotheses.py --launcher pytorch``) the
  images still to do, sorted by name, are shared out: rank r takes every world-th one from the r-th.
- Each rank appends one JSON line per image to its own part file, ``OUT.parts/rank{r}.jsonl`` (first line: the
  settings), flushed per image. When every rank is done, rank 0 merges the parts, checks every image is there,
  writes ``OUT`` once (atomically, keys sorted, ``complete: true``) and removes the parts. A single process runs
  the same way (world 1), so the file is the same bytes for any number of ranks and workers.
- Resume: every rank first reads *all* part files whose settings match (whatever the earlier world size) and a
  matching partial ``OUT`` of the earlier format (one JSON rewritten every 20 images), and skips those images. A
  torn last line (a killed run) is ignored, and cut before the rank appends again.
"""
import glob
import json
import os
from collections import deque
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Dataset

from ..utils import atomic_save
from .hypotheses import (FILE_VERSION, HYPOTHESIS_DEFAULTS, HYPOTHESIS_MODES, load_image_rgb, preprocess_whole_image,
                         preprocess_windows, resolve_window, scores_to_labels, votes_to_labels, window_boxes)

PART_KIND = 'reclip_mmseg hypothesis part'


def parts_dir(out_file: str) -> str:
    """The folder of a run's part files: ``OUT.parts`` beside the output file."""
    return out_file + '.parts'


def file_header(class_names: Sequence[str], model_id: str = '', mode: str = 'windows',
                window_size=None, window_stride=None, min_vote_share=None, window_cover=None,
                threshold=None, top_k=None, precision: str = 'fp32') -> Dict:
    """The settings a hypothesis file (and each of its part files) records; a file or part made with other
    settings is not resumed from. ``precision`` (fp32, or the fp16 / bf16 autocast of the CLIP forward) is recorded
    because near-tied windows may vote differently (docs/reclip_pp.md §5); files of the earlier format, which
    do not record it, were made in fp32."""
    if mode == 'windows':
        header = dict(version=FILE_VERSION, classes=list(class_names), model=model_id, window_size=window_size,
                      window_stride=window_stride, min_vote_share=min_vote_share, window_cover=window_cover)
    else:
        header = dict(version=FILE_VERSION, classes=list(class_names), model=model_id, mode=mode,
                      threshold=threshold, top_k=top_k)
    header['precision'] = precision
    return header


def _same_settings(data: Dict, header: Dict) -> bool:
    return all(data.get(k, 'fp32' if k == 'precision' else None) == v for k, v in header.items())


class HypothesisImages(Dataset):
    """The images of a hypothesis run, each as ``dict(name=file name, crops=(N, 3, S, S))``: its windows
    (``mode='windows'``: ``window_boxes`` over the image as ``load_image_rgb`` reads it, each crop through
    ``preprocess_windows``) or its whole image (``mode='whole_image'``: ``preprocess_whole_image``, N = 1)."""

    def __init__(self, image_paths: Sequence[str], input_size: int, mode: str = 'windows',
                 window_size: Optional[Union[int, float]] = None,
                 window_stride: Union[int, float] = HYPOTHESIS_DEFAULTS['window_stride'],
                 window_cover: str = HYPOTHESIS_DEFAULTS['window_cover']):
        self.image_paths = list(image_paths)
        self.input_size = input_size
        self.mode = mode
        self.window_size, self.window_stride, self.window_cover = window_size, window_stride, window_cover

    def __len__(self) -> int:
        return len(self.image_paths)

    def __getitem__(self, index: int) -> Dict:
        path = self.image_paths[index]
        image = load_image_rgb(path)
        if self.mode == 'whole_image':
            crops = preprocess_whole_image(image, self.input_size)
        else:
            H, W = image.shape[1:]
            side, step = resolve_window(H, W, self.window_size, self.window_stride, path)
            crops = preprocess_windows(image, window_boxes(H, W, side, step, self.window_cover), self.input_size)
        return dict(name=os.path.basename(path), crops=crops)


def _one(sample):  # the DataLoader's collate: one image per item, as the dataset returns it (picklable)
    return sample


def _take(pieces: deque, n: int) -> torch.Tensor:
    """The first ``n`` rows of a queue of tensors, removed from it (a tensor is split when needed)."""
    out = []
    while n > 0:
        head = pieces[0]
        if len(head) <= n:
            out.append(pieces.popleft())
            n -= len(head)
        else:
            out.append(head[:n])
            pieces[0] = head[n:]
            n = 0
    return out[0] if len(out) == 1 else torch.cat(out)


class WindowStream:
    """Windows of consecutive images in forwards of ``batch_size``: ``put`` an image's crops, get back the images
    whose windows are all classified, in order, each with its rows of ``classify``'s output; ``close`` classifies
    what is left (a last, smaller forward)."""

    def __init__(self, classify: Callable[[torch.Tensor], torch.Tensor], batch_size: int,
                 device: Optional[torch.device] = None):
        self.classify, self.batch_size, self.device = classify, max(1, int(batch_size)), device
        self.images = deque()  # (name, rows) not handed out yet
        self.crops = deque()  # crops waiting for a forward
        self.waiting = 0
        self.outputs = deque()  # classified rows not handed out yet
        self.ready = 0

    def put(self, name: str, crops: torch.Tensor) -> List:
        if self.device is not None:
            crops = crops.to(self.device, non_blocking=True)
        self.images.append((name, len(crops)))
        if len(crops):
            self.crops.append(crops)
            self.waiting += len(crops)
        while self.waiting >= self.batch_size:
            self._forward(self.batch_size)
        return self._finished()

    def close(self) -> List:
        while self.waiting:
            self._forward(min(self.waiting, self.batch_size))
        return self._finished()

    def _forward(self, n: int) -> None:
        out = self.classify(_take(self.crops, n))
        self.waiting -= n
        self.outputs.append(out)
        self.ready += n

    def _finished(self) -> List:
        done = []
        while self.images and self.images[0][1] <= self.ready:
            name, rows = self.images.popleft()
            done.append((name, _take(self.outputs, rows) if rows else None))
            self.ready -= rows
        return done


def read_part(path: str, header: Dict) -> Optional[Dict[str, List[int]]]:
    """The entries (image name -> classes) of a part file made with ``header``'s settings, or None when its first
    line is not that header (other settings, not a part file, unreadable). Only lines ended by a newline count:
    a torn last line, from a killed run, is ignored."""
    try:
        with open(path) as f:
            lines = f.read().split('\n')
        if json.loads(lines[0]) != dict(kind=PART_KIND, settings=header):
            return None
    except (OSError, ValueError):
        return None
    entries = {}
    for line in lines[1:-1]:  # the text after the last newline is a torn line (or '')
        try:
            record = json.loads(line)
            entries[record['image']] = record['labels']
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def _earlier_file(out_file: str, header: Dict) -> Dict[str, List[int]]:
    """The entries of an existing ``out_file`` made with the same settings (a finished file, or a partial one of
    the earlier single-process format), else none."""
    if not os.path.isfile(out_file):
        return {}
    try:
        with open(out_file) as f:
            data = json.load(f)
        if isinstance(data, dict) and _same_settings(data, header) and isinstance(data.get('labels'), dict):
            return dict(data['labels'])
    except (OSError, ValueError):
        pass
    return {}


def _part_files(out_file: str) -> List[str]:
    return sorted(glob.glob(os.path.join(parts_dir(out_file), 'rank*.jsonl')))


def _open_part(path: str, header: Dict):
    """Open this rank's part file for appending: an existing one with the same settings is kept (a torn last line
    cut off first), any other is started again with the header line."""
    if os.path.isfile(path) and read_part(path, header) is not None:
        with open(path, 'rb+') as f:
            data = f.read()
            f.truncate(data.rfind(b'\n') + 1)
        return open(path, 'a')
    f = open(path, 'w')
    f.write(json.dumps(dict(kind=PART_KIND, settings=header), sort_keys=True) + '\n')
    f.flush()
    return f


def _dump_sorted(obj, path):
    with open(path, 'w') as f:
        json.dump(obj, f, sort_keys=True)


def merge_parts(out_file: str, header: Dict, names: Sequence[str], earlier: Optional[Dict] = None) -> Dict:
    """Write ``out_file`` (complete, keys sorted, atomically) from the matching part files and ``earlier`` entries,
    for exactly the images ``names``; then remove the part files. An image without an entry is an error."""
    labels = dict(earlier or {})
    parts = _part_files(out_file)
    for path in parts:
        labels.update(read_part(path, header) or {})
    missing = [n for n in names if n not in labels]
    if missing:
        raise RuntimeError(f'{len(missing)} of {len(names)} images have no hypothesis in {parts_dir(out_file)} '
                           f'(e.g. {missing[:3]}): a rank stopped early. Run the same command again: it resumes '
                           f'from the part files')
    labels = {n: labels[n] for n in names}
    atomic_save(dict(header, complete=True, labels=labels), out_file, saver=_dump_sorted)
    for path in parts:
        os.remove(path)
    try:
        os.rmdir(parts_dir(out_file))
    except OSError:  # something else is in there: left alone
        pass
    return labels


def generate_hypotheses(image_paths: Iterable[str], classifier, class_names: Sequence[str], out_file: str,
                        window_size: Optional[Union[int, float]] = None,
                        window_stride: Union[int, float] = HYPOTHESIS_DEFAULTS['window_stride'],
                        min_vote_share: float = HYPOTHESIS_DEFAULTS['min_vote_share'],
                        window_cover: str = HYPOTHESIS_DEFAULTS['window_cover'], model_id: str = '',
                        progress: bool = True, mode: str = HYPOTHESIS_DEFAULTS['mode'],
                        threshold: Optional[float] = None, top_k: Optional[int] = None,
                        workers: int = 0) -> Dict[str, List[int]]:
    """Write ``out_file`` (JSON, keys sorted) with each image's hypothesis, resuming from the part files (and a
    partial file of the earlier format) made with the same settings; see the module's docstring.

    ``classifier``: a ``WindowClassifier`` (its ``top1`` / ``cosine``, ``batch_size``, ``input_size`` and
    ``precision`` are used). ``mode='windows'`` (ReCLIP++): sliding-window votes. ``mode='whole_image'``
    (ReCLIP): the classes whose cosine with the whole image is at least ``threshold``, else the ``top_k`` best;
    the window settings are unused. ``workers``: DataLoader worker processes decoding and cropping (0: in this
    process). Under a process group every rank calls this with the same arguments; rank 0 returns the whole
    file's entries, the others the entries they made."""
    if mode not in HYPOTHESIS_MODES:
        raise ValueError(f'hypotheses.mode must be one of {HYPOTHESIS_MODES}, got {mode!r}')
    if mode == 'windows' and window_size is None:
        raise ValueError('hypotheses.window_size is not set: give the window side in px (the release: the training '
                         'crop / 6) or as a fraction of the short side')
    if mode == 'whole_image' and (threshold is None or not top_k or top_k < 1):
        raise ValueError(f'hypotheses.mode=whole_image needs hypotheses.threshold (a cosine, e.g. VOC 0.23) and '
                         f'hypotheses.top_k >= 1 (e.g. VOC 2); got threshold={threshold}, top_k={top_k}')
    image_paths = sorted(image_paths, key=os.path.basename)
    names = [os.path.basename(p) for p in image_paths]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:5]
        raise ValueError(f'image file names must be unique to key hypotheses; duplicates: {dup}')
    header = file_header(class_names, model_id, mode, window_size, window_stride, min_vote_share, window_cover,
                         threshold, top_k, getattr(classifier, 'precision', 'fp32'))
    rank, world = get_dist_info()

    # Every rank reads everything done so far before any rank writes (a part may be cut or restarted below).
    earlier = _earlier_file(out_file, header)
    done = set(earlier)
    for path in _part_files(out_file):
        done.update(read_part(path, header) or {})
    barrier()
    todo = [p for p, n in zip(image_paths, names) if n not in done]
    mine = todo[rank::world]

    made: Dict[str, List[int]] = {}
    if mine:
        os.makedirs(parts_dir(out_file), exist_ok=True)
        part = _open_part(os.path.join(parts_dir(out_file), f'rank{rank}.jsonl'), header)
        try:
            _run(mine, classifier, len(class_names), part, made, mode, window_size, window_stride, window_cover,
                 min_vote_share, threshold, top_k, workers, progress and rank == 0)
        finally:
            part.close()
    barrier()
    if rank != 0:
        return made
    return merge_parts(out_file, header, names, earlier)


def _run(paths, classifier, num_classes, part, made, mode, window_size, window_stride, window_cover,
         min_vote_share, threshold, top_k, workers, progress):
    device = getattr(getattr(classifier, 'query_embeds', None), 'device', None)
    dataset = HypothesisImages(paths, classifier.input_size, mode, window_size, window_stride, window_cover)
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_one,
                        pin_memory=device is not None and device.type == 'cuda')
    classify = classifier.cosine if mode == 'whole_image' else classifier.top1
    stream = WindowStream(classify, classifier.batch_size, device)
    bar = ProgressBar(len(paths)) if progress else None

    def write(finished):
        for name, rows in finished:
            if mode == 'whole_image':
                labels = scores_to_labels(rows[0].float().cpu().numpy(), threshold, top_k)
            else:
                labels = votes_to_labels(np.bincount(rows.numpy(), minlength=num_classes), min_vote_share)
            made[name] = labels
            part.write(json.dumps(dict(image=name, labels=labels), sort_keys=True) + '\n')
            if bar is not None:
                bar.update()
        if finished:
            part.flush()

    for sample in loader:
        write(stream.put(sample['name'], sample['crops']))
    write(stream.close())
