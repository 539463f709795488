from .inference import class_palette, init_segmentor, overlay_with_legend

__all__ = ['init_segmentor', 'class_palette', 'overlay_with_legend']
