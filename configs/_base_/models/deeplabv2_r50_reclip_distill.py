# ReCLIP (CVPR 2024) distillation stage as the authors released it (docs/reclip_pp.md §12): ResNet-50-V1c student at output
# stride 8, ASPP-v2 (2048 -> 512, four 3x3 convs without bias + BN + ReLU, summed), classifier
# Z_S = G.T_q - G.R (G the L2-normalised ASPP feature; T_q and R inherited from the ReCLIP teacher, frozen; no
# positional bias, nothing learnable after the ASPP). Teacher pseudo labels after softmax(10 Z) denoising at 0.5.
_base_ = ['deeplabv2_r101_reclip_pp_distill.py']
model = dict(
    backbone=dict(depth=50, init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    decode_head=dict(
        classifier='query_minus_reference',
        aspp=dict(dilations=(6, 12, 18, 24), norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'))),
    # nested, so that --cfg-options model.teacher.cfg_options.model.X=... merges with it instead of replacing it
    # norm_stats='batch': the release runs its teacher in train() mode, so the PE net's BatchNorms normalise with
    # the statistics of the current positional map, never the stored ones ('running' is the switch).
    teacher=dict(norm_stats='batch',
                 cfg_options=dict(model=dict(decode_head=dict(denoise_temperature=10.0, denoise_threshold=0.5)))))
