"""CLIPer (ICCV'25, without its Stable-Diffusion refinement FGC) evaluated as its release does: ``CLIPerHead`` (its
name files and text) and ``CLIPerAuthorsSegmentor`` (its prediction step), for configs/training_free/authors/
cliper_* (docs/training_free.md §6.5). The dense mode itself is ``CLIPViT(dense_mode='cliper')``
(reclip_mmseg/clip/cliper.py); the unified protocol's ``CLIPSegmentor`` path is unchanged."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ...clip.cliper import fuse_layer_probs, release_slide
from ...clip.vocabularies import read_cliper_name_file, resolve_class_names
from ..text_head import CLIPTextHead
from .segmentor import CLIPSegmentor

NO_CLASS = 255  # CLIPer's background on a dataset without a background class (MMSeg's ignore value)
SLIDE_MODES = ('whole', 'whole+slide')


@MODELS.register_module()
class CLIPerHead(CLIPTextHead):
    """CLIPer's text side (CLIPer@c05fa41:data/voc/voc_datasets.py:68-77, modified_clip/model.py:176-188):

    - ``name_file`` (a shipped ``'cliper/cls_voc21'``, or a path), read by CLIPer's rule
      (``read_cliper_name_file``): line 1 = background words, split on whitespace and commas, one text query
      each; every further line = one class, one prompt string as written (synonyms are not split);
    - each query's embedding = the mean of its L2-normalised template embeddings, normalised again (the text
      encoder's ``class_embeddings``; its ``words`` must be 'raw': the lines are read as written).

    ``class_names`` is the dataset's vocabulary, as for every head (``CheckClassNamesHook``). It holds the C class
    lines of the file, in order, either after a background class 0 (VOC-21, Context-60, COCO-Object: C + 1
    classes) or alone (C classes: the other datasets); ``first_class_index`` (1 or 0) says which.
    ``query_embeds`` are the C class embeddings, ``background_embeds`` the B background words'.

    Its text goes through ``CLIPerAuthorsSegmentor`` only, which makes the prediction itself; other segmentors
    refuse the head at build."""

    requires_segmentor = 'CLIPerAuthorsSegmentor'

    def __init__(self, class_names: Union[str, Sequence[str]] = 'voc21', name_file: str = 'cliper/cls_voc21',
                 text_encoder: Optional[dict] = None, **kwargs):
        self.background_words, self.class_prompts = read_cliper_name_file(name_file)
        n, C = len(resolve_class_names(class_names)), len(self.class_prompts)
        if n not in (C, C + 1):
            raise ValueError(f"CLIPerHead: name file '{name_file}' has {C} class lines (after its background line); "
                             f"class_names has {n} classes: expected {C} (a dataset without background) or {C + 1} "
                             f"(background first)")
        super().__init__(class_names=class_names, text_encoder=text_encoder, **kwargs)
        self.name_file = name_file
        self.first_class_index = n - C
        self.register_buffer('background_embeds', self.text_encoder.class_embeddings(list(self.background_words)),
                             persistent=False)

    def build_query_embeds(self, encoder, names) -> torch.Tensor:
        if encoder.words != 'raw':
            raise ValueError(f"CLIPerHead feeds each line of its name file as written, as CLIPer's release does: "
                             f"give the text encoder words='raw' (it has words={encoder.words!r})")
        return encoder.class_embeddings(list(self.class_prompts))

    def release_queries(self) -> torch.Tensor:
        """The release's softmax competitors, in its order (CLIPer@c05fa41:modified_clip/model.py:214): [the C class
        embeddings; the B background words' embeddings; the normalised mean of the C class embeddings], (C + B + 1,
        D), unit rows."""
        classes = self.query_embeds
        return torch.cat([classes, self.background_embeds.to(classes),
                          F.normalize(classes.mean(dim=0, keepdim=True), dim=-1)])

    def forward(self, inputs):
        raise RuntimeError('CLIPerHead has no logits of its own: CLIPerAuthorsSegmentor makes the prediction '
                           '(configs/training_free/authors/cliper_*)')

    def loss(self, inputs, batch_data_samples, train_cfg) -> dict:
        raise RuntimeError('CLIPerHead is training-free: evaluate it with tools/test.py CONFIG (no checkpoint).')


def cliper_decision(seg: torch.Tensor, size, score_threshold: float, bkg_thre: float, is_normalize: bool):
    """CLIPer's decision without FGC (CLIPer@c05fa41:ovs/pipeline.py:110-117, ovs/main_ovs.py:44-49,
    util/miou.py:73-104) on one image's fused class maps ``seg`` (1, C, h, w), in this order:

    1. score_c = the maximum of map c over the patch grid;
    2. the maps bilinearly (align_corners=False) to ``size`` (the ground truth's), each divided by its own maximum
       (+ 1e-5) and multiplied by score_c;
    3. a class is kept only if score_c > ``score_threshold``;
    4. ``is_normalize``: each map min-max normalised over the image (max + 1e-6);
    5. ``bkg_thre`` > 0: values below it set to 0; label = 1 + argmax over the kept classes' maps, and a pixel whose
       maximum is 0 gets label 0 (background). ``bkg_thre`` = 0 (no preset): the background score is
       (1 − max)² beside the maps, and the label is the argmax over [background; classes].

    Returns (labels (1, H, W) in CLIPer's space: 0 background, 1..C the classes; the maps the argmax saw)."""
    score = seg.amax(dim=(-2, -1))  # (1, C)
    cam = F.interpolate(seg, size=tuple(size), mode='bilinear', align_corners=False)
    cam = cam / (cam.amax(dim=(-2, -1), keepdim=True) + 1e-5) * score[..., None, None]
    keep = (score > score_threshold).to(cam.dtype)[..., None]  # (1, C, 1)
    flat = cam.flatten(2)
    if is_normalize:
        flat = flat - flat.amin(dim=-1, keepdim=True)
        flat = flat / (flat.amax(dim=-1, keepdim=True) + 1e-6)
    if bkg_thre > 0:
        flat = torch.where(flat < bkg_thre, torch.zeros_like(flat), flat)
        valid = keep * flat
        value, labels = valid.max(dim=1)
        labels = torch.where(value == 0, torch.zeros_like(labels), labels + 1)
    else:
        valid = keep * flat
        valid = torch.cat([(1 - valid.amax(dim=1, keepdim=True)) ** 2, valid], dim=1)
        labels = valid.argmax(dim=1)
    return labels.unflatten(-1, tuple(size)), valid.unflatten(-1, tuple(size))


@MODELS.register_module()
class CLIPerAuthorsSegmentor(CLIPSegmentor):
    """CLIPer's test step as its release runs it without FGC (CLIPer@c05fa41:modified_clip/model.py:205-276,
    ovs/pipeline.py:110-117, ovs/main_ovs.py:44-49; docs/training_free.md §6.5), per image:

    1. the tower (``CLIPViT(dense_mode='cliper')``, its ``cliper.logit_scale``) gives every layer's logits against
       [C classes; B background words; the classes' mean] (``CLIPerHead.release_queries``); softmax over all
       C + B + 1, the C class channels kept;
    2. ``test_cfg.mode='whole+slide'``: the release's window pass (``release_slide``: windows ``crop_size``,
       ``stride``; logits per layer summed into the patch grid, windows' attention canvas) gives a second set,
       softmaxed likewise, and the two are averaged ½/½ per layer; ``'whole'``: the whole image alone;
    3. the layers fused (``cliper.attention_thr``; the whole image's attention);
    4. ``cliper_decision`` at the original size (``score_threshold``, ``is_normalize``, ``bkg_thre``);
    5. CLIPer's label l mapped to the dataset's: l − 1 + ``decode_head.first_class_index`` for a class, and
       background (l = 0) to ``background_index``: the dataset's class 0 where it has a background (VOC-21,
       Context-60, COCO-Object), else 255, no class (``PresentClassIoUMetric`` counts it as the release counts
       its background there: a miss).

    The image must not be padded or flipped (no test-time augmentation: the release has none); with slide its
    sides must be multiples of the patch (``CLIPerResize`` makes them so). No PAMR, ``prob_thd`` or ``logit_scale``
    here (the release has none; the logit scale is the tower's)."""

    def __init__(self, *args, score_threshold: float = 0.0, bkg_thre: float = 0.0, is_normalize: bool = False,
                 background_index: Optional[int] = None, prob_thd: float = 0.0, logit_scale: Optional[float] = None,
                 **kwargs):
        if prob_thd:
            raise ValueError('CLIPerAuthorsSegmentor: CLIPer has no prob_thd (its background is bkg_thre and '
                             'score_threshold)')
        if logit_scale is not None:
            raise ValueError('CLIPerAuthorsSegmentor: the logit scale is the tower\'s, model.backbone.cliper.'
                             'logit_scale')
        super().__init__(*args, **kwargs)
        if self.pamr_cfg['enabled']:
            raise ValueError("CLIPerAuthorsSegmentor: CLIPer's release has no PAMR (model.pamr.enabled=False)")
        mode = getattr(self.backbone, 'dense_mode', None)
        if mode != 'cliper':
            raise ValueError(f"CLIPerAuthorsSegmentor needs CLIPViT(dense_mode='cliper'), got "
                             f"{type(self.backbone).__name__}(dense_mode={mode!r})")
        if not isinstance(self.decode_head, CLIPerHead):
            raise ValueError(f'CLIPerAuthorsSegmentor needs a CLIPerHead (its name files and text), got '
                             f'{type(self.decode_head).__name__}')
        if score_threshold < 0 or bkg_thre < 0:
            raise ValueError(f'CLIPerAuthorsSegmentor: score_threshold and bkg_thre must be >= 0, got '
                             f'{score_threshold}, {bkg_thre}')
        mode = self.test_cfg.get('mode', 'whole')
        if mode not in SLIDE_MODES:
            raise ValueError(f"CLIPerAuthorsSegmentor.test_cfg.mode must be one of {SLIDE_MODES}, got {mode!r}")
        if mode == 'whole+slide' and not ('crop_size' in self.test_cfg and 'stride' in self.test_cfg):
            raise ValueError("CLIPerAuthorsSegmentor: test_cfg mode='whole+slide' needs crop_size and stride")
        with_background = self.decode_head.first_class_index == 1
        if background_index is None:
            background_index = 0 if with_background else NO_CLASS
        if with_background != (background_index == 0) or (
                not with_background and 0 <= background_index < self.decode_head.num_classes):
            raise ValueError(f'CLIPerAuthorsSegmentor.background_index={background_index}: CLIPer\'s background '
                             f'must be the dataset\'s class 0 when class_names starts with it, and no class (e.g. '
                             f'{NO_CLASS}) otherwise')
        self.background_index = background_index
        self.logit_scale = self.backbone.cliper['logit_scale']
        self.score_threshold = score_threshold
        self.bkg_thre = bkg_thre
        self.is_normalize = is_normalize

    def class_maps(self, inputs: torch.Tensor) -> torch.Tensor:
        """Steps 1-3 on one image (1, 3, H, W): the fused class maps (1, C, h, w) on the patch grid."""
        head, backbone = self.decode_head, self.backbone
        queries = head.release_queries()
        C = head.query_embeds.shape[0]
        logits, mean_attn, (h, w) = backbone.cliper_layer_logits(inputs, queries)
        probs = torch.softmax(logits, dim=-1)[..., :C]  # (L, 1, N, C)
        if self.test_cfg.get('mode', 'whole') == 'whole+slide':
            slide = release_slide(lambda crop: backbone.cliper_layer_logits(crop, queries), inputs,
                                  tuple(self.test_cfg['crop_size']), tuple(self.test_cfg['stride']),
                                  backbone.patch_size)
            probs = 0.5 * torch.softmax(slide.transpose(-1, -2), dim=-1)[..., :C] + 0.5 * probs
        seg, _ = fuse_layer_probs(probs, mean_attn, backbone.cliper['attention_thr'])
        return seg.transpose(1, 2).unflatten(2, (h, w))

    def predict(self, inputs: torch.Tensor, data_samples=None):
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(ori_shape=tuple(inputs.shape[2:]),
                                                        img_shape=tuple(inputs.shape[2:])))
                            for _ in range(inputs.shape[0])]
        offset = self.decode_head.first_class_index
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            if meta.get('flip', False) or any(meta.get('padding_size', None) or [0]):
                raise ValueError('CLIPerAuthorsSegmentor: the image was flipped or padded; CLIPer has no test-time '
                                 'augmentation and no padding (data_preprocessor test_cfg=None, batch size 1)')
            with torch.no_grad():
                seg = self.class_maps(inputs[i:i + 1])
                labels, _ = cliper_decision(seg.float(), meta['ori_shape'][:2], self.score_threshold,
                                            self.bkg_thre, self.is_normalize)
            labels = torch.where(labels == 0, torch.full_like(labels, self.background_index), labels - 1 + offset)
            sample.set_data(dict(pred_sem_seg=PixelData(data=labels)))
        return data_samples

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        raise NotImplementedError('CLIPerAuthorsSegmentor predicts with its own steps (predict): the release has no '
                                  'test-time augmentation, and its decision gives labels, not per-class logits')
