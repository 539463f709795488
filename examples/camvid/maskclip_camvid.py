# Your own dataset with a training-free head (README "Your own dataset"):
#   PYTHONPATH=examples/camvid python tools/test.py examples/camvid/maskclip_camvid.py
# The same lines turn any config of this repository to CamVid: the class list goes to the head (the words CLIP
# reads) and the dataset is yours.
_base_ = ['../../configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py']
custom_imports = dict(imports=['reclip_mmseg', 'camvid_dataset'], allow_failed_imports=False)
classes = ['sky', 'building', 'pole', 'road', 'sidewalk', 'tree', 'sign symbol', 'fence', 'car', 'pedestrian',
           'bicyclist']
model = dict(decode_head=dict(class_names=classes, denoise_threshold=0.0))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_dataloader = dict(dataset=dict(_delete_=True, type='CamVid11Dataset', data_root='data/CamVid',
                                    data_prefix=dict(img_path='test', seg_map_path='testannot'),
                                    pipeline=test_pipeline))
val_dataloader = test_dataloader
