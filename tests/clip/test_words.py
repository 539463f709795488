"""The words CLIP reads (issue 23, item 3): the ReCLIP family feeds CLIP its release's per-dataset words, no two classes of
a vocabulary read the same words, and the dataset names stay MMSeg's. The Query rows are rebuilt with open_clip's
own tokenizer and ``encode_text`` from the words written out here."""
import glob

import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from conftest import ROOT, TINY_CLIP
from reclip_mmseg.clip import VOCABULARIES, OpenCLIPTextEncoder
from reclip_mmseg.clip.vocabularies import WORD_CHOICES, class_words

# The release's lists (utils/preprocess.py of the ReCLIP releases), written out independently of the module.
VOC20 = ['airplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'dining table', 'dog',
         'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa', 'train', 'tv monitor']
STUFF27 = ['electronic', 'appliance', 'food things', 'furniture things', 'indoor', 'kitchen', 'accessory', 'animal',
           'outdoor', 'person', 'sports', 'vehicle', 'ceiling', 'floor', 'food stuff', 'furniture stuff',
           'raw material', 'textile', 'wall', 'window', 'building', 'ground', 'plant', 'sky', 'solid', 'structural',
           'water']
CITYSCAPES = ['road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation',
              'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle']


@pytest.fixture(scope='module')
def release_text():
    return OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=False, words='release')


def test_release_words_per_dataset(release_text):
    assert list(release_text.prompt_texts(VOCABULARIES['voc20'])) == VOC20
    assert list(release_text.prompt_texts(VOCABULARIES['cocostuff27'])) == STUFF27
    assert list(release_text.prompt_texts(VOCABULARIES['cityscapes'])) == CITYSCAPES
    context = release_text.prompt_texts(VOCABULARIES['context59'])
    assert len(context) == 59 and (context[0], context[39], context[54]) == ('airplane', 'potted plant', 'tv monitor')
    ade = release_text.prompt_texts(VOCABULARIES['ade20k'])
    assert len(ade) == 150 and (ade[7], ade[8], ade[44], ade[148]) == ('bed', 'windowpane', 'chest of drawers',
                                                                      'clock')
    # the dataset names (what the class-name check compares) stay MMSeg's
    assert VOCABULARIES['voc20'][0] == 'aeroplane' and VOCABULARIES['cocostuff27'][2] == 'food-things'


def test_every_reclip_family_config_reads_the_release_words():
    configs = sorted(glob.glob(f'{ROOT}/configs/reclip_pp/reclip-pp*_vit-b16_*.py')
                     + glob.glob(f'{ROOT}/configs/reclip/reclip_vit-b16_*.py'))
    assert len(configs) == 20 + 5  # ReCLIP++ (with its dense-mode variants) and ReCLIP
    for path in configs:
        assert Config.fromfile(path).model.decode_head.text_encoder.words == 'release', path


def test_no_two_classes_read_the_same_words():
    for key, names in VOCABULARIES.items():
        for words in WORD_CHOICES:
            texts = [' '.join(t.lower().split()) for t in class_words(names, words)]
            assert len(set(texts)) == len(texts), (key, words)
    with pytest.raises(ValueError, match="'food-things' and 'food-stuff' would both be read by CLIP as 'Food'"):
        class_words(VOCABULARIES['cocostuff27'], {'food-things': 'food', 'food-stuff': 'Food'})


def test_query_rows_and_reference_tokens_are_built_from_the_release_words(release_text):
    """COCO-Stuff-27's food / furniture pairs: four different Query rows, each the template ensemble of its release
    words through open_clip's own tokenizer and encode_text; the Reference prompts carry the same BPE tokens."""
    names = VOCABULARIES['cocostuff27']
    query = release_text.class_embeddings(names, progress=False)
    model, tok = release_text.clip_model, open_clip.get_tokenizer('reclip-tiny')
    templates = release_text.templates
    assert len(templates) == 85
    for c in (2, 3, 14, 15, 16):
        with torch.no_grad():
            feats = F.normalize(model.encode_text(tok([t.format(STUFF27[c]) for t in templates])).float(), dim=-1)
        torch.testing.assert_close(query[c], F.normalize(feats.mean(0), dim=-1), rtol=1e-4, atol=1e-5)
    assert len({tuple(query[c].tolist()) for c in (2, 3, 14, 15)}) == 4  # was two identical pairs
    ids, _, _ = release_text.context_prompt_tokens(names, num_context=73, context_token_id=0)
    bpe = open_clip.tokenizer._tokenizer.encode('food things')
    assert ids[2, 74:74 + len(bpe)].tolist() == bpe


def test_one_dataset_token_the_earlier_vocabulary_names_still_resolve():
    from reclip_mmseg.clip.vocabularies import resolve_class_names
    assert resolve_class_names('coco_stuff27') == VOCABULARIES['cocostuff27'] and len(VOCABULARIES['cocostuff27']) == 27
    assert resolve_class_names('coco_stuff171') == VOCABULARIES['cocostuff171']
    assert 'coco_stuff27' not in VOCABULARIES  # one token per dataset; the old one is only read
