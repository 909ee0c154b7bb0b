"""``python -m aibnb data ...``: obtain and inspect datasets.

=================================== ======================================================
``data list``                       the dataset names with a short description
``data fetch NAME [NAME ...]``      obtain datasets (``make data`` runs ``fetch fashion_mnist``);
                                    cluttered scenes are generated and cached
``data info NAME``                  splits, sizes, classes, normalisation, where it lives
``data stats NAME``                 measure mean / std of the full training split (how the
                                    normalisation constants of Fashion-MNIST, digits and the
                                    cluttered scenes were obtained)
=================================== ======================================================

Every sub-command takes ``--root`` (default: ``$AIBNB_DATA``, else ``./data``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aibnb.data import cluttered, cub, datasets, registry
from aibnb.data.download import LAYOUT, SENTINELS, fashion_mnist_problems, fetch_fashion_mnist
from aibnb.data.obtain import fetch
from aibnb.data.paths import DatasetNotFoundError, data_root
from aibnb.data.transforms import BACKBONES, compute_mean_std, normalization


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``data`` sub-commands to ``parser``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root", default=None, help="data root (default: $AIBNB_DATA, else data/ at the project root)"
    )
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    sub.add_parser("list", parents=[common], help="list the dataset names")
    names = list(registry.available())
    fetch_cmd = sub.add_parser("fetch", parents=[common], help="obtain datasets")
    fetch_cmd.add_argument("names", nargs="+", choices=names, metavar="NAME", help=", ".join(names))
    fetch_cmd.add_argument(
        "--from",
        dest="source",
        default=None,
        metavar="DIR",
        help="fashion_mnist only: a folder holding the four idx .gz files as distributed "
        "(e.g. copied to a machine without network); default: the Debian package's folder",
    )
    info = sub.add_parser("info", parents=[common], help="describe a dataset")
    info.add_argument("name", choices=names, metavar="NAME")
    stats = sub.add_parser("stats", parents=[common], help="mean / std of the full training split")
    stats.add_argument("name", choices=names, metavar="NAME")


def run(args: argparse.Namespace) -> int:
    """Run the sub-command; return the exit status (1 when a dataset is missing)."""
    try:
        if args.data_command == "list":
            width = max(map(len, registry.available()))
            for name, description in registry.available().items():
                print(f"{name:<{width}}  {description}")
        elif args.data_command == "fetch":
            if args.source is not None and args.names != ["fashion_mnist"]:
                raise ValueError(
                    "--from applies to fashion_mnist only: `data fetch fashion_mnist --from DIR`"
                )
            for name in args.names:
                if args.source is not None:
                    fetch_fashion_mnist(args.root, system_dir=Path(args.source), use_apt=False)
                else:
                    fetch(name, args.root)
        elif args.data_command == "info":
            _info(args.name, args.root)
        elif args.data_command == "stats":
            data = datasets.load_tensors(args.name, "train_full", args.root)
            mean, std = compute_mean_std(data.images)
            print(f"{args.name} train_full ({len(data)} images, {tuple(data.images.shape[1:])}):")
            print(f"  mean = {tuple(round(m, 4) for m in mean)}")
            print(f"  std  = {tuple(round(s, 4) for s in std)}")
    except (DatasetNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _present(name: str, root) -> bool:
    folder = data_root(root) / LAYOUT.get(name, "")
    if name == "fashion_mnist":
        return not fashion_mnist_problems(folder)
    if name == "digits":
        return True
    return all((folder / f).exists() for f in SENTINELS[name])


def _info(name: str, root) -> None:
    print(f"{name}: {registry.available()[name]}")
    stats = {b: normalization(name, b) for b in BACKBONES}
    if stats["vgg"] == stats["wrn"]:
        print(f"  normalisation: mean {stats['vgg'][0]}, std {stats['vgg'][1]}")
    else:
        for backbone, (mean, std) in stats.items():
            print(f"  normalisation ({backbone}): mean {mean}, std {std}")
    if name in cluttered.CLUTTERED:
        spec = cluttered.CLUTTERED[name]
        print(f"  source: {spec.source}; settings: {spec.config}")
        for split, size in spec.sizes.items():
            path = cluttered.cache_path(data_root(root), name, split)
            state = "cached" if path.exists() else "not generated yet"
            print(f"  {split:<10} {size:>6} scenes  {state}: {path}")
        return
    if not _present(name, root):
        folder = data_root(root) / LAYOUT.get(name, "")
        print(f"  not present in {folder}; get it with `python -m aibnb data fetch {name}`")
        return
    if name == "cub200":
        for split in registry.splits_of(name):
            records, classes = cub.cub_records(split, root, False)
            print(f"  {split:<10} {len(records):>6} images, {len(classes)} classes")
        return
    for split in registry.splits_of(name):
        data = datasets.load_tensors(name, split, root)
        shape = tuple(data.images.shape[1:])
        print(f"  {split:<10} {len(data):>6} images of {shape}, {data.num_classes} classes")
