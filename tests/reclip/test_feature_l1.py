"""The feature-guided L1 of the distillation (docs/reclip_pp.md §8): both feature maps resized bilinearly to the
image, mean |difference|. ``FeatureDistillLoss(impl='separable')`` (the default) never forms the image-resolution
tensors; it must give the value and the student gradient of the formula as written (issue 26, item 1)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reclip_mmseg.models.reclip_pp import losses as losses_module
from reclip_mmseg.models.reclip_pp.losses import FeatureDistillLoss, bilinear_matrix


def resize_loop(x: np.ndarray, H: int, W: int) -> np.ndarray:
    """Bilinear resize (align_corners=False) of a (h, w) array by plain loops, written from the definition: the
    output pixel centre maps to src = (dst + 0.5) * in / out - 0.5, clamped at 0; linear between the two nearest
    samples, the last sample repeated past the edge."""
    h, w = x.shape

    def taps(dst, n_in, n_out):
        src = max((dst + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = min(int(np.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        lam = src - i0
        return i0, i1, lam

    out = np.zeros((H, W))
    for y in range(H):
        y0, y1, ly = taps(y, h, H)
        for xx in range(W):
            x0, x1, lx = taps(xx, w, W)
            out[y, xx] = ((1 - ly) * ((1 - lx) * x[y0, x0] + lx * x[y0, x1])
                          + ly * ((1 - lx) * x[y1, x0] + lx * x[y1, x1]))
    return out


def reference(student: torch.Tensor, teacher: torch.Tensor, size):
    """The formula as written, in float64: F.interpolate both, F.l1_loss; and the student gradient."""
    s = student.detach().double().requires_grad_(True)
    loss = F.l1_loss(F.interpolate(s, size=size, mode='bilinear', align_corners=False),
                     F.interpolate(teacher.double(), size=size, mode='bilinear', align_corners=False))
    grad, = torch.autograd.grad(loss, s)
    return loss.detach(), grad


@pytest.mark.parametrize('n_in,n_out', [(7, 29), (21, 336), (42, 336), (5, 5), (9, 4)])
def test_axis_weights_are_bilinear_resize_written_out(n_in, n_out):
    x = np.random.default_rng(n_in).standard_normal((n_in, 3))
    a = bilinear_matrix(n_in, n_out, torch.float64, 'cpu').numpy()
    b = bilinear_matrix(3, 3, torch.float64, 'cpu').numpy()
    np.testing.assert_allclose(a @ x @ b.T, resize_loop(x, n_out, 3), rtol=0, atol=1e-12)


@pytest.mark.parametrize('shapes', [((2, 5, 7, 9), (2, 5, 4, 5), (29, 37)),   # odd, non-square, two grids
                                    ((1, 3, 6, 6), (1, 3, 6, 6), (6, 6)),      # same grid, no resize
                                    ((3, 4, 11, 8), (3, 4, 3, 2), (40, 17))])
def test_separable_l1_equals_the_formula_in_float64(shapes):
    gen = torch.Generator().manual_seed(0)
    s_shape, t_shape, size = shapes
    student = torch.randn(s_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(t_shape, generator=gen, dtype=torch.float64)
    loss = FeatureDistillLoss(loss_weight=0.5)(student, teacher, size)
    grad, = torch.autograd.grad(loss, student)
    ref_loss, ref_grad = reference(student, teacher, size)
    torch.testing.assert_close(loss, 0.5 * ref_loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, 0.5 * ref_grad, rtol=1e-10, atol=1e-18)


def test_separable_l1_in_float32_and_in_chunks(monkeypatch):
    """float32 at the distillation's grids (42 and 21, image 336; 128 of the 512 channels): the value within float
    rounding of the float64 formula, the gradient too (a pixel whose difference rounds across 0 changes the
    gradient by at most 2 / N there). Then with chunks of 3 channels (a short last chunk): the same numbers."""
    gen = torch.Generator().manual_seed(1)
    student = torch.randn(2, 128, 42, 42, generator=gen, requires_grad=True)
    teacher = torch.randn(2, 128, 21, 21, generator=gen)
    ref_loss, ref_grad = reference(student, teacher, (336, 336))
    loss = FeatureDistillLoss(loss_weight=1.0)(student, teacher, (336, 336))
    grad, = torch.autograd.grad(loss, student)
    assert loss.dtype == torch.float32
    assert abs(float(loss) - float(ref_loss)) < 1e-5 * float(ref_loss)
    assert float((grad.double() - ref_grad).abs().sum() / ref_grad.abs().sum()) < 1e-5
    small = student[:, :7].detach().requires_grad_(True)
    full = FeatureDistillLoss(loss_weight=1.0)(small, teacher[:, :7], (336, 336))
    full_grad, = torch.autograd.grad(full, small)
    monkeypatch.setattr(losses_module, 'L1_CHUNK_ELEMENTS', 3 * 336 * 336)
    chunked = FeatureDistillLoss(loss_weight=1.0)(small, teacher[:, :7], (336, 336))
    chunked_grad, = torch.autograd.grad(chunked, small)
    torch.testing.assert_close(chunked, full, rtol=1e-6, atol=0)
    torch.testing.assert_close(chunked_grad, full_grad, rtol=1e-5, atol=1e-12)


def test_interpolate_impl_is_the_formula_and_a_teacher_with_gradient_uses_it():
    gen = torch.Generator().manual_seed(2)
    student = torch.randn(2, 4, 6, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(2, 4, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    ref_loss, ref_grad = reference(student, teacher.detach(), (23, 19))
    for loss in (FeatureDistillLoss(loss_weight=1.0, impl='interpolate')(student, teacher.detach(), (23, 19)),
                 FeatureDistillLoss(loss_weight=1.0)(student, teacher, (23, 19))):  # teacher with grad
        grad, = torch.autograd.grad(loss, student, retain_graph=True)
        torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=0)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-18)
    loss = FeatureDistillLoss(loss_weight=1.0)(student, teacher, (23, 19))
    assert torch.autograd.grad(loss, teacher)[0].abs().sum() > 0  # the teacher's gradient is not dropped


def test_bad_impl_and_mismatched_features_are_named():
    with pytest.raises(ValueError, match='FeatureDistillLoss.impl'):
        FeatureDistillLoss(impl='fast')
    with pytest.raises(ValueError, match='differ in batch or channels'):
        FeatureDistillLoss()(torch.zeros(2, 4, 3, 3), torch.zeros(2, 5, 3, 3), (8, 8))
