#!/usr/bin/env python3
"""Build the AIB book: vendor the browser assets, execute the chapters, render the HTML.

Usage (the Makefile's ``vendor``, ``execute``, ``run`` and ``html`` targets call these)::

    python tools/build/book.py vendor
    python tools/build/book.py execute --profile ci                    # every chapter in _toc.yml
    python tools/build/book.py execute --profile ci --chapter 02_vib_loss -- -p beta 0.1
    python tools/build/book.py html

``execute`` runs each chapter notebook with papermill (``-p profile <profile>`` plus any
papermill arguments after ``--``) into ``_build/executed/``, with the working directory at
``book/`` (the notebook's own folder, as Jupyter and Jupyter Book use), so chapters read stored
results as ``results/...``. It records wall time, budget and provenance in
``_build/executed/timings.json`` and fails on an error, on a chapter that did not fully
execute, and, at the ``ci`` profile, on a chapter over its budget. Before any chapter starts it
refuses a papermill parameter that no chapter declares or a value of the wrong type
(``tools/build/book_params.py``), and the ``full`` profile's training chapters on a machine
without a GPU (``--allow-cpu-full`` or ``AIBNB_ALLOW_CPU_FULL=1`` insists). SIGTERM, SIGHUP and
Ctrl-C stop papermill, its kernel and the kernel's training workers.

``html`` stages the book with the executed notebooks in ``_build/site/`` and builds it with
Jupyter Book (warnings are errors) into ``_build/html/``, with MathJax, require.js and the
widget manager served from ``_build/html/_vendor/`` so the book renders offline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Allow `python tools/build/book.py` from anywhere: the helpers live next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import book_execute
import book_html
import book_vendor
from book_toc import PROFILES


def _cmd_vendor(args: argparse.Namespace, extra: list[str]) -> int:
    book_vendor.vendor()
    return 0


def _cmd_execute(args: argparse.Namespace, extra: list[str]) -> int:
    profile, extra = book_execute.split_profile(extra)
    if profile is not None:
        if args.profile_given and profile != args.profile:
            raise book_execute.ExecuteError(
                f"--profile {args.profile} and `-p profile {profile}` disagree; give one of them"
            )
        if profile not in PROFILES:
            raise book_execute.ExecuteError(f"profile {profile!r} is unknown; choose one of {PROFILES}")
        args.profile = profile
    records = book_execute.execute(
        args.profile,
        chapter=args.chapter,
        extra_args=extra,
        keep_going=args.keep_going,
        allow_cpu_full=args.allow_cpu_full,
    )
    return 0 if records and all(r.ok for r in records) else 1


def _cmd_html(args: argparse.Namespace, extra: list[str]) -> int:
    index = book_html.build_html()
    print(f"Open the book: {index.as_uri()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tools/build/book.py", description=__doc__.splitlines()[0], epilog="See the module doc."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("vendor", help="fetch and verify the offline browser assets into _vendor/")
    ex = sub.add_parser(
        "execute",
        help="run chapters with papermill into _build/executed/",
        description="Run chapters with papermill. Arguments after `--` go to papermill "
        "(e.g. `-- -p beta 0.1 -y 'num_anchors: 4'`).",
    )
    ex.add_argument("--profile", default=None, choices=PROFILES,
                    help="default: ci (also accepted as papermill arguments: -- -p profile full)")
    ex.add_argument("--chapter", help="run only this chapter (e.g. 01_mi_bounds)")
    ex.add_argument(
        "--keep-going", action="store_true", help="run the remaining chapters after a failure"
    )
    ex.add_argument(
        "--allow-cpu-full", action="store_true",
        help="run the full profile's training chapters on a machine without a GPU all the same "
        "(weeks; also AIBNB_ALLOW_CPU_FULL=1)",
    )
    sub.add_parser("html", help="build the HTML book from the executed chapters")
    parser.set_defaults()
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    if args.command == "execute":
        args.profile_given = args.profile is not None
        args.profile = args.profile or "ci"
    if extra and args.command != "execute":
        print(f"tools/build/book.py {args.command}: unexpected arguments after `--`: {extra}")
        return 2
    handlers = {"vendor": _cmd_vendor, "execute": _cmd_execute, "html": _cmd_html}
    try:
        return handlers[args.command](args, extra)
    except (book_vendor.VendorError, book_execute.ExecuteError, book_html.HtmlError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
