"""Image modifications of the paper's interpretability test (§4.4): occlusion and Fourier filtering.

All functions take and return **pixel-space** images: float tensors ``B x C x H x W`` with values
in ``[0, 1]`` (before the model's normalisation), so that a "random colour" means a colour and the
frequency filter acts on what the eye sees. They are vectorised over the batch and, where random,
draw from an explicit ``torch.Generator`` (or an integer seed), never from the global RNG: the same
seed gives the same occlusions whatever else ran before.

Spatial modification (paper §4.4): a random square region, of side ``r`` times the image side, is
replaced by

* ``fill="colour"``: one random colour per image, uniform in ``[0, 1]^C`` (one grey level for grey
  images);
* ``fill="patch"``: the same-sized window of a random image of *another* dataset (SVHN in the
  paper), taken at a random position of that image.

The position is uniform over every placement that keeps the square inside the image. The paper's
region sizes, colour distribution, placement and SVHN resizing are not stated in a form we could
recover from the paper (§4.4), and the evaluation code was not released; these are our choices.

Frequency modification: the radial mask of Wang et al. (2020), exactly as in their public code —
per image and channel, ``F = fftshift(fft2(x))``, ``mask = 1`` where the distance of a
frequency index to the centre ``(H // 2, W // 2)`` is ``< radius``; the low-pass image is
``real(ifft2(ifftshift(F * mask)))`` and the high-pass image uses ``1 - mask``, so the two add up
to the original image. The AIB code then min-max rescaled every filtered image and channel to
``[0, 255]`` (uint8) before the usual normalisation; ``rescale=True`` does the same (and returns
the result in ``[0, 1]`` on the 256-level grid).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "BANDS",
    "FILLS",
    "check_images",
    "frequency_filter",
    "make_generator",
    "occlude",
    "radial_mask",
    "square_side",
    "square_windows",
    "window_mask",
]

FILLS = ("colour", "patch")
BANDS = ("low", "high")


def check_images(images: Tensor, name: str = "images") -> Tensor:
    """Check that ``images`` is a floating ``B x C x H x W`` tensor; return it unchanged."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape B x C x H x W, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"{name} must have shape B x C x H x W (4 dimensions), got shape {tuple(images.shape)}; "
            "add a batch axis with images[None] or a channel axis with images[:, None]"
        )
    if not images.is_floating_point():
        raise ValueError(
            f"{name} must be a float tensor in [0, 1] (pixel space), got dtype {images.dtype}; "
            "convert uint8 images with images.float() / 255"
        )
    return images


def make_generator(generator: torch.Generator | int | None) -> torch.Generator:
    """A ``torch.Generator``: the one given, or a new one seeded with the given integer (``None`` = 0)."""
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None:
        generator = 0
    if isinstance(generator, bool) or not isinstance(generator, int) or generator < 0:
        raise ValueError(f"generator must be a torch.Generator or a seed (int >= 0), got {generator!r}")
    return torch.Generator().manual_seed(generator)


def square_side(r: float, height: int, width: int) -> int:
    """The side in pixels of an occluding square that is ``r`` times the (shorter) image side.

    ``r`` must lie in ``(0, 1]``; the side is ``round(r * min(H, W))``, at least one pixel.
    """
    bad = isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r)
    if bad or not 0 < r <= 1:
        raise ValueError(
            f"r must be a number in (0, 1] (the side of the occluded square as a fraction of the "
            f"image side), got {r!r}"
        )
    return max(1, round(r * min(height, width)))


def square_windows(
    batch: int, height: int, width: int, side: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Top-left corners ``(top, left)`` of ``batch`` squares of ``side`` px, uniform inside the image."""
    if not 1 <= side <= min(height, width):
        raise ValueError(f"side must be between 1 and {min(height, width)} pixels, got {side}")
    top = torch.randint(0, height - side + 1, (batch,), generator=generator)
    left = torch.randint(0, width - side + 1, (batch,), generator=generator)
    return top, left


def window_mask(top: Tensor, left: Tensor, side: int, height: int, width: int) -> Tensor:
    """Boolean ``B x 1 x H x W`` masks, True inside the square ``[top, top + side) x [left, left + side)``."""
    rows = torch.arange(height)
    cols = torch.arange(width)
    inside_r = (rows >= top[:, None]) & (rows < (top + side)[:, None])
    inside_c = (cols >= left[:, None]) & (cols < (left + side)[:, None])
    return (inside_r[:, :, None] & inside_c[:, None, :])[:, None]


def occlude(
    images: Tensor,
    r: float,
    *,
    fill: str = "colour",
    source: Tensor | None = None,
    generator: torch.Generator | int | None = None,
    return_mask: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Occlude a random square of side ``r`` x image side in every image (pixel space, ``[0, 1]``).

    Parameters
    ----------
    images:
        float ``B x C x H x W`` in ``[0, 1]``.
    r:
        the square's side as a fraction of the image side, in ``(0, 1]`` (``r = 0.25`` on a 32 x 32
        image is an 8 x 8 square, the official code's default window).
    fill:
        ``"colour"`` (a random colour per image) or ``"patch"`` (a window of a random ``source``
        image at a random position).
    source:
        for ``fill="patch"``: float ``N x C' x H' x W'`` images in ``[0, 1]`` with ``C' == C`` or
        ``C' == 1`` (grey sources are repeated over the channels) and ``H', W' >= side``.
    generator:
        a ``torch.Generator`` or an integer seed: all randomness comes from it.
    return_mask:
        also return the boolean ``B x 1 x H x W`` mask of the occluded squares.

    The draws are made in a fixed order (positions, then colours or source indices and source
    positions) on the CPU, so the result depends only on the seed and the batch size.
    """
    check_images(images)
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    g = make_generator(generator)
    b, c, h, w = images.shape
    side = square_side(r, h, w)
    top, left = square_windows(b, h, w, side, g)
    mask = window_mask(top, left, side, h, w).to(images.device)
    if fill == "colour":
        if source is not None:
            raise ValueError("source is only used with fill='patch'; leave it None for fill='colour'")
        colour = torch.rand(b, c, 1, 1, generator=g).to(images)
        out = torch.where(mask, colour, images)
    else:
        out = torch.where(mask, _patches(source, b, c, h, w, side, top, left, g).to(images), images)
    return (out, mask) if return_mask else out


def _patches(
    source: Tensor | None, b: int, c: int, h: int, w: int, side: int, top: Tensor, left: Tensor,
    g: torch.Generator,
) -> Tensor:
    """A ``B x C x H x W`` canvas holding, inside each target square, a window of a random source image."""
    if source is None:
        raise ValueError("fill='patch' needs source= (images of another dataset, float N x C x H x W)")
    check_images(source, "source")
    n, cs, hs, ws = source.shape
    if n == 0:
        raise ValueError("source is empty: fill='patch' needs at least one source image")
    if cs not in (1, c):
        raise ValueError(f"source must have 1 or {c} channels (like images), got {cs}")
    if hs < side or ws < side:
        raise ValueError(f"source images ({hs} x {ws}) are smaller than the {side} x {side} square")
    pick = torch.randint(0, n, (b,), generator=g)
    src_top, src_left = square_windows(b, hs, ws, side, g)
    # canvas pixel (i, j) inside the target square reads source pixel (i - top + src_top, ...)
    rows = (torch.arange(h)[None, :] - top[:, None] + src_top[:, None]).clamp(0, hs - 1)
    cols = (torch.arange(w)[None, :] - left[:, None] + src_left[:, None]).clamp(0, ws - 1)
    src = source.to("cpu")[pick]  # B x C' x H' x W'
    canvas = src[torch.arange(b)[:, None, None, None], torch.arange(cs)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    return canvas.expand(b, c, h, w).to(source.device)


def radial_mask(height: int, width: int, radius: float, device: torch.device | str | None = None) -> Tensor:
    """The low-pass mask of Wang et al. (2020) on a centred ``H x W`` spectrum (bool).

    True where ``sqrt((i - H // 2)^2 + (j - W // 2)^2) < radius``: after ``fftshift`` the zero
    frequency sits at ``(H // 2, W // 2)``.
    """
    bad = isinstance(radius, bool) or not isinstance(radius, (int, float)) or not math.isfinite(radius)
    if bad or radius <= 0:
        raise ValueError(
            f"radius must be a finite number > 0 (in frequency-index units of the centred spectrum), "
            f"got {radius!r}"
        )
    i = torch.arange(height, device=device, dtype=torch.float64)[:, None] - height // 2
    j = torch.arange(width, device=device, dtype=torch.float64)[None, :] - width // 2
    return (i**2 + j**2).sqrt() < radius


def frequency_filter(images: Tensor, radius: float, band: str = "low", *, rescale: bool = False) -> Tensor:
    """Keep the low (``band="low"``) or high (``"high"``) frequencies of every image and channel.

    ``low + high == images`` (up to float rounding) when ``rescale=False``. With ``rescale=True``
    each filtered image and channel is min-max rescaled to ``[0, 1]`` and rounded to 256 levels, as
    the AIB code did to its stored ``[0, 255]`` uint8 test sets (a constant channel becomes 0).
    """
    check_images(images)
    if band not in BANDS:
        raise ValueError(f"band must be 'low' or 'high', got {band!r}")
    _, _, h, w = images.shape
    keep = radial_mask(h, w, radius, images.device)
    if band == "high":
        keep = ~keep
    spectrum = torch.fft.fftshift(torch.fft.fft2(images.double()), dim=(-2, -1))
    filtered = torch.fft.ifft2(torch.fft.ifftshift(spectrum * keep, dim=(-2, -1))).real
    if rescale:
        lo = filtered.amin(dim=(-2, -1), keepdim=True)
        hi = filtered.amax(dim=(-2, -1), keepdim=True)
        span = hi - lo
        scaled = (filtered - lo) / span.clamp_min(1e-12)
        filtered = torch.where(span > 1e-12, scaled, torch.zeros_like(filtered))
        filtered = (filtered * 255).round() / 255
    return filtered.to(images.dtype)
