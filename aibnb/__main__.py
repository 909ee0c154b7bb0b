"""Command line of aibnb: ``python -m aibnb {data,train,eval} ...``.

Each sub-command lives beside the code it drives and is imported only when used, so
``python -m aibnb --help`` stays fast and importing :mod:`aibnb` stays free of side effects.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command -> (module providing ``add_arguments(parser)`` and ``run(args) -> int``, help)
COMMANDS = {
    "data": ("aibnb.data.cli", "obtain and inspect datasets (e.g. `data fetch fashion_mnist`)"),
    "train": ("aibnb.train.cli", "train one model and write a run record"),
    "eval": ("aibnb.train.cli_eval", "evaluate a finished run (test error with 4x4 samples)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aibnb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
