"""Downloading and checking dataset files, and the error that says how to get a missing one.

Nothing here runs at import time. :func:`fetch_fashion_mnist` (what ``make data`` calls, through
:func:`aibnb.data.fetch`) tries, in order, and prints what it did:

1. the files are already under ``<root>/FashionMNIST/raw`` (torchvision's raw layout,
   uncompressed) and their idx headers are right: nothing to do;
2. the Debian package ``dataset-fashion-mnist`` is installed: gunzip its
   ``/usr/share/datasets/fashion-mnist/*.gz`` into that layout. Its files are re-compressed,
   so their checksums differ from torchvision's; we check the idx headers (magic number,
   28 x 28, 60,000 / 10,000 items) and the sizes instead;
3. we run as root and ``apt-get`` exists: install that package, then step 2;
4. torchvision's downloader (needs internet);
5. otherwise raise :class:`DatasetNotFoundError` listing where we looked and how to get it.

Every file is written to a temporary name and renamed, so an interrupted fetch never
leaves a truncated file that looks complete. CIFAR-10/100, SVHN and STL-10 are fetched with
torchvision's downloaders; CUB-200-2011 has none (the error gives its home page); digits
ship with scikit-learn; cluttered scenes are generated (and cached) from their sources.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
from torchvision import datasets as tvd

from aibnb.data.formats import idx_header
from aibnb.data.paths import DatasetNotFoundError, data_root, root_origin
from aibnb.storage import write_atomic

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"

# torchvision raw file name -> expected idx shape
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}

# where each dataset lives under the data root, its home page, and whether torchvision can
# download it
LAYOUT = {
    "fashion_mnist": "FashionMNIST/raw",
    "cifar10": "cifar-10-batches-py",
    "cifar100": "cifar-100-python",
    "svhn": "svhn",
    "stl10": "stl10_binary",
    "cub200": "CUB_200_2011",
}
HOME_PAGES = {
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar.html",
    "cifar100": "https://www.cs.toronto.edu/~kriz/cifar.html",
    "svhn": "http://ufldl.stanford.edu/housenumbers/",
    "stl10": "https://cs.stanford.edu/~acoates/stl10/",
    "cub200": "https://www.vision.caltech.edu/datasets/cub_200_2011/",
}
CUB_HOWTO = (
    "torchvision has no downloader for CUB-200-2011: download CUB_200_2011.tgz from its home "
    f"page ({HOME_PAGES['cub200']}, archive at https://data.caltech.edu/records/65de6-vzz87) "
    "and unpack it into the data root, so that <root>/CUB_200_2011/images.txt exists"
)

Log = Callable[[str], None]


def how_to_get(name: str) -> str:
    """One paragraph telling a user how to obtain ``name``."""
    if name == "fashion_mnist":
        return (
            "run `make data` or `python -m aibnb data fetch fashion_mnist` (uses the Debian package "
            f"{DEBIAN_PACKAGE} if installed, else downloads with torchvision), or pass "
            f"download=True; home page: {HOME_PAGES[name]}"
        )
    if name == "cub200":
        return CUB_HOWTO
    return (
        f"run `python -m aibnb data fetch {name}` or pass download=True (needs internet; uses "
        f"torchvision's downloader), or put the official files there by hand; home page: "
        f"{HOME_PAGES[name]}"
    )


def missing_error(name: str, missing: Path, root: str | os.PathLike[str] | None) -> DatasetNotFoundError:
    """The error for a dataset whose file ``missing`` is absent under the data root."""
    return DatasetNotFoundError(
        f"dataset {name!r} not found: there is no {missing} (data root {data_root(root)}, "
        f"from {root_origin(root)}). To get it: {how_to_get(name)}."
    )


# ---------------------------------------------------------------------------------------
# Fashion-MNIST


def fashion_mnist_problems(folder: Path) -> list[str]:
    """What is wrong with the Fashion-MNIST files in ``folder`` (empty list: all good)."""
    problems = []
    for name, shape in FASHION_MNIST_FILES.items():
        path = folder / name
        if not path.exists():
            problems.append(f"{path} is missing")
            continue
        try:
            _check_idx(path, shape)
        except ValueError as err:
            problems.append(str(err))
    return problems


def _check_idx(path: Path, shape: tuple[int, ...]) -> None:
    """Check an uncompressed idx file: uint8, the expected shape, and the matching size."""
    dtype, found, offset = idx_header(path)
    if found != shape or dtype != np.uint8:
        raise ValueError(f"{path}: idx header declares {dtype} {found}, expected uint8 {shape}")
    expected = offset + math.prod(shape)
    if path.stat().st_size != expected:
        raise ValueError(f"{path}: {path.stat().st_size} bytes, expected {expected} (truncated?)")


def _gunzip_into(folder: Path, source_dir: Path, log: Log) -> None:
    for name, shape in FASHION_MNIST_FILES.items():
        source = source_dir / f"{name}.gz"
        target = folder / name

        def write(tmp: Path, source: Path = source, shape: tuple[int, ...] = shape) -> None:
            with gzip.open(source, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
            _check_idx(tmp, shape)

        write_atomic(target, write)
    log(f"fashion_mnist: unpacked {len(FASHION_MNIST_FILES)} files from {source_dir} into {folder}")


def _apt_install(log: Log) -> str | None:
    """Install the Debian package; return None on success, else why it failed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", DEBIAN_PACKAGE]
    log(f"fashion_mnist: running `{' '.join(install)}`")
    result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        log("fashion_mnist: install failed; running `apt-get update -q` and trying again")
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"apt-get install {DEBIAN_PACKAGE} failed: {tail[0]}"
    return None


def fetch_fashion_mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    system_dir: Path | None = DEBIAN_FASHION_MNIST,
    use_apt: bool = True,
    use_download: bool = True,
    log: Log = print,
) -> Path:
    """Make sure Fashion-MNIST is under ``<root>/FashionMNIST/raw``; return that folder.

    ``system_dir`` (the Debian package's folder; None skips step 2), ``use_apt`` and
    ``use_download`` switch the fallbacks described in the module docstring.
    """
    base = data_root(root)
    folder = base / LAYOUT["fashion_mnist"]
    problems = fashion_mnist_problems(folder)
    if not problems:
        log(f"fashion_mnist: already present in {folder}")
        return folder
    tried = [f"{folder}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")]

    def system_copy() -> bool:
        if system_dir is None:
            return False
        if all((system_dir / f"{n}.gz").exists() for n in FASHION_MNIST_FILES):
            _gunzip_into(folder, system_dir, log)
            return True
        tried.append(f"{system_dir}: no *-ubyte.gz files (Debian package {DEBIAN_PACKAGE})")
        return False

    if system_copy():
        return folder
    if use_apt and system_dir is not None:
        if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
            failure = _apt_install(log)
            if failure is None and system_copy():
                return folder
            tried.append(failure or f"apt-get installed {DEBIAN_PACKAGE} but {system_dir} is empty")
        else:
            tried.append(f"apt-get install {DEBIAN_PACKAGE}: skipped (needs root and apt-get)")
    if use_download:
        log("fashion_mnist: downloading with torchvision")
        try:
            _torchvision_download("fashion_mnist", base)
        except Exception as err:  # any network or archive failure: report it and move on
            tried.append(f"torchvision download: {type(err).__name__}: {err}")
        else:
            problems = fashion_mnist_problems(folder)
            if not problems:
                log(f"fashion_mnist: downloaded into {folder}")
                return folder
            tried.append(f"torchvision download left problems: {problems[0]}")
    raise DatasetNotFoundError(
        "could not obtain Fashion-MNIST. Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nTo get it: install the Debian package ({'sudo ' if os.name == 'posix' else ''}apt-get "
        f"install {DEBIAN_PACKAGE}) and run `make data`, or run `python -m aibnb data fetch "
        f"fashion_mnist` on a machine with internet, or copy the four *-ubyte files from "
        f"{HOME_PAGES['fashion_mnist']} (gunzipped) into {folder}."
    )


# ---------------------------------------------------------------------------------------
# torchvision downloads


def _torchvision_download(name: str, base: Path) -> None:
    base.mkdir(parents=True, exist_ok=True)
    if name == "fashion_mnist":
        tvd.FashionMNIST(str(base), train=True, download=True)
        tvd.FashionMNIST(str(base), train=False, download=True)
    elif name == "cifar10":
        tvd.CIFAR10(str(base), download=True)
    elif name == "cifar100":
        tvd.CIFAR100(str(base), download=True)
    elif name == "svhn":
        for split in ("train", "test"):
            tvd.SVHN(str(base / LAYOUT["svhn"]), split=split, download=True)
    elif name == "stl10":
        tvd.STL10(str(base), split="train", download=True)
    else:
        raise ValueError(f"torchvision has no downloader for {name!r}")


def download(name: str, root: str | os.PathLike[str] | None = None, *, log: Log = print) -> Path:
    """Download ``name`` with torchvision into the data root; return the dataset's folder."""
    if name == "fashion_mnist":
        return fetch_fashion_mnist(root, log=log)
    if name == "cub200":
        raise DatasetNotFoundError(CUB_HOWTO + ".")
    if name not in LAYOUT:
        raise ValueError(f"{name!r} is not downloadable; downloadable: {', '.join(LAYOUT)}")
    base = data_root(root)
    log(f"{name}: downloading with torchvision into {base / LAYOUT[name]}")
    try:
        _torchvision_download(name, base)
    except Exception as err:  # network, disk or archive failures: say what to do instead
        raise DatasetNotFoundError(
            f"could not download {name!r} with torchvision ({type(err).__name__}: {err}). Without "
            f"internet, put the official files into {base / LAYOUT[name]} by hand; home page: "
            f"{HOME_PAGES[name]}"
        ) from err
    log(f"{name}: done")
    return base / LAYOUT[name]


# ---------------------------------------------------------------------------------------
# One entry point for every dataset

# files whose presence means "already fetched"
SENTINELS = {
    "cifar10": ["batches.meta", "data_batch_5", "test_batch"],
    "cifar100": ["meta", "train", "test"],
    "svhn": ["train_32x32.mat", "test_32x32.mat"],
    "stl10": ["train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin"],
    "cub200": ["images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt"],
}
