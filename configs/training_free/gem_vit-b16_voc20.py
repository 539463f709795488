# GEM (CVPR'24; self-self attention path over the last 6 blocks, no MLP, adaptive temperature) on voc20, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/gem_vit-b16_voc20.py
_base_ = ['./_base_/voc20.py']
# GEM's library defaults (no per-dataset constants: the release has no benchmark configs)
model = dict(backbone=dict(dense_mode='gem', gem=dict(blocks=6, iterations=1, temperature=None)))
