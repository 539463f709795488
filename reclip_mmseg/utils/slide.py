"""MMSeg's sliding-window enumeration (``EncoderDecoder.slide_inference``), shared by every slide pass here."""
from typing import Iterator, Sequence, Tuple


def slide_windows(h_img: int, w_img: int, crop_size: Sequence[int], stride: Sequence[int]
                  ) -> Iterator[Tuple[int, int, int, int]]:
    """The windows ``(y1, y2, x1, x2)`` MMSeg's slide inference visits, in its order: starts at multiples of the
    stride, the last window of a row or column shifted back to end at the border, no padding (a window is cut at the
    image when the image is smaller than the crop)."""
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1, x1 = h_idx * h_stride, w_idx * w_stride
            y2, x2 = min(y1 + h_crop, h_img), min(x1 + w_crop, w_img)
            yield max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2
