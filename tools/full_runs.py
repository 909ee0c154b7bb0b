"""Full-profile runs on a GPU, chunked to a lent machine's limits, and their packing for the book.

The lent GPU machines have no network and no papermill, hold a run's files only while they stay
warm, and return at most a few small files per command. So every run here is driven by the library
alone (``aibnb.train.fit``), finishes inside one command when it can (a ``--time-limit`` stops it
cleanly between epochs otherwise, and the same command resumes it while the machine is warm),
and leaves behind only small records: metrics, final numbers, provenance, a few attention maps and,
for the interpretability chapter, scores computed on the machine from the checkpoints (which never
travel: a width-1 VGG checkpoint is 80 MB).

Commands (run from the repository root)::

    python tools/full_runs.py plan                       # the runs, in priority order, with estimates
    python tools/full_runs.py run --time-limit 540 --out $OUT [--group table1] [--epochs 15]
    python tools/full_runs.py export RESULTS.tar.gz      # on the workstation: into book/results/full/

``run`` trains the planned runs that are not finished yet, in order, as long as the estimated time
of the next one fits the time left; after each finished run it writes ``$OUT/results.tar.gz`` (all
finished run folders without checkpoints), so whatever the command managed comes back even when it
is stopped. ``export`` unpacks such an archive into ``book/results/full/runs/`` and rebuilds the
summary files the chapters draw (``python tools/full_runs.py export --rebuild`` redoes only that).

The schedule: the paper trains 200 epochs; the device time of a session does not allow that, so the
full profile runs here use ``--epochs`` (default 15) with the official step schedule compressed to
that length (``aibnb.train.schedule``). Every table and figure that shows these runs names it.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_EPOCHS = 15
KEEP = ("config.json", "metrics.jsonl", "final.json", "provenance.json", "attention.npz", "scores.json")

# Estimated seconds per epoch of Fashion-MNIST (55,000 training images) at width 1 on an H100 with
# the engine (bf16, channels-last, device-resident data): VGG-aib costs 3.8 GMAC per image and WRN
# 12.4; the benchmark target is a 50,000-image VGG-aib epoch in under 10 s. Used only to decide
# whether the next run fits the time left; `run` replaces them by the measured epoch times.
EST_EPOCH_S = {"vgg": 11.0, "wrn": 34.0}


@dataclass(frozen=True)
class PlannedRun:
    """One full-profile run: the group it belongs to and the fit() arguments."""

    group: str
    model: str
    dataset: str
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)

    def kwargs(
        self, epochs: int, profile: str = "full", extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "profile": profile,
            "seed": self.seed,
            "epochs": epochs,
            "quiet": True,
            **self.overrides,
            **(extra or {}),
        }

    @property
    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.overrides.items()))
        return f"{self.group}: {self.model} on {self.dataset}, seed {self.seed}" + (
            f" ({extra})" if extra else ""
        )


def plan() -> list[PlannedRun]:
    """The full-profile runs in priority order (the first ones matter most to the book)."""
    fm, cl = "fashion_mnist", "cluttered_fashion"
    runs: list[PlannedRun] = []
    # chapter 4, Table 1: the VGG-aib family over three seeds first, then the baselines
    for seed in (0, 1, 2):
        runs += [PlannedRun("table1", "vgg_aib", fm, seed), PlannedRun("table1", "vgg_aib_qt", fm, seed)]
    runs += [PlannedRun("table1", m, fm) for m in ("vgg", "vgg_dvib", "vgg_att3", "vgg_gap", "vgg_att2")]
    # chapter 5: attention models on the cluttered scenes (ground-truth masks)
    runs += [PlannedRun("cluttered", m, cl) for m in ("vgg_aib", "vgg_aib_qt", "vgg_att3")]
    # chapters 2-3: the beta and K sweeps at width 1 (beta = 1e-2 and K = 20 are the table1 runs)
    runs += [PlannedRun("beta", "vgg_aib", fm, 0, {"beta": b}) for b in (1e-4, 1e-3, 1e-1, 1.0)]
    runs += [PlannedRun("k", "vgg_aib_qt", fm, 0, {"num_anchors": k}) for k in (2, 5, 10, 50)]
    # the WRN family last: three times the cost of VGG per epoch
    runs += [PlannedRun("table1", m, fm) for m in ("wrn_aib", "wrn_aib_qt", "wrn", "wrn_abn")]
    runs += [PlannedRun("cluttered", m, cl) for m in ("wrn_aib", "wrn_abn")]
    for seed in (1, 2):
        runs += [PlannedRun("table1", m, fm, seed) for m in ("vgg", "vgg_dvib", "vgg_att3")]
    return runs


def estimate_s(run: PlannedRun, epochs: int) -> float:
    from aibnb.models import spec

    return EST_EPOCH_S.get(spec(run.model).family, 30.0) * epochs + 20.0


# ---------------------------------------------------------------------------------------------


def _finished_dirs(root: Path) -> Iterator[Path]:
    for final in sorted(root.glob("*/final.json")):
        yield final.parent


def pack(root: Path, archive: Path) -> int:
    """Every finished run folder under ``root`` without its checkpoints, as a .tar.gz; returns the count."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    tmp = archive.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for run_dir in _finished_dirs(root):
            for name in KEEP:
                f = run_dir / name
                if f.exists():
                    tar.add(f, arcname=f"{run_dir.name}/{name}")
            count += 1
    tmp.replace(archive)
    return count


def score_run(record: Any, device: str) -> dict[str, Any] | None:
    """Interpretability scores of a finished attention model, computed where its checkpoint is.

    Uses ``aibnb.interpret.score_record`` (chapter 5's protocol) when the library provides it.
    """
    try:
        from aibnb import interpret
    except ImportError:
        return None
    scorer = getattr(interpret, "score_record", None)
    return None if scorer is None else scorer(record, device=device)


def cmd_plan(args: argparse.Namespace) -> int:
    total = 0.0
    print(f"{'#':>3}  {'est. min':>8}  run ({args.epochs} epochs, official schedule compressed from 200)")
    for i, run in enumerate(plan()):
        if args.group and run.group not in args.group:
            continue
        est = estimate_s(run, args.epochs)
        total += est
        print(f"{i:3d}  {est / 60:8.1f}  {run.label}")
    print(f"total: {total / 60:.0f} min of device time (estimates; `run` measures as it goes)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from aibnb import runs as runs_mod
    from aibnb.models import spec
    from aibnb.train import fit, run_dir

    extra = dict(args.override)
    start = time.time()
    deadline = start + args.time_limit
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = runs_mod.runs_root()
    per_epoch: dict[str, float] = {}
    done, skipped = 0, []
    for run in plan():
        if args.group and run.group not in args.group:
            continue
        kwargs = run.kwargs(args.epochs, args.profile, extra)
        if (run_dir(**kwargs) / "final.json").exists():
            continue
        fam = spec(run.model).family
        est = per_epoch.get(fam, EST_EPOCH_S.get(fam, 30.0)) * args.epochs + 20.0
        if time.time() + est > deadline and not args.partial:
            skipped.append(run.label)
            continue
        record = fit(**kwargs, deadline=deadline - 30.0)
        if record.metrics:
            per_epoch[fam] = max(m["epoch_time_s"] for m in record.metrics)
        if not record.finished:
            print(f"stopped (time limit): {run.label} after {len(record.metrics)} epochs", flush=True)
            break
        scores = score_run(record, args.device)
        if scores is not None:
            runs_mod.write_json(record.path / "scores.json", scores)
        done += 1
        print(
            f"finished {run.label}: test error {record.final['test_error']:.2f}% "
            f"({record.final['wall_time_s']:.0f} s)",
            flush=True,
        )
        pack(root, out / "results.tar.gz")
    count = pack(root, out / "results.tar.gz")
    print(
        f"{done} runs finished in this command, {count} finished runs packed into {out / 'results.tar.gz'}; "
        f"{len(skipped)} planned runs did not fit the time left"
    )
    for label in skipped:
        print(f"  not run: {label}")
    return 0


def export(archive: Path, dest: Path) -> list[str]:
    """Unpack a ``results.tar.gz`` from ``run`` into ``dest/runs/`` (checkpoint-free run folders)."""
    target = dest / "runs"
    target.mkdir(parents=True, exist_ok=True)
    names = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) != 2 or parts[1] not in KEEP or not member.isfile():
                raise ValueError(f"{archive}: unexpected member {member.name!r} (not a run record file)")
            data = tar.extractfile(member).read()
            (target / parts[0]).mkdir(exist_ok=True)
            (target / parts[0] / parts[1]).write_bytes(data)
            if parts[1] == "final.json":
                names.append(parts[0])
    return sorted(names)


def cmd_export(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    if args.archive:
        names = export(Path(args.archive), dest)
        print(f"exported {len(names)} run records into {dest / 'runs'}")
    index = build_index(dest)
    print(f"{dest / 'index.json'}: {len(index['runs'])} runs")
    return 0


def build_index(dest: Path) -> dict[str, Any]:
    """``dest/index.json``: one line per stored full-profile run (what the chapters look up)."""
    from aibnb import runs as runs_mod

    rows = []
    for run_dir in _finished_dirs(dest / "runs"):
        rec = runs_mod.RunRecord.load(run_dir)
        cfg, final, prov = rec.config, rec.final or {}, rec.provenance or {}
        rows.append(
            {
                "run": run_dir.name,
                "model": cfg["model"],
                "dataset": cfg["dataset"],
                "seed": cfg["seed"],
                "epochs": cfg["epochs"],
                "beta": cfg.get("beta"),
                "num_anchors": final.get("num_anchors"),
                "test_error": final.get("test_error"),
                "best_epoch": final.get("best_epoch"),
                "device": prov.get("device"),
                "commit": prov.get("commit"),
                "created": prov.get("created"),
                "has_scores": (run_dir / "scores.json").exists(),
            }
        )
    index = {
        "note": "full-profile runs made on a GPU with tools/full_runs.py; schedule compressed to "
        "`epochs` (the paper: 200)",
        "runs": rows,
    }
    runs_mod.write_json(dest / "index.json", index)
    return index


def build_parser() -> argparse.ArgumentParser:
    from aibnb.train.cli import parse_option  # KEY=VALUE, as `python -m aibnb train --option`

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="list the planned runs with estimated device time")
    r = sub.add_parser("run", help="train what fits the time limit; pack the finished records into --out")
    for s in (p, r):
        s.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs per run (paper: 200)")
        s.add_argument(
            "--group",
            action="append",
            default=None,
            help="only these groups (table1, cluttered, beta, k); repeatable",
        )
    r.add_argument("--time-limit", type=float, required=True, help="seconds this command may take")
    r.add_argument("--out", required=True, help="folder for results.tar.gz (the device tool's $OUT)")
    r.add_argument("--device", default="auto")
    r.add_argument(
        "--profile",
        default="full",
        choices=("full", "ci"),
        help="full on the GPU; ci for a dry run of the pipeline on a CPU",
    )
    r.add_argument(
        "--override",
        action="append",
        type=parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="a TrainConfig field set for every run (smoke tests: --override train_subset=256)",
    )
    r.add_argument(
        "--partial",
        action="store_true",
        help="start a run even when it will not finish (it resumes in the next command)",
    )
    e = sub.add_parser("export", help="unpack results.tar.gz into book/results/full and index them")
    e.add_argument("archive", nargs="?", help="a results.tar.gz from `run` (omit to only re-index)")
    e.add_argument("--dest", default=str(REPO / "book" / "results" / "full"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"plan": cmd_plan, "run": cmd_run, "export": cmd_export}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
