"""Command line of aibnb: ``python -m aibnb {data,train,eval,bench,queue} ...``.

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
    "bench": ("aibnb.bench", "speed figures of the models, the loader and the engine (Table 4)"),
    "queue": ("aibnb.reproduce.cli", "train and store a tier of evidence (`queue plan --profile lab`)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command; only ``command``'s module is imported for its options."""
    parser = argparse.ArgumentParser(prog="python -m aibnb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments), run the sub-command, return its status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
