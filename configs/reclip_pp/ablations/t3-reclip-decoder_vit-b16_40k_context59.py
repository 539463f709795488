# Table III: ReCLIP + Decoder on context59; paper mIoU: 27.8.
#   python tools/train.py configs/reclip_pp/ablations/t3-reclip-decoder_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../../reclip/reclip_vit-b16_40k_context59.py']
# ReCLIP++'s mask decoder on [F, L_q - (L_cls + S)]. The decoder comes with ReCLIP++'s Gumbel scale (100) and
# denoising temperature (10): its BatchNorm output is O(1), where x1000 would saturate the Gumbel softmax.
model = dict(decode_head=dict(
    mask_decoder=dict(_delete_=True, type='RectifiedMaskDecoder', kernel_size=5, norm_cfg=dict(type='BN'),
                      weight_init='kaiming_fan_out'),
    gumbel=dict(scale=100.0), denoise_temperature=10.0))
