"""Class vocabularies of the five benchmarks and the prompt templates of the Query head (SPEC.md §2).

A vocabulary is the dataset's own class list (the names in the dataset's ``METAINFO``), so a config's class
list can be checked against it name by name. The text fed to CLIP is the class name with ``PROMPT_NAMES``
applied (dataset spellings such as 'pottedplant' are not words CLIP's tokenizer knows well).
"""
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

VOCABULARIES: Dict[str, Tuple[str, ...]] = {
    'voc20': tuple(VOC20_CLASSES),
    'voc21': tuple(PascalVOCDataset.METAINFO['classes']),
    'context59': tuple(PascalContextDataset59.METAINFO['classes']),
    'context60': tuple(PascalContextDataset.METAINFO['classes']),
    'ade20k': tuple(ADE20KDataset.METAINFO['classes']),
    'cityscapes': tuple(CityscapesDataset.METAINFO['classes']),
    'coco_stuff27': COCO_STUFF27_CLASSES,
    'coco_stuff171': tuple(COCOStuffDataset.METAINFO['classes']),
}

# Dataset spelling -> words for the prompt. Names absent here are used as they are (stripped).
PROMPT_NAMES: Dict[str, str] = {
    'diningtable': 'dining table', 'pottedplant': 'potted plant', 'tvmonitor': 'tv monitor',
    'food-things': 'food', 'furniture-things': 'furniture', 'food-stuff': 'food', 'furniture-stuff': 'furniture',
    'rawmaterial': 'raw material',
}

# The 80 ImageNet templates of CLIP (as open_clip ships them) plus ReCLIP++'s 5 scene templates.
IMAGENET_TEMPLATES: Tuple[str, ...] = tuple(t('{}') for t in OPENAI_IMAGENET_TEMPLATES)
SCENE_TEMPLATES: Tuple[str, ...] = (
    'there is a {} in the scene.', 'there is the {} in the scene.', 'this is a {} in the scene.',
    'this is the {} in the scene.', 'this is one {} in the scene.')
# TagCLIP / ZegCLIP text (TAGCLIP.md §2.2): VOC uses one template without a period, COCO-Stuff a 15-template
# ensemble (template list from ZegCLIP, MIT licence).
ZEGCLIP15_TEMPLATES: Tuple[str, ...] = (
    'a photo of a {}.', 'a photo of a small {}.', 'a photo of a medium {}.', 'a photo of a large {}.',
    'This is a photo of a {}.', 'This is a photo of a small {}.', 'This is a photo of a medium {}.',
    'This is a photo of a large {}.', 'a {} in the scene.', 'a photo of a {} in the scene.',
    'There is a {} in the scene.', 'There is the {} in the scene.', 'This is a {} in the scene.',
    'This is the {} in the scene.', 'This is one {} in the scene.')
TEMPLATE_SETS: Dict[str, Tuple[str, ...]] = {
    'reclip85': IMAGENET_TEMPLATES + SCENE_TEMPLATES,
    'imagenet80': IMAGENET_TEMPLATES,
    'single': ('a photo of a {}.', ),
    'zegclip_single': ('a photo of a {}', ),
    'zegclip15': ZEGCLIP15_TEMPLATES,
}


def resolve_class_names(classes: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """A vocabulary key ('voc20') or an explicit list/tuple, or a comma-separated string ('cat,dog')."""
    if isinstance(classes, str):
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
    name = name.strip()
    return PROMPT_NAMES.get(name, name)


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
