# CLIPer (ICCV'25) without its diffusion refinement (FGC): its authors' protocol (CLIPer@c05fa41; docs/training_free.md
# §6.5), what its eight ViT-B/16 presets share. Each configs/training_free/authors/cliper_vit-b16_{dataset}.py holds
# its dataset's row (size, whole or whole + slide, templates, logit scale, score_threshold, bkg_thre, is_normalize,
# attention_thr, name file, ignored labels) and its metric.
# Not the SCLIP lineage's skeleton (./authors.py): CLIPer has its own scripts, loaders and metric.
# - FGC (Stable Diffusion; the release's default --refinement SFSA, util/args.py:18-23) is off, as its
#   `--refinement None` runs; the fused maps go straight to the decision.
# - Input: CLIPerResize (short side to `size`, each side rounded half up to a multiple of 16, PIL bicubic on the
#   file as PIL opens it, then RGB), the CLIP mean/std, no padding; the label map loaded after the resize, so the
#   prediction is scored at the label map's size (the release's GT size).
# - Tower: dense_mode='cliper' (docs/training_free.md §2.2) with the release's positional resize, bilinear by size
#   (pos_resize='size_bilinear', CLIPer@c05fa41:modified_clip/model.py:165-174), and no padding to the patch
#   (the sides are multiples of 16 already). model.backbone.cliper holds the logit scale and attention_thr.
# - Text (CLIPerHead): CLIPer's own name file (line 1: background words, split on spaces and commas, one query
#   each; every further line: one prompt, synonyms not split), its template file per dataset ('cliper_car15', the
#   15 "car" prompts, or 'imagenet80', its openai_template.txt), the words as written.
# - CLIPerAuthorsSegmentor: softmax over [classes; background words; the classes' mean] at the tower's logit scale,
#   the class channels kept; the whole image, or 1/2 whole + 1/2 slide (windows `crop_size`, stride 112, the default
#   of the release's forward_slide, which its call does not change: modified_clip/model.py:222, :235); the layers
#   fused; then score_threshold on each class's image maximum, optional min-max (is_normalize), values below
#   bkg_thre -> 0, label = 1 + argmax, 0 where nothing is left (background). No PAMR, prob_thd or area_thd.
# - Labels: each dataset's own encoding (./datasets/, as the other authors' presets). CLIPer's label l is class l of
#   a dataset whose class 0 is the background (VOC-21, Context-60, COCO-Object), and class l - 1 of the others,
#   where CLIPer's background (l = 0) becomes 255: no class (background_index). The release's shifted label maps
#   (train ids + 1, ignore [0, 255]) are the same pixels with the same classes: each preset says how.
# - Metric (set in each preset, after its data base): PresentClassIoUMetric, CLIPer's mIoU (one confusion matrix,
#   IoU = TP / (row + column - TP + 1e-5), the mean over the classes present in the ground truth).
# Precision: clip.precision='auto', OpenAI's fp16 CLIP on CUDA as the release, fp32 on a CPU (docs/training_free.md §6.4).
# Not reproduced: FGC (docs/training_free.md §6.4).
_base_ = ['../../../_base_/models/maskclip_vit_b16.py', '../../../_base_/default_runtime.py']
model = dict(
    type='CLIPerAuthorsSegmentor',
    data_preprocessor=dict(size_divisor=None, test_cfg=None),
    # precision 'auto': OpenAI's fp16 CLIP when torch sees CUDA, fp32 otherwise, as the release's clip.load
    backbone=dict(clip=dict(precision='auto'), dense_mode='cliper', pos_resize='size_bilinear', pad_to_patch=False,
                  cliper=dict(logit_scale=100.0, attention_thr=0.1)),
    decode_head=dict(type='CLIPerHead', name_file='cliper/cls_voc21',
                     text_encoder=dict(clip=dict(precision='auto'), templates='cliper_car15', words='raw')),
    score_threshold=0.0,
    bkg_thre=0.0,
    is_normalize=False,
    background_index=None,  # None: the dataset's class 0 if class_names starts with the background, else 255
    pamr=dict(enabled=False),  # the release has no PAMR (the segmentor refuses it)
    test_cfg=dict(mode='whole'))
train_cfg = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
