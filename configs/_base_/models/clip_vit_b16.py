# Frozen CLIP ViT-B/16 (OpenAI weights, QuickGELU) shared by the image and text towers (loaded once).
# Offline test/demo: model_name='reclip-tiny', pretrained=None (untrained; announced in the log).
clip = dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.771, 116.746, 104.094],  # CLIP mean/std, RGB (docs/reclip_pp.md §9)
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=16,  # ViT-B/16: whole patches
    test_cfg=dict(size_divisor=16))
