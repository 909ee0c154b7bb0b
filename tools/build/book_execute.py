"""``tools/build/book.py execute``: run the chapters with papermill and check that they really ran.

Each chapter ``book/<name>.ipynb`` (sources have no outputs) is executed by the papermill
command line into ``_build/executed/book/<name>.ipynb`` with ``-p profile <profile>`` and any
extra papermill arguments (``-p beta 0.1``, ``-y '...'``). Then:

* a cell that raised, a kernel that died, or a ci run killed for running far past its budget
  (``max(3 x budget, budget + 120 s)``) fails the run (papermill prints the traceback; the
  summary names the cell and the error);
* a chapter that silently did not execute fails the run: every non-empty code cell must carry
  an execution count and papermill's ``completed`` status, and the notebook must have produced
  some output (the pytorch/tutorials "0 seconds" lesson);
* the wall time is recorded in ``_build/executed/timings.json`` with the budget
  (``metadata.aibnb.budget_s``), status, date, git commit and the parameters that ran; at the
  ``ci`` profile a chapter over its budget fails the run;
* the executed notebook is prepared for the page: papermill's ``injected-parameters`` cell is
  tagged ``remove-cell`` (it stays in the notebook, not on the page) and a short note saying
  which profile and parameters ran is inserted after the ``parameters`` cell.

Before any chapter starts, its papermill parameters are checked by name and type against its
``parameters`` cell (``book_params.py``: a misspelt name or a value of the wrong type is refused
with the valid names), and the ``full`` profile's training chapters are refused on a machine
without a GPU unless ``--allow-cpu-full`` / ``AIBNB_ALLOW_CPU_FULL=1`` insists. Ctrl-C, SIGTERM
and SIGHUP stop papermill, its kernel and the kernel's workers (``book_process.py``).

Working directory: ``book/`` (the notebook's folder, as in Jupyter and in a plain
``jupyter-book build``), so chapters open stored results as ``results/...``. The kernel gets
``AIBNB_PROFILE``; ``AIBNB_DATA`` and ``AIBNB_RUNS`` are kept from the environment (made
absolute), defaulting to ``<repo>/data`` and ``<repo>/runs``; the repository root is put on
``PYTHONPATH`` so ``import aibnb`` works even before the editable install.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import book_process
from book_params import check_parameters
from book_toc import EXECUTED, PROFILES, ROOT, TIMINGS, Chapter, chapters, find_chapter

from aibnb.provenance import git_commit

#: Tag of the note cell that says how the page was run (inserted after the parameters cell).
RUN_NOTE_TAG = "aibnb-run-note"
#: At the ci profile a run that has certainly failed its budget is killed, after
#: max(KILL_FACTOR x budget, budget + KILL_EXTRA_S) seconds, instead of hanging CI.
KILL_FACTOR = 3.0
KILL_EXTRA_S = 120.0

STATUS_OK = "ok"


class ExecuteError(RuntimeError):
    """A chapter could not be executed as asked (bad arguments, missing notebook...)."""


@dataclass
class ChapterExecution:
    """What ``timings.json`` keeps about one execution of one chapter."""

    chapter: str
    docname: str
    profile: str
    seconds: float
    budget_s: float
    within_budget: bool | None
    status: str
    date: str
    commit: str
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel_seconds: float | None = None
    message: str = ""
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def kernel_env(profile: str, root: Path = ROOT) -> dict[str, str]:
    """The environment of the papermill process and its kernel."""
    env = dict(os.environ)
    env["AIBNB_PROFILE"] = profile
    for name, default in (("AIBNB_DATA", root / "data"), ("AIBNB_RUNS", root / "runs")):
        # Made absolute here because the kernel's working directory is book/, not the caller's.
        env[name] = str(Path(env[name]).resolve()) if env.get(name) else str(default)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silence a debugger warning
    env["PYTHONUNBUFFERED"] = "1"
    return env


#: The environment variable that lets the ``full`` profile train on a CPU (read by
#: :func:`aibnb.train.machine.cpu_full_allowed` too, in the kernel)
ALLOW_CPU_FULL_ENV = "AIBNB_ALLOW_CPU_FULL"
_TRAINS = re.compile(r"\b(fit|fit_many|train|train_many)\(")


def trains_models(chapter: Chapter) -> bool:
    """Whether a chapter trains networks (its code calls ``fit``, ``fit_many``, ``train`` or
    ``train_many``): chapter 1's linear-Gaussian fits are seconds at any profile."""
    nb = json.loads(chapter.source.read_text(encoding="utf-8"))
    code = ["".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    return any(_TRAINS.search(source) for source in code)


def check_machine(
    profile: str, selected: Sequence[Chapter], parameters: dict[str, Any], *, allow: bool = False
) -> None:
    """Refuse the ``full`` profile's chapters that train models on a machine without a GPU: a
    one-line :class:`ExecuteError` saying what would run, about how long and how to insist."""
    if profile != "full" or allow or os.environ.get(ALLOW_CPU_FULL_ENV, "").strip().lower() in (
        "1", "true", "yes",
    ):  # fmt: skip
        return
    training = [c.name for c in selected if trains_models(c)]
    if not training:
        return
    from aibnb.models import spec
    from aibnb.train.machine import CPU_EPOCH_HOURS, duration_text, select_device

    if select_device("auto").type != "cpu":
        return
    epochs = parameters.get("epochs") or spec("vgg_aib").recipe["epochs"]
    per_epoch = CPU_EPOCH_HOURS["vgg"]
    raise ExecuteError(
        f"profile 'full' on a machine without a GPU: {', '.join(training)} train(s) the paper's models "
        f"at its settings (width 1, all the data, {epochs} epochs a run), about "
        f"{duration_text(epochs * per_epoch)} for each VGG run on a CPU (~{per_epoch:g} h an epoch); run "
        f"it on a GPU or at the ci profile, or set {ALLOW_CPU_FULL_ENV}=1 (tools/build/book.py execute "
        "--allow-cpu-full) to insist"
    )


def split_profile(extra_args: Sequence[str]) -> tuple[str | None, list[str]]:
    """Take a ``-p profile NAME`` out of papermill arguments.

    ``make run CHAPTER=04_training ARGS="-p profile full"`` is the documented way to re-run a
    chapter at another profile, so a profile given as a papermill parameter is honoured: it is
    removed from the arguments and returned, to be passed as the run's profile.
    """
    args, profile, i = list(extra_args), None, 0
    while i < len(args):
        if args[i] in ("-p", "--parameters", "-r", "--parameters_raw") and i + 2 < len(args) \
                and args[i + 1] == "profile":
            if profile is not None and profile != args[i + 2]:
                raise ExecuteError(f"`profile` is set twice ({profile!r} and {args[i + 2]!r})")
            profile = args[i + 2]
            del args[i : i + 3]
            continue
        i += 1
    return profile, args


def check_extra_args(extra_args: Sequence[str]) -> list[str]:
    """Reject papermill arguments that would contradict what ``execute`` controls."""
    args = list(extra_args)
    for i, arg in enumerate(args):
        sets_parameter = arg in ("-p", "--parameters", "-r", "--parameters_raw")
        if sets_parameter and i + 1 < len(args) and args[i + 1] == "profile":
            raise ExecuteError(
                "extra papermill arguments set `profile` twice or without a value; choose it with "
                "--profile (make: PROFILE=full) or a single `-p profile NAME`"
            )
        if arg.split("=", 1)[0] in ("--cwd", "--prepare-only", "--stdout-file", "--stderr-file"):
            raise ExecuteError(f"extra papermill argument {arg!r} is controlled by tools/build/book.py")
    return args


def papermill_command(
    chapter: Chapter, profile: str, extra_args: Sequence[str], output: Path
) -> list[str]:
    """The papermill command line for one chapter (kernel ``python3`` unless ``-k`` given)."""
    command = [
        sys.executable, "-m", "papermill", str(chapter.source), str(output),
        "-p", "profile", profile,
        "--cwd", str(chapter.source.parent),
        "--no-progress-bar", "--stdout-file", "-", "--stderr-file", "-",
    ]
    if not any(a in ("-k", "--kernel") or a.startswith("--kernel=") for a in extra_args):
        command += ["--kernel", "python3"]
    return command + list(extra_args)


def _code_cells(nb: dict) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code"]


def first_error(nb: dict) -> str:
    """``In [n] (first line): EName: value`` for the first error of an executed notebook, or ''."""
    for _, cell in _code_cells(nb):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                lines = "".join(cell.get("source", "")).strip().splitlines() or [""]
                head = lines[0][:60] + (" ..." if len(lines) > 1 or len(lines[0]) > 60 else "")
                return (
                    f"In [{cell.get('execution_count')}] ({head!r}): "
                    f"{out.get('ename')}: {out.get('evalue')}"
                )
    return ""


def check_executed(nb: dict) -> list[str]:
    """Why an executed notebook does not count as fully executed by papermill (empty if it does)."""
    problems = []
    meta = nb.get("metadata", {}).get("papermill")
    if not meta:
        return ["the notebook has no papermill metadata: it was not executed by papermill"]
    if meta.get("exception"):
        problems.append(f"papermill recorded an exception ({first_error(nb) or 'see notebook'})")
    produced_output = False
    for i, cell in _code_cells(nb):
        produced_output |= bool(cell.get("outputs"))
        if not "".join(cell.get("source", "")).strip():
            continue
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if cell.get("execution_count") is None or status != "completed":
            problems.append(
                f"code cell {i} did not execute (execution_count="
                f"{cell.get('execution_count')}, papermill status={status!r})"
            )
    if not produced_output:
        problems.append("no code cell produced any output")
    return problems


def _run_note(record: ChapterExecution) -> str:
    params = ", ".join(f"`{k} = {v!r}`" for k, v in record.parameters.items())
    budget = (
        f" (budget at the ci profile: {record.budget_s:g} s)" if record.profile == "ci" else ""
    )
    return (
        ":::{admonition} How this page was run\n:class: note\n"
        f"Executed by papermill at the **`{record.profile}`** profile with {params}; the "
        "parameters cell above shows the notebook's defaults, which these override. "
        f"Wall time {record.seconds:.1f} s{budget}, {record.date}, commit `{record.commit}`.\n"
        ":::"
    )


def prepare_for_page(nb: dict, record: ChapterExecution) -> dict:
    """Hide papermill's injected cell and say which profile ran (see the module doc)."""
    cells = nb.get("cells", [])
    cells[:] = [c for c in cells if RUN_NOTE_TAG not in c.get("metadata", {}).get("tags", [])]
    anchor = None
    for i, cell in enumerate(cells):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            anchor = i
        elif "parameters" in tags and anchor is None:
            anchor = i
    note = {
        "cell_type": "markdown",
        "id": RUN_NOTE_TAG,
        "metadata": {"tags": [RUN_NOTE_TAG]},
        "source": _run_note(record),
    }
    cells.insert(0 if anchor is None else anchor + 1, note)
    return nb


def load_timings(path: Path = TIMINGS) -> dict[str, dict[str, Any]]:
    """Records of ``timings.json`` by docname (empty if the file does not exist yet)."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("chapters", {})


def save_record(
    record: ChapterExecution, path: Path = TIMINGS, *, keep: set[str] | None = None
) -> None:
    """Add or replace one chapter's record in ``timings.json`` (written atomically).

    With ``keep`` (the docnames of the toc), records of chapters that left the book are dropped.
    """
    records = load_timings(path)
    records[record.docname] = record.to_json()
    if keep is not None:
        records = {name: rec for name, rec in records.items() if name in keep}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"schema": 1, "chapters": records}, indent=2) + "\n")
    os.replace(tmp, path)


def _run(command: list[str], env: dict[str, str], kill_after: float | None) -> tuple[int, bool]:
    """Run papermill's ``command`` from the repository root (see :func:`book_process.run`)."""
    return book_process.run(command, env=env, cwd=ROOT, kill_after=kill_after)


def execute_chapter(
    chapter: Chapter,
    profile: str,
    extra_args: Sequence[str] = (),
    *,
    log: Callable[[str], None] = print,
    timings: Path = TIMINGS,
    kill_after_s: float | None = None,
) -> ChapterExecution:
    """Execute one chapter with papermill, check it, record it; never raises on a failed run.

    The returned record's ``status`` is ``ok``, ``error`` (a cell raised / papermill failed),
    ``incomplete`` (cells did not run), ``over_budget`` (ci profile only) or ``timeout``.
    ``kill_after_s`` overrides when a run is killed (default: see ``KILL_FACTOR``; none at
    ``full``).
    """
    if profile not in PROFILES:
        raise ExecuteError(f"profile {profile!r} is unknown; choose one of {PROFILES}")
    if not chapter.source.is_file():
        raise ExecuteError(f"{chapter.source} does not exist")
    budget = chapter.budget_s()
    extra = check_extra_args(extra_args)
    output = chapter.executed
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    command = papermill_command(chapter, profile, extra, output)
    kill_after = kill_after_s
    if kill_after is None and profile == "ci":
        kill_after = max(KILL_FACTOR * budget, budget + KILL_EXTRA_S)
    log(f"\n=== execute {chapter.name} (profile={profile}, budget {budget:g} s) ===")
    log("$ python " + " ".join(command[1:]))
    start = time.perf_counter()
    code, killed = _run(command, kernel_env(profile, chapter.root), kill_after)
    seconds = time.perf_counter() - start

    nb: dict[str, Any] = {}
    if output.is_file():
        nb = json.loads(output.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {}).get("papermill", {})
    parameters = dict(meta.get("parameters") or {"profile": profile})
    record = ChapterExecution(
        chapter=chapter.name,
        docname=chapter.docname,
        profile=profile,
        seconds=round(seconds, 2),
        budget_s=budget,
        within_budget=(seconds <= budget) if profile == "ci" else None,
        status=STATUS_OK,
        date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        commit=git_commit(chapter.root, short=True),
        parameters=parameters,
        kernel_seconds=meta.get("duration"),
        output=str(output.relative_to(chapter.root)),
    )
    problems = check_executed(nb) if nb else ["papermill wrote no output notebook"]
    if killed:
        record.status = "timeout"
        record.message = (
            f"killed after {seconds:.0f} s, far past its budget of {budget:g} s at the ci profile"
        )
    elif code != 0 or meta.get("exception"):
        record.status = "error"
        record.message = first_error(nb) or f"papermill exited with code {code}"
    elif problems:
        record.status = "incomplete"
        record.message = "; ".join(problems)
    elif parameters.get("profile") != profile:
        record.status = "error"
        record.message = f"ran with profile {parameters.get('profile')!r}, not {profile!r}"
    elif profile == "ci" and seconds > budget:
        record.status = "over_budget"
        record.message = (
            f"took {seconds:.1f} s at the ci profile, over its budget of {budget:g} s "
            "(metadata.aibnb.budget_s): make the ci profile cheaper, or raise the budget and "
            "say why"
        )
    if nb:
        prepare_for_page(nb, record)
        output.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    in_toc = {c.docname for c in chapters(chapter.root)} if chapter.root == ROOT else None
    save_record(record, timings, keep=in_toc)
    verdict = "ok" if record.ok else f"FAILED ({record.status}): {record.message}"
    log(f"=== {chapter.name}: {seconds:.1f} s (budget {budget:g} s) {verdict}")
    if not record.ok and output.is_file():
        log(f"    the executed notebook is {output}")
    return record


def execute(
    profile: str,
    *,
    chapter: str | None = None,
    extra_args: Sequence[str] = (),
    keep_going: bool = False,
    allow_cpu_full: bool = False,
    log: Callable[[str], None] = print,
) -> list[ChapterExecution]:
    """Execute one chapter (``chapter``) or every chapter of ``_toc.yml`` in order.

    Before any chapter starts, the papermill parameters are checked by name and type against the
    chapters' parameters cells (:func:`book_params.check_parameters`), and the ``full`` profile
    is refused on a machine without a GPU for chapters that train models
    (:func:`check_machine`; ``allow_cpu_full`` or ``$AIBNB_ALLOW_CPU_FULL=1`` insists, and the
    kernels' own ``fit`` calls are then allowed too).
    """
    selected = [find_chapter(chapter)] if chapter else chapters()
    if not selected:
        raise ExecuteError("_toc.yml lists no notebooks to execute")
    given = check_parameters(selected, extra_args)
    check_machine(profile, selected, given, allow=allow_cpu_full)
    if allow_cpu_full:
        os.environ[ALLOW_CPU_FULL_ENV] = "1"  # the kernels inherit it (kernel_env copies os.environ)
    EXECUTED.mkdir(parents=True, exist_ok=True)
    records = []
    for item in selected:
        record = execute_chapter(item, profile, extra_args, log=log)
        records.append(record)
        if not record.ok and not keep_going:
            break
    log("\nchapter                       profile  seconds  budget  status")
    for r in records:
        log(f"{r.chapter:<29} {r.profile:<8} {r.seconds:>7.1f} {r.budget_s:>7g}  {r.status}")
    skipped = len(selected) - len(records)
    if skipped:
        log(f"({skipped} later chapter(s) not run after the failure; use --keep-going)")
    return records
