"""``CLIPSegmentor``: MMSeg's EncoderDecoder for the CLIP-text heads, plus the training-free protocol's post-steps
(docs/training_free.md §3): optional PAMR on the logits, the background rule of VOC-21 / Context-60
(``prob_thd``), and MMSeg's label map built a chunk of classes at a time (docs/speed.md, "Large vocabularies")."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from ..class_chunks import DEFAULT_CLASS_CHUNK, chunked_label_maps, set_predictions, softmax_top
from ...utils.slide import slide_windows
from ..text_head import CLIPTextHead, check_same_clip
from .pamr import pamr as pamr_refine
from .pamr import pamr_affinity, pamr_propagate


# With the background rule and at most this many classes the label map is built in one chunk (exact softmax).
EXACT_BACKGROUND_MAX_CLASSES = 128


@MODELS.register_module()
class CLIPSegmentor(EncoderDecoder):
    """EncoderDecoder whose test-time logits (after whole or slide inference, at the input's size) go through

    1. PAMR (``pamr.enabled``; off by default; 10 iterations, dilations 1, 2, 4, 8, 12, 24) with affinities from
       the network's input image;
    2. the background rule (``prob_thd > 0``): with ``p = softmax(logit_scale * logits)`` over classes, pixels
       whose top probability is below ``prob_thd`` are given to class ``background_index`` (for VOC-21 and
       Context-60, whose class 0 is the background).

    Everything else (training, data pre-processing, resizing to the original) is MMSeg's.

    At test time the label map is built ``test_cfg.class_chunk`` classes at a time (default 16; 0 = MMSeg's
    whole-tensor path) with a running argmax, so memory holds that many class channels at full resolution and
    the labels are identical to MMSeg's ``predict`` (module ``class_chunks``). The C-channel ``seg_logits`` are
    then not kept in the output; ``test_cfg.return_logits=True`` keeps them (MMSeg's path; ``tools/test.py
    --tta`` sets it, since MMSeg's TTA merges logits). With the background rule (``prob_thd > 0``) and at most
    128 classes (VOC-21, Context-60, COCO-Object) the map is built in one chunk, so the rule's softmax over all
    classes is torch's own; with more, a first pass over the chunks gets each pixel's top probability (equal up to
    float rounding).
    """

    reads_name_queries = False  # a head with several text queries per class (AuthorsCLIPSegmentor: True)

    def __init__(self, *args, pamr: Optional[dict] = None, prob_thd: float = 0.0, logit_scale: float = 50.0,
                 background_index: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        check_same_clip(self)
        if getattr(self.decode_head, 'name_to_class', None) is not None and not self.reads_name_queries:
            raise ValueError(f'{type(self).__name__}: the head has one logit per name (name_file=...); only '
                             f"AuthorsCLIPSegmentor turns them into class scores (configs/training_free/authors/)")
        required = getattr(self.decode_head, 'requires_segmentor', None)  # a head made for one prediction step
        if required is not None and type(self).__name__ != required:
            raise ValueError(f'{type(self).__name__}: {type(self.decode_head).__name__} is read by {required} only '
                             f'(it makes the prediction itself); set model.type={required!r}')
        self.pamr_cfg = dict(enabled=False, iterations=10, dilations=(1, 2, 4, 8, 12, 24))
        unknown = set(pamr or {}) - set(self.pamr_cfg)
        if unknown:
            raise ValueError(f'CLIPSegmentor.pamr: unknown keys {sorted(unknown)}; known: {sorted(self.pamr_cfg)}')
        self.pamr_cfg.update(pamr or {})
        if not 0.0 <= prob_thd < 1.0:
            raise ValueError(f'CLIPSegmentor.prob_thd must be in [0, 1), got {prob_thd}')
        self.prob_thd = prob_thd
        self.logit_scale = logit_scale
        self.background_index = background_index

    # ----------------------------------------------------------------------------------------- class chunks
    def predict(self, inputs: torch.Tensor, data_samples=None):
        chunk = int(self.test_cfg.get('class_chunk', DEFAULT_CLASS_CHUNK) or 0)
        num_classes = self.decode_head.out_channels
        if data_samples is None or self.test_cfg.get('return_logits', False) or chunk <= 0 or num_classes < 2:
            return super().predict(inputs, data_samples)
        if self.prob_thd > 0 and num_classes <= EXACT_BACKGROUND_MAX_CLASSES:
            # the background datasets (VOC-21, Context-60, COCO-Object: 21, 60, 81 classes) in one chunk, so the
            # rule's softmax is torch's over all classes, bit for bit the whole-tensor path's
            chunk = num_classes
        metas = [sample.metainfo for sample in data_samples]
        source = self.chunk_source(inputs, metas, chunk)
        labels = chunked_label_maps(source, num_classes, metas, chunk, self.align_corners)
        return set_predictions(data_samples, labels)

    def _chunkable_head(self) -> bool:
        """A CLIP-text head whose test path is MMSeg's (forward, then ``predict_by_feat``): its logits can be resized
        class by class. Other heads (TagCLIP's own ``predict``) give their whole logits, chunked after that."""
        head = type(self.decode_head)
        return (isinstance(self.decode_head, CLIPTextHead) and head.predict is BaseDecodeHead.predict
                and head.predict_by_feat is CLIPTextHead.predict_by_feat)

    def chunk_source(self, inputs: torch.Tensor, batch_img_metas: List[dict], chunk: int):
        """(lo, hi) -> the logits of classes lo..hi-1 at the input's size, exactly those channels of
        ``self.inference(inputs, batch_img_metas)``."""
        num_classes = self.decode_head.out_channels
        if not self._chunkable_head():
            whole = self.inference(inputs, batch_img_metas)
            return lambda lo, hi: whole[:, lo:hi]
        if self.test_cfg.get('mode', 'whole') == 'slide':
            source = self._slide_source(inputs, batch_img_metas)
        else:
            source = self._whole_source(inputs, batch_img_metas)
        if self.pamr_cfg['enabled']:
            affinity = []  # made on the first chunk (its size is the logits'), shared by all

            def refined(lo, hi, raw=source):
                logits = raw(lo, hi)
                if not affinity:
                    affinity.append(pamr_affinity(inputs, logits.shape[-2:], self.pamr_cfg['dilations']))
                return pamr_propagate(affinity[0], logits, self.pamr_cfg['iterations'], self.pamr_cfg['dilations'])
            source = refined
        if self.prob_thd > 0:
            source = self._background_source(source, num_classes, chunk)
        return source

    def _head_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The head's logits on the feature grid, all classes, after its class-coupled step (prompt denoising)."""
        return self.decode_head.denoise_logits(self.decode_head.forward(self.extract_feat(inputs)))

    def _to_input(self, logits: torch.Tensor, lo: int, hi: int, metas: List[dict]) -> torch.Tensor:
        # the head's resize to the input (BaseDecodeHead.predict_by_feat), on the chunk in the memory format the
        # whole tensor has (channels-last), so each channel goes through the same kernel path
        piece = logits[:, lo:hi].contiguous(memory_format=torch.channels_last)
        return BaseDecodeHead.predict_by_feat(self.decode_head, piece, metas)

    def _whole_source(self, inputs: torch.Tensor, metas: List[dict]):
        logits = self._head_logits(inputs)
        return lambda lo, hi: self._to_input(logits, lo, hi, metas)

    def _slide_source(self, inputs: torch.Tensor, metas: List[dict]):
        """MMSeg's ``slide_inference`` with each window's logits kept on the feature grid (C x 14 x 14 for a 224
        window), resized and summed per chunk."""
        batch_size, _, h_img, w_img = inputs.size()
        windows = []
        count = inputs.new_zeros((batch_size, 1, h_img, w_img))
        for y1, y2, x1, x2 in slide_windows(h_img, w_img, self.test_cfg.crop_size, self.test_cfg.stride):
            crop = inputs[:, :, y1:y2, x1:x2]
            crop_metas = [dict(metas[0], img_shape=crop.shape[2:])] + list(metas[1:])
            windows.append((y1, y2, x1, x2, crop_metas, self._head_logits(crop)))
            count[:, :, y1:y2, x1:x2] += 1
        if (count == 0).any():
            raise RuntimeError('slide inference left pixels outside every window; check test_cfg.crop_size/stride')

        def source(lo, hi):
            preds = inputs.new_zeros((batch_size, hi - lo, h_img, w_img))
            for y1, y2, x1, x2, crop_metas, logits in windows:
                preds += F.pad(self._to_input(logits, lo, hi, crop_metas),
                               (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)))
            return preds / count
        return source

    def _background_source(self, source, num_classes: int, chunk: int):
        """The background rule on chunks. One chunk: ``apply_background_threshold`` itself. Several: a first pass
        gets each pixel's top logit and top probability over all classes (``softmax_top``; equal to the one-chunk
        rule except at pixels whose top probability is within float rounding of ``prob_thd``)."""
        if num_classes <= chunk:
            return lambda lo, hi: apply_background_threshold(source(lo, hi), self.prob_thd, self.logit_scale,
                                                             self.background_index)
        top_logit, top_prob = softmax_top(source, num_classes, chunk, self.logit_scale)
        below = (top_prob < self.prob_thd).unsqueeze(1)
        lift = (top_logit + 1.0).unsqueeze(1)
        b = self.background_index

        def thresholded(lo, hi):
            logits = source(lo, hi)
            if lo <= b < hi:
                logits = logits.clone()
                logits[:, b - lo:b - lo + 1] = torch.where(below, lift.to(logits.dtype), logits[:, b - lo:b - lo + 1])
            return logits
        return thresholded

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        seg_logits = super().inference(inputs, batch_img_metas)
        if self.pamr_cfg['enabled']:
            seg_logits = pamr_refine(inputs, seg_logits, self.pamr_cfg['iterations'], self.pamr_cfg['dilations'])
        if self.prob_thd > 0:
            seg_logits = apply_background_threshold(seg_logits, self.prob_thd, self.logit_scale,
                                                    self.background_index)
        return seg_logits

    # ----------------------------------------------- dense modes that classify inside the tower (resclip, cliper)
    def extract_feat(self, inputs: torch.Tensor):
        """MMSeg's, except that a backbone whose dense mode classifies inside the tower (``needs_text``: ResCLIP's
        semantic feedback, CLIPer's layer fusion) gets the head's class embeddings."""
        if not getattr(self.backbone, 'needs_text', False):
            return super().extract_feat(inputs)
        x = self.backbone(inputs, text=self.decode_head.current_query_embeds())
        return self.neck(x) if self.with_neck else x


def apply_background_threshold(logits: torch.Tensor, prob_thd: float, logit_scale: float,
                               background_index: int = 0) -> torch.Tensor:
    """Pixels whose top class probability ``softmax(logit_scale * logits)`` is below ``prob_thd`` become
    ``background_index`` (its logit is raised above every other class's there)."""
    top = torch.softmax(logit_scale * logits, dim=1).amax(dim=1)  # (B, H, W)
    out = logits.clone()
    lift = logits.amax(dim=1) + 1.0
    out[:, background_index] = torch.where(top < prob_thd, lift, logits[:, background_index])
    return out
