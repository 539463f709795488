# Training-free MaskCLIP baseline: dense CLIP features x Query (85-template) embeddings.
_base_ = ['./clip_vit_b16.py']
model = dict(
    type='CLIPSegmentor',  # EncoderDecoder + class-chunked label maps (docs/speed.md)
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='CLIPViT', clip={{_base_.clip}}, with_global=False),
    decode_head=dict(
        type='MaskCLIPHead',
        class_names='voc20',
        text_encoder=dict(type='OpenCLIPTextEncoder', clip={{_base_.clip}}, templates='reclip85'),
        denoise_threshold=0.0),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
