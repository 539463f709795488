"""The one place where a CLIP ViT's input is cut into patches and its positional embedding fitted to the grid,
shared by the frozen dense tower (``CLIPViT``) and TagCLIP's prompted tower (``VPTCLIPViT``)."""
import torch
import torch.nn.functional as F


POS_RESIZE_RULES = ('size', 'release_offset', 'size_bilinear')


def resize_patch_pos(patch_pos: torch.Tensor, h: int, w: int, mode: str = 'bicubic', rule: str = 'size') -> torch.Tensor:
    """(n*n, W) square patch positional grid -> (h*w, W), resized with ``mode`` in float32 (unchanged when it
    already fits).

    ``rule='size'``: resized to the size h x w. ``rule='release_offset'``: the six MMSeg-based training-free
    releases' call (SCLIP, ClearCLIP, NACLIP, SC-CLIP, SFP, ResCLIP; docs/training_free.md §6): the scale factors
    ``((h + 0.1) / n, (w + 0.1) / n)`` are given instead of the size (the output is still h x w), and the sampling
    positions follow those factors, so the grid is sampled slightly differently. ``rule='size_bilinear'``: CLIPer's
    release (CLIPer@c05fa41:modified_clip/model.py:165-174; docs/training_free.md §6.5): resized to the size h x w,
    **bilinearly** whatever ``mode`` says (align_corners=False, torch's default there)."""
    if rule not in POS_RESIZE_RULES:
        raise ValueError(f'positional-embedding resize rule must be one of {POS_RESIZE_RULES}, got {rule!r}')
    n = int(round(patch_pos.shape[0] ** 0.5))
    if (h, w) == (n, n):
        return patch_pos
    grid = patch_pos.reshape(1, n, n, -1).permute(0, 3, 1, 2).float()
    if rule == 'size':
        grid = F.interpolate(grid, size=(h, w), mode=mode, align_corners=False)
    elif rule == 'size_bilinear':
        grid = F.interpolate(grid, size=(h, w), mode='bilinear', align_corners=False)
    else:
        grid = F.interpolate(grid, scale_factor=((h + 0.1) / n, (w + 0.1) / n), mode=mode, align_corners=False,
                             recompute_scale_factor=False)
        if tuple(grid.shape[-2:]) != (h, w):
            raise RuntimeError(f'release_offset positional resize gave {tuple(grid.shape[-2:])}, not {(h, w)}')
    return grid.to(patch_pos.dtype).permute(0, 2, 3, 1).reshape(h * w, -1)


def interpolate_pos_embed(pos: torch.Tensor, h: int, w: int, mode: str = 'bicubic', rule: str = 'size') -> torch.Tensor:
    """(1 + N, W) CLIP positional embedding -> (1 + h*w, W): the class-token part kept, the square patch part
    resized to h x w (bicubic: MaskCLIP's and the ReCLIP releases' choice; ``rule`` as ``resize_patch_pos``)."""
    return torch.cat([pos[:1], resize_patch_pos(pos[1:], h, w, mode, rule)], dim=0)


def patch_embed(visual, inputs: torch.Tensor, patch_size: int, pad: bool = True) -> torch.Tensor:
    """(B, 3, H, W) -> (B, W, h, w) patch embeddings: the input zero-padded right/bottom to a multiple of the patch
    size (as MMSeg's ViTs), cast to the tower's dtype, through its patch convolution. ``pad=False``: not padded, so
    the strided convolution drops the last H mod p rows and W mod p columns (the training-free releases)."""
    pad_h, pad_w = (-inputs.shape[-2]) % patch_size, (-inputs.shape[-1]) % patch_size
    if pad and (pad_h or pad_w):
        inputs = F.pad(inputs, (0, pad_w, 0, pad_h))
    return visual.conv1(inputs.to(visual.conv1.weight.dtype))
