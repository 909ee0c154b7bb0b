"""Cluttered scenes with exact object masks: attention can be scored against ground truth.

Each scene is a ``canvas x canvas`` grey image holding **one** object (a Fashion-MNIST item
or a digit) at a random position and scale, on a smooth-noise background, among
*distractor fragments*: square crops of objects of **other classes** (so that the only
evidence for the label lies on the object). Layers, bottom to top:

1. background texture: a random ``(cells + 1)^2`` lattice upsampled bicubically to the
   canvas, clipped to [0, 1] and scaled to at most ``texture`` (a fraction of white);
2. distractors, painted in order: a fragment is another object rendered at a random scale
   and shown through a random ``f x f`` window (``f`` in ``fragment_size``, pixels),
   centred on a random point of that object's middle 60 % so that it shows content;
3. the object, opaque, on top. Distractors are therefore **drawn under the object**
   (never over it): they may touch or hide behind it, but no distractor pixel is inside
   the mask.

The **mask** is exact by construction. The object's silhouette (source pixels
``>= silhouette_level``, plus the background pixels they enclose, see :func:`fill_holes`:
the object is opaque, so an enclosed dark part is drawn as the object's own dark pixels)
is resampled with the same bilinear map as the object, and a
canvas pixel belongs to the mask when at least half of its resampled support is object.
Mask pixels show only the object: their value is the silhouette-weighted average of
object pixels, which keeps thin edges from fading into the background. Pixels outside the
mask carry no object signal at all.

Everything is vectorised: random parameters for all scenes are drawn first from one
``torch.Generator`` (so the output depends only on the seed, not on the chunk size or the
thread count), then scenes are rendered in chunks by batched ``grid_sample``; the only
Python loop is over the at most ``num_distractors[1]`` fragment layers. One CPU core
renders a few thousand scenes per second.

Registered datasets (sizes are scenes per split; ``train_full`` is ``train`` + ``val``):

========================= =============== =================================================
name                      source          scenes (train / val / test), settings
========================= =============== =================================================
cluttered_fashion         fashion_mnist   20,000 / 2,000 / 5,000, :data:`BASE_CONFIG`
cluttered_digits          digits (8 x 8)  20,000 / 2,000 / 5,000, :data:`DIGITS_CONFIG`
cluttered_fashion_shift   fashion_mnist   20,000 / 2,000 / 5,000, :data:`SHIFT_CONFIG`:
                                          denser, larger distractors, brighter and finer
                                          texture, smaller objects (for domain shift)
========================= =============== =================================================

Each split is generated from the same split of its source (train scenes from source
``train`` objects, and so on: no object appears in two splits), with a fixed seed per
(dataset, split), and cached under ``<root>/cluttered/<name>-<split>-<hash>.pt`` where the
hash covers the generator version and every setting. The digits source has only 1,293 /
144 / 360 objects per split, so its scenes reuse each object many times in new placements.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from aibnb.storage import write_atomic

GENERATOR_VERSION = 1  # bump when the rendering changes, so old caches are not reused


@dataclass(frozen=True)
class SceneConfig:
    """Settings of :func:`make_cluttered` (ranges are inclusive)."""

    canvas: int = 32
    scale: tuple[float, float] = (0.45, 0.75)  # object frame side / canvas side
    num_distractors: tuple[int, int] = (2, 5)
    fragment_size: tuple[int, int] = (6, 10)  # side of a fragment's window, canvas pixels
    texture: float = 0.15  # brightest background value, as a fraction of white
    texture_cells: int = 4  # lattice cells across the canvas: more = finer texture
    silhouette_level: int = 1  # source pixels >= this (0..255) belong to the object

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {self.scale}")
        if not 0 <= self.num_distractors[0] <= self.num_distractors[1]:
            raise ValueError(f"num_distractors must be 0 <= low <= high, got {self.num_distractors}")
        if not 1 <= self.fragment_size[0] <= self.fragment_size[1] <= self.canvas:
            raise ValueError(
                f"fragment_size must satisfy 1 <= low <= high <= canvas, got {self.fragment_size}"
            )
        if not 0 <= self.texture <= 1:
            raise ValueError(f"texture must be in [0, 1], got {self.texture}")
        if self.canvas < 4 or self.texture_cells < 1:
            raise ValueError("canvas must be >= 4 and texture_cells >= 1")
        if not 1 <= self.silhouette_level <= 255:
            raise ValueError(f"silhouette_level must be in 1..255, got {self.silhouette_level}")


BASE_CONFIG = SceneConfig()
# scikit-learn's digits are blurry 8 x 8 images (levels of 16): only pixels of at least 1/4
# intensity count as the digit, or the mask would be a blob around a faint halo
DIGITS_CONFIG = dataclasses.replace(BASE_CONFIG, silhouette_level=64)
SHIFT_CONFIG = SceneConfig(
    scale=(0.35, 0.6), num_distractors=(5, 8), fragment_size=(8, 12), texture=0.35, texture_cells=8
)


@dataclass
class Scenes:
    """Output of :func:`make_cluttered`."""

    images: torch.Tensor  # uint8 n x 1 x canvas x canvas
    labels: torch.Tensor  # int64 n, the object's label
    masks: torch.Tensor  # bool n x 1 x canvas x canvas, pixels showing the object
    source_index: torch.Tensor  # int64 n, which source object was placed


def make_cluttered(
    objects: torch.Tensor,
    labels: torch.Tensor,
    n: int,
    *,
    seed: int = 0,
    chunk: int = 1024,
    **settings,
) -> Scenes:
    """Render ``n`` cluttered scenes from ``objects`` (uint8 ``N x 1 x h x w`` or ``N x h x w``).

    ``settings`` are the fields of :class:`SceneConfig` (``canvas``, ``scale``,
    ``num_distractors``, ``fragment_size``, ``texture``, ``texture_cells``,
    ``silhouette_level``). Objects are used in random order, each once before any is
    reused. The result depends only on the inputs and ``seed``.
    """
    config = SceneConfig(**settings)
    objects = torch.as_tensor(objects)
    if objects.ndim == 3:
        objects = objects[:, None]
    if objects.dtype != torch.uint8 or objects.ndim != 4 or objects.shape[1] != 1:
        raise ValueError(f"objects must be uint8 N x 1 x h x w, got {objects.dtype} {tuple(objects.shape)}")
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.shape != (len(objects),):
        raise ValueError(f"labels must have shape ({len(objects)},), got {tuple(labels.shape)}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if len(objects) == 0:
        raise ValueError("objects is empty: make_cluttered needs at least one object per scene source")
    if len(torch.unique(labels)) < 2 and config.num_distractors[1] > 0:
        raise ValueError("distractors come from other classes: objects need at least 2 classes")
    params = _draw(objects, labels, n, config, torch.Generator().manual_seed(seed))
    images, masks = [], []
    for start in range(0, n, chunk):
        part = {k: v[start : start + chunk] for k, v in params.items()}
        image, mask = _render(objects, part, config)
        images.append(image)
        masks.append(mask)
    canvas = config.canvas
    return Scenes(
        images=torch.cat(images) if images else torch.zeros(0, 1, canvas, canvas, dtype=torch.uint8),
        labels=labels[params["object"]],
        masks=torch.cat(masks) if masks else torch.zeros(0, 1, canvas, canvas, dtype=torch.bool),
        source_index=params["object"],
    )


def _draw(
    objects: torch.Tensor, labels: torch.Tensor, n: int, config: SceneConfig, g: torch.Generator
) -> dict[str, torch.Tensor]:
    """All random parameters of ``n`` scenes, in a fixed order from one generator."""
    count = len(objects)
    rounds = -(-n // count) if count else 0
    order = torch.cat(
        [torch.randperm(count, generator=g) for _ in range(rounds)] or [torch.zeros(0, dtype=torch.long)]
    )
    obj = order[:n]

    def uniform(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    canvas = config.canvas
    side = canvas * uniform(n, *config.scale)
    top = (canvas - side) * torch.rand(n, generator=g)
    left = (canvas - side) * torch.rand(n, generator=g)

    # distractors: an object of another class (uniform over the other classes, then uniform
    # within the class), a scale, a window and the object point shown at the window's centre
    k_max = config.num_distractors[1]
    count_k = torch.randint(config.num_distractors[0], k_max + 1, (n,), generator=g)
    classes, per_class = torch.unique(labels, return_counts=True)
    by_class = torch.argsort(labels, stable=True)
    class_start = torch.cumsum(per_class, 0) - per_class
    own = torch.searchsorted(classes, labels[obj])
    shift = torch.randint(1, max(len(classes), 2), (n, k_max), generator=g)  # empty if k_max == 0
    other = (own[:, None] + shift) % len(classes)
    within = (torch.rand(n, k_max, generator=g) * per_class[other]).long()
    within = torch.minimum(within, per_class[other] - 1)  # float rounding of rand() * count
    frag_obj = by_class[class_start[other] + within]
    frag_side = canvas * uniform((n, k_max), *config.scale)
    frag_size = torch.randint(config.fragment_size[0], config.fragment_size[1] + 1, (n, k_max), generator=g)
    win_top = torch.minimum(
        (torch.rand(n, k_max, generator=g) * (canvas - frag_size + 1)).long(), canvas - frag_size
    )
    win_left = torch.minimum(
        (torch.rand(n, k_max, generator=g) * (canvas - frag_size + 1)).long(), canvas - frag_size
    )
    point = uniform((n, k_max, 2), 0.2, 0.8)
    centre = torch.stack([win_top, win_left], -1) + frag_size[..., None] / 2
    frag_corner = centre - point * frag_side[..., None]

    cells = config.texture_cells + 1
    lattice = torch.rand(n, 1, cells, cells, generator=g)
    return {
        "object": obj,
        "side": side,
        "top": top,
        "left": left,
        "frag_active": torch.arange(k_max) < count_k[:, None],
        "frag_object": frag_obj,
        "frag_side": frag_side,
        "frag_top": frag_corner[..., 0],
        "frag_left": frag_corner[..., 1],
        "frag_size": frag_size,
        "win_top": win_top,
        "win_left": win_left,
        "lattice": lattice,
    }


def fill_holes(silhouette: torch.Tensor) -> torch.Tensor:
    """Add to a bool silhouette (``B x 1 x h x w``) the background pixels it encloses.

    Background is what a 4-connected flood fill from the image border reaches through
    non-object pixels; everything else is object. Fashion-MNIST draws dark parts of an item
    with value 0, so without this a black collar would punch a hole into the mask.
    """
    outside = ~silhouette
    reached = torch.zeros_like(silhouette)
    reached[..., 0, :] = outside[..., 0, :]
    reached[..., -1, :] = outside[..., -1, :]
    reached[..., :, 0] |= outside[..., :, 0]
    reached[..., :, -1] |= outside[..., :, -1]
    while True:
        grown = reached.clone()
        grown[..., 1:, :] |= reached[..., :-1, :]
        grown[..., :-1, :] |= reached[..., 1:, :]
        grown[..., :, 1:] |= reached[..., :, :-1]
        grown[..., :, :-1] |= reached[..., :, 1:]
        grown &= outside
        if torch.equal(grown, reached):
            return ~reached
        reached = grown


def _place(
    objects: torch.Tensor, index: torch.Tensor, side, top, left, canvas: int, level: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render objects as squares of ``side`` px at (top, left): (value, silhouette coverage)."""
    source = objects[index]
    silhouette = fill_holes(source >= level).float()
    stacked = torch.cat([source.float() / 255 * silhouette, silhouette], 1)
    # grid_sample reads input coords in [-1, 1] (align_corners=False). Output pixel centre
    # u = (i + 0.5) of the canvas, relative to the object's square [left, left + side), is at
    # input coord 2 * (u - left) / side - 1. The map is axis-aligned, so the grid is separable
    # (cheaper than a general affine_grid).
    centres = torch.arange(canvas, dtype=torch.float32) + 0.5
    gx = 2 * (centres - left[:, None]) / side[:, None] - 1
    gy = 2 * (centres - top[:, None]) / side[:, None] - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    out = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    coverage = out[:, 1:2]
    value = out[:, 0:1] / coverage.clamp_min(1e-6)
    return value.clamp(0, 1), coverage


def _render(objects: torch.Tensor, p: dict[str, torch.Tensor], config: SceneConfig):
    n, k_max = p["frag_object"].shape
    canvas = config.canvas
    texture = F.interpolate(p["lattice"], size=(canvas, canvas), mode="bicubic", align_corners=True)
    scene = texture.clamp(0, 1) * config.texture

    if k_max:
        value, coverage = _place(
            objects,
            p["frag_object"].reshape(-1),
            p["frag_side"].reshape(-1),
            p["frag_top"].reshape(-1),
            p["frag_left"].reshape(-1),
            canvas,
            config.silhouette_level,
        )
        value = value.view(n, k_max, canvas, canvas)
        pix = torch.arange(canvas)
        rows = (pix >= p["win_top"][..., None]) & (pix < (p["win_top"] + p["frag_size"])[..., None])
        cols = (pix >= p["win_left"][..., None]) & (pix < (p["win_left"] + p["frag_size"])[..., None])
        window = rows[..., :, None] & cols[..., None, :]
        visible = (
            (coverage.view(n, k_max, canvas, canvas) >= 0.5) & window & p["frag_active"][..., None, None]
        )
        for j in range(k_max):  # painter's order over the few fragment layers
            scene = torch.where(visible[:, j : j + 1], value[:, j : j + 1], scene)

    value, coverage = _place(
        objects, p["object"], p["side"], p["top"], p["left"], canvas, config.silhouette_level
    )
    mask = coverage >= 0.5
    scene = torch.where(mask, value, scene)
    return (scene * 255).round_().clamp_(0, 255).to(torch.uint8), mask


# ---------------------------------------------------------------------------------------
# The registered datasets and their cache


@dataclass(frozen=True)
class ClutteredSpec:
    """A registered cluttered dataset: its source, scene settings and split sizes."""

    source: str
    config: SceneConfig
    sizes: dict[str, int]
    description: str


SIZES = {"train": 20000, "val": 2000, "test": 5000}
CLUTTERED = {
    "cluttered_fashion": ClutteredSpec(
        "fashion_mnist",
        BASE_CONFIG,
        SIZES,
        "one Fashion-MNIST item in clutter, 32x32 grey, exact object masks",
    ),
    "cluttered_digits": ClutteredSpec(
        "digits",
        DIGITS_CONFIG,
        SIZES,
        "one scikit-learn digit in clutter, 32x32 grey, exact object masks (no download)",
    ),
    "cluttered_fashion_shift": ClutteredSpec(
        "fashion_mnist",
        SHIFT_CONFIG,
        SIZES,
        "cluttered_fashion under domain shift: denser distractors, stronger texture, smaller items",
    ),
}


def split_seed(name: str, split: str) -> int:
    """The fixed generation seed of one split of a registered dataset."""
    return zlib.crc32(f"{name}/{split}".encode())


def cache_path(root: Path, name: str, split: str) -> Path:
    """``<root>/cluttered/<name>-<split>-<hash>.pt``; the hash covers every setting."""
    spec = CLUTTERED[name]
    key = {
        "version": GENERATOR_VERSION,
        "name": name,
        "split": split,
        "source": spec.source,
        "n": spec.sizes[split],
        "seed": split_seed(name, split),
        "config": dataclasses.asdict(spec.config),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return root / "cluttered" / f"{name}-{split}-{digest}.pt"


def load_or_generate(root: Path, name: str, split: str, source) -> Scenes:
    """Load one split from the cache, or render it from ``source`` (objects, labels) and cache it.

    ``source`` may be a zero-argument callable returning ``(objects, labels)``, so the source
    dataset is read only when the cache is missing.
    """
    path = cache_path(root, name, split)
    if path.exists():
        stored = torch.load(path, weights_only=True)
        return Scenes(**{f.name: stored[f.name] for f in dataclasses.fields(Scenes)})
    objects, labels = source() if callable(source) else source
    spec = CLUTTERED[name]
    scenes = make_cluttered(
        objects, labels, spec.sizes[split], seed=split_seed(name, split), **dataclasses.asdict(spec.config)
    )
    payload = {f.name: getattr(scenes, f.name) for f in dataclasses.fields(Scenes)}
    write_atomic(path, lambda tmp: torch.save(payload, tmp))
    return scenes
