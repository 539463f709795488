"""Class vocabularies of the benchmarks, the words fed to CLIP for them, and the prompt templates (docs: the
Query head, docs/reclip_pp.md §2; the release's words, docs/reclip_pp.md §14).

A vocabulary is the dataset's own class list (the names in the dataset's ``METAINFO``), so a config's class
list can be checked against it name by name. The words CLIP reads are chosen per family (``class_words``):
'release' (ReCLIP / ReCLIP++: the authors' per-dataset lists, ``RELEASE_WORDS``), 'readable' (dataset spellings
made readable, ``PROMPT_NAMES``: 'pottedplant' -> 'potted plant') or 'raw' (the dataset names as they are, as
TagCLIP / ZegCLIP feed them). No two classes may read the same words: their embeddings would be identical.
"""
import os
import re
from typing import Dict, List, Sequence, Tuple, Union

from mmseg.datasets import (ADE20KDataset, CityscapesDataset, COCOStuffDataset, PascalContextDataset,
                            PascalContextDataset59,
                            PascalVOCDataset)
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

VOC20_CLASSES = PascalVOCDataset.METAINFO['classes'][1:]  # VOC without background (ignored by the protocol)
VOC20_PALETTE = PascalVOCDataset.METAINFO['palette'][1:]

# The 27 coarse COCO-Stuff classes of the unsupervised-segmentation literature (12 thing supercategories,
# then 15 stuff supercategories). 'food' and 'furniture' are both a thing and a stuff supercategory.
COCO_STUFF27_CLASSES = (
    'electronic', 'appliance', 'food-things', 'furniture-things', 'indoor', 'kitchen', 'accessory', 'animal',
    'outdoor', 'person', 'sports', 'vehicle',
    'ceiling', 'floor', 'food-stuff', 'furniture-stuff', 'rawmaterial', 'textile', 'wall', 'window', 'building',
    'ground', 'plant', 'sky', 'solid', 'structural', 'water')

# COCO-Object (docs/dataset_prepare.md): background, then the 80 COCO thing classes in COCO order (the first 80 of MMSeg's
# COCO-Stuff list).
COCO_OBJECT_CLASSES = ('background',) + tuple(COCOStuffDataset.METAINFO['classes'][:80])

VOCABULARIES: Dict[str, Tuple[str, ...]] = {
    'voc20': tuple(VOC20_CLASSES),
    'voc21': tuple(PascalVOCDataset.METAINFO['classes']),
    'context59': tuple(PascalContextDataset59.METAINFO['classes']),
    'context60': tuple(PascalContextDataset.METAINFO['classes']),
    'ade20k': tuple(ADE20KDataset.METAINFO['classes']),
    'cityscapes': tuple(CityscapesDataset.METAINFO['classes']),
    'cocostuff27': COCO_STUFF27_CLASSES,
    'cocostuff171': tuple(COCOStuffDataset.METAINFO['classes']),
    'cocoobject': COCO_OBJECT_CLASSES,
}
# The names of an earlier version (the dataset tokens are those of configs/README.md); still read.
VOCABULARY_ALIASES: Dict[str, str] = {'coco_stuff27': 'cocostuff27', 'coco_stuff171': 'cocostuff171'}

# Dataset spelling -> words for the prompt ('readable'). Names absent here are used as they are (stripped).
PROMPT_NAMES: Dict[str, str] = {
    'diningtable': 'dining table', 'pottedplant': 'potted plant', 'tvmonitor': 'tv monitor',
    'food-things': 'food things', 'furniture-things': 'furniture things', 'food-stuff': 'food stuff',
    'furniture-stuff': 'furniture stuff', 'rawmaterial': 'raw material',
}

# The words ReCLIP's and ReCLIP++'s releases feed CLIP (their own per-dataset lists, in dataset order; docs/reclip_pp.md
# §14), for the Query and the Reference prompts alike. The dataset names (``VOCABULARIES``) stay MMSeg's.
_ADE150_WORDS = (
    'wall, building, sky, floor, tree, ceiling, road, bed, windowpane, grass, cabinet, sidewalk, person, earth, '
    'door, table, mountain, plant, curtain, chair, car, water, painting, sofa, shelf, house, sea, mirror, rug, '
    'field, armchair, seat, fence, desk, rock, wardrobe, lamp, bathtub, railing, cushion, base, box, column, '
    'signboard, chest of drawers, counter, sand, sink, skyscraper, fireplace, refrigerator, grandstand, path, '
    'stairs, runway, case, pool table, pillow, screen door, stairway, river, bridge, bookcase, blind, coffee table, '
    'toilet, flower, book, hill, bench, countertop, stove, palm, kitchen island, computer, swivel chair, boat, bar, '
    'arcade machine, hovel, bus, towel, light, truck, tower, chandelier, awning, streetlight, booth, '
    'television receiver, airplane, dirt track, apparel, pole, land, bannister, escalator, ottoman, bottle, '
    'buffet, poster, stage, van, ship, fountain, conveyer belt, canopy, washer, plaything, swimming pool, stool, '
    'barrel, basket, waterfall, tent, bag, minibike, cradle, oven, ball, food, step, tank, trade name, microwave, '
    'pot, animal, bicycle, lake, dishwasher, screen, blanket, sculpture, hood, sconce, vase, traffic light, tray, '
    'ashcan, fan, pier, crt screen, plate, monitor, bulletin board, shower, radiator, glass, clock, flag')
_STUFF171_WORDS = (
    'person, bicycle, car, motorcycle, airplane, bus, train, truck, boat, traffic light, fire hydrant, stop sign, '
    'parking meter, bench, bird, cat, dog, horse, sheep, cow, elephant, bear, zebra, giraffe, backpack, umbrella, '
    'handbag, tie, suitcase, frisbee, skis, snowboard, sports ball, kite, baseball bat, baseball glove, skateboard, '
    'surfboard, tennis racket, bottle, wine glass, cup, fork, knife, spoon, bowl, banana, apple, sandwich, orange, '
    'broccoli, carrot, hot dog, pizza, donut, cake, chair, couch, potted plant, bed, dining table, toilet, tv, '
    'laptop, mouse, remote, keyboard, cell phone, microwave, oven, toaster, sink, refrigerator, book, clock, vase, '
    'scissors, teddy bear, hair drier, toothbrush, banner, blanket, branch, bridge, building, bush, cabinet, cage, '
    'cardboard, carpet, ceiling, tile ceiling, cloth, clothes, clouds, counter, cupboard, curtain, desk, dirt, '
    'door, fence, marble floor, floor, stone floor, tile floor, wood floor, flower, fog, food, fruit, furniture, '
    'grass, gravel, ground, hill, house, leaves, light, mat, metal, mirror, moss, mountain, mud, napkin, net, '
    'paper, pavement, pillow, plant, plastic, platform, playingfield, railing, railroad, river, road, rock, roof, '
    'rug, salad, sand, sea, shelf, sky, skyscraper, snow, solid, stairs, stone, straw, structural, table, tent, '
    'textile, towel, tree, vegetable, brick wall, concrete wall, wall, panel wall, stone wall, tile wall, '
    'wood wall, water, waterdrops, blind window, window, wood')
RELEASE_WORDS: Dict[str, Tuple[str, ...]] = {
    'voc20': ('airplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'dining table',
              'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa', 'train', 'tv monitor'),
    'context59': (
        'airplane', 'bag', 'bed', 'bedclothes', 'bench', 'bicycle', 'bird', 'boat', 'book', 'bottle', 'building',
        'bus', 'cabinet', 'car', 'cat', 'ceiling', 'chair', 'cloth', 'computer', 'cow', 'cup', 'curtain', 'dog',
        'door', 'fence', 'floor', 'flower', 'food', 'grass', 'ground', 'horse', 'keyboard', 'light', 'motorbike',
        'mountain', 'mouse', 'person', 'plate', 'platform', 'potted plant', 'road', 'rock', 'sheep', 'shelves',
        'sidewalk', 'sign', 'sky', 'snow', 'sofa', 'table', 'track', 'train', 'tree', 'truck', 'tv monitor', 'wall',
        'water', 'window', 'wood'),
    'ade20k': tuple(_ADE150_WORDS.split(', ')),
    'cityscapes': ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                   'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
                   'bicycle'),
    'cocostuff27': ('electronic', 'appliance', 'food things', 'furniture things', 'indoor', 'kitchen', 'accessory',
                     'animal', 'outdoor', 'person', 'sports', 'vehicle', 'ceiling', 'floor', 'food stuff',
                     'furniture stuff', 'raw material', 'textile', 'wall', 'window', 'building', 'ground', 'plant',
                     'sky', 'solid', 'structural', 'water'),
    'cocostuff171': tuple(_STUFF171_WORDS.split(', ')),
}
WORD_CHOICES = ('release', 'readable', 'raw')


# The 80 ImageNet templates of CLIP (as open_clip ships them) plus ReCLIP++'s 5 scene templates.
IMAGENET_TEMPLATES: Tuple[str, ...] = tuple(t('{}') for t in OPENAI_IMAGENET_TEMPLATES)
SCENE_TEMPLATES: Tuple[str, ...] = (
    'there is a {} in the scene.', 'there is the {} in the scene.', 'this is a {} in the scene.',
    'this is the {} in the scene.', 'this is one {} in the scene.')
# TagCLIP / ZegCLIP text (docs/tagclip.md §2.2): VOC uses one template without a period, COCO-Stuff a 15-template
# ensemble (template list from ZegCLIP, MIT licence).
ZEGCLIP15_TEMPLATES: Tuple[str, ...] = (
    'a photo of a {}.', 'a photo of a small {}.', 'a photo of a medium {}.', 'a photo of a large {}.',
    'This is a photo of a {}.', 'This is a photo of a small {}.', 'This is a photo of a medium {}.',
    'This is a photo of a large {}.', 'a {} in the scene.', 'a photo of a {} in the scene.',
    'There is a {} in the scene.', 'There is the {} in the scene.', 'This is a {} in the scene.',
    'This is the {} in the scene.', 'This is one {} in the scene.')
# CLIPer's "car" templates (CLIPer@c05fa41:template/car_template.txt:1-15; docs/training_free.md §6.5), its text on six
# of its eight ViT-B/16 presets, exactly as the file has them: four (3-6) without a final period. Its other set,
# template/openai_template.txt, is the 80 ImageNet templates in the same order ('imagenet80').
CLIPER_CAR15_TEMPLATES: Tuple[str, ...] = (
    'a clean origami {}.', 'a photo of a {}.', 'This is a photo of a {}', 'There is a {} in the scene',
    'There is the {} in the scene', 'a photo of a {} in the scene', 'a photo of a small {}.',
    'a photo of a medium {}.', 'a photo of a large {}.', 'This is a photo of a small {}.',
    'This is a photo of a medium {}.', 'This is a photo of a large {}.', 'There is a small {} in the scene.',
    'There is a medium {} in the scene.', 'There is a large {} in the scene.')
TEMPLATE_SETS: Dict[str, Tuple[str, ...]] = {
    'reclip85': IMAGENET_TEMPLATES + SCENE_TEMPLATES,
    'imagenet80': IMAGENET_TEMPLATES,
    'single': ('a photo of a {}.', ),
    'zegclip_single': ('a photo of a {}', ),
    'zegclip15': ZEGCLIP15_TEMPLATES,
    'cliper_car15': CLIPER_CAR15_TEMPLATES,
}


def resolve_class_names(classes: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """A vocabulary key ('voc20') or an explicit list/tuple, or a comma-separated string ('cat,dog')."""
    if isinstance(classes, str):
        classes = VOCABULARY_ALIASES.get(classes, classes)
        if classes in VOCABULARIES:
            return VOCABULARIES[classes]
        if ',' not in classes:
            raise KeyError(f"'{classes}' is not a known class vocabulary (known: {sorted(VOCABULARIES)}), and as a "
                           f"class list it would be a single class; segmentation needs at least 2 names: give a "
                           f"list or a comma-separated string ('cat,dog').")
        classes = [c.strip() for c in classes.split(',') if c.strip()]
    names = tuple(classes)
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(f'class names must be a non-empty list of non-empty strings, got {classes!r}')
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f'class names must be distinct; repeated: {duplicates} (in {list(names)})')
    return names


def prompt_name(name: str) -> str:
    """The 'readable' words of one dataset class name."""
    name = name.strip()
    return PROMPT_NAMES.get(name, name)


def _normalised(text: str) -> str:
    return ' '.join(text.lower().split())  # what CLIP's tokenizer reads the same (it lower-cases, folds spaces)


def class_words(class_names: Sequence[str], words: Union[str, Dict[str, str]] = 'readable') -> Tuple[str, ...]:
    """The words CLIP reads for each class.

    ``words``: 'release' (the ReCLIP releases' list when ``class_names`` is a benchmark vocabulary that has one,
    ``RELEASE_WORDS``; other class lists fall back to 'readable'), 'readable' (``PROMPT_NAMES``), 'raw' (the names
    stripped), or a dict {dataset name: words} (names not in it: 'readable'). Two classes that would read the same
    words (case and spacing aside) are an error: their text embeddings would be identical."""
    names = tuple(class_names)
    if isinstance(words, dict):
        texts = tuple(words.get(n, prompt_name(n)).strip() for n in names)
    elif words == 'raw':
        texts = tuple(n.strip() for n in names)
    elif words == 'readable':
        texts = tuple(prompt_name(n) for n in names)
    elif words == 'release':
        key = next((k for k, v in VOCABULARIES.items() if v == names and k in RELEASE_WORDS), None)
        texts = RELEASE_WORDS[key] if key else tuple(prompt_name(n) for n in names)
    else:
        raise ValueError(f"text_encoder.words must be one of {WORD_CHOICES} or a dict {{class name: words}}, "
                         f"got {words!r}")
    seen: Dict[str, str] = {}
    for name, text in zip(names, texts):
        other = seen.setdefault(_normalised(text), name)
        if other != name:
            raise ValueError(f"classes '{other}' and '{name}' would both be read by CLIP as '{text}' "
                             f"(text_encoder.words={words!r}), so they could never be told apart; give them "
                             f"different words (text_encoder.words={{{name!r}: '...'}})")
    return texts


def resolve_templates(templates: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise KeyError(f"Unknown template set '{templates}'. Known: {sorted(TEMPLATE_SETS)}; or give a list "
                           f"of strings each containing '{{}}'.")
        return TEMPLATE_SETS[templates]
    templates = tuple(templates)
    bad = [t for t in templates if '{}' not in t]
    if not templates or bad:
        raise ValueError(f"every prompt template must contain '{{}}' for the class name; bad: {bad or templates}")
    return templates


def check_class_names(config_classes: Sequence[str], dataset_classes: Sequence[str], where: str) -> None:
    """Raise when a model's class list and a dataset's class list disagree, showing both."""
    a, b = list(config_classes), list(dataset_classes)
    if a != b:
        diff = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y][:10]
        raise ValueError(
            f'{where}: the model classes ({len(a)}) and the dataset classes ({len(b)}) disagree; first '
            f'differences (index, model, dataset): {diff}.\n  model:   {a}\n  dataset: {b}\nMake the head\'s '
            f'`class_names` the dataset\'s vocabulary (e.g. class_names=\'voc20\').')


def list_vocabularies() -> List[str]:
    return sorted(VOCABULARIES)


# ------------------------------------------------------------------------------------ the authors' name files
# The class-name files of the SCLIP lineage (docs/training_free.md, "The authors' protocols"), shipped as package
# data under clip/name_files/{sclip,sfp,clearclip}/: SCLIP's eight files (NACLIP's, SC-CLIP's and ResCLIP's are the
# same bytes), and the files where SFP and ClearCLIP differ from them (the others are SCLIP's). CLIPer's own six
# files, read by its own rule (``read_cliper_name_file``), are under clip/name_files/cliper/.
NAME_FILE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'name_files')


def name_file_path(name_file: str) -> str:
    """'sclip/cls_voc21' (a shipped file) or a path to a text file of one's own."""
    shipped = os.path.join(NAME_FILE_DIR, name_file + '.txt')
    if os.path.isfile(shipped):
        return shipped
    if os.path.isfile(name_file):
        return name_file
    known = sorted(f'{d}/{f[:-4]}' for d in os.listdir(NAME_FILE_DIR) for f in os.listdir(os.path.join(NAME_FILE_DIR, d)))
    raise FileNotFoundError(f"name file '{name_file}' is neither a shipped one ({known}) nor a file")


def read_name_file(name_file: str, separator: str = ', ') -> Tuple[Tuple[str, ...], Tuple[int, ...]]:
    """The SCLIP lineage's reading rule: line i is class i; a line is split at ``separator`` (', ' in SCLIP's
    lineage, ',' in ClearCLIP's) and every piece is one text query of that class. Returns the queries (Q) and each
    query's class index. Pieces are kept as they are (a trailing space included: CLIP's tokenizer folds it)."""
    with open(name_file_path(name_file), encoding='utf-8') as f:
        lines = f.read().split('\n')
    if lines and lines[-1] == '':  # a file that ends with a newline has no extra class
        lines = lines[:-1]
    names: List[str] = []
    classes: List[int] = []
    for c, line in enumerate(lines):
        pieces = line.split(separator)
        if not all(p.strip() for p in pieces):
            raise ValueError(f"name file '{name_file}', line {c + 1}: an empty name in {line!r}")
        names += pieces
        classes += [c] * len(pieces)
    return tuple(names), tuple(classes)


def read_cliper_name_file(name_file: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """CLIPer's reading rule (CLIPer@c05fa41:data/voc/voc_datasets.py:68-77, the same in its other loaders;
    docs/training_free.md §6.5): the file's lines as ``str.splitlines`` gives them; line 1 is the background, split on
    whitespace and commas (``re.split(r'[\\s,]+')``) into single words, each its own text query; every further line
    is one class, used as **one** prompt string as written (``person with clothes, people, human`` is one prompt).
    Returns (the background words, the class prompts). Empty pieces of line 1 (a leading or trailing separator,
    which no shipped file has) are dropped rather than embedded as an empty word."""
    with open(name_file_path(name_file), encoding='utf-8') as f:
        lines = f.read().splitlines()
    if len(lines) < 3:
        raise ValueError(f"CLIPer name file '{name_file}': needs a background line and at least 2 class lines, "
                         f"has {len(lines)} lines")
    background = tuple(w for w in re.split(r'[\s,]+', lines[0]) if w)
    if not background:
        raise ValueError(f"CLIPer name file '{name_file}', line 1: no background word in {lines[0]!r}")
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            raise ValueError(f"CLIPer name file '{name_file}', line {i}: an empty class line")
    return background, tuple(lines[1:])
