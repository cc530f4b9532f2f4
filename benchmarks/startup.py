"""How long from the command to the first training step, and how long do the small commands take?

For each checkout given (default: this one), in interleaved rounds:

- ``pretrain --config configs/demo.yaml``: the README's first command, in a fresh folder (the first run: it
  writes the synthetic corpus and a new MLflow store), then again in that folder, and a third time (what
  every later run pays: the result cache keeps nothing from files changed in the last two seconds, so the
  first run, which has just written the corpus, leaves its data checks to the second), timed from the
  command (``uv run ...``) to the first training step, broken into stages;
- the same on a corpus of ``--files`` small Parquet files (``eeg_io.write_synthetic_corpus``), first run and
  again;
- ``--help`` of every command and ``sweep status`` of a four-run sweep folder, timed to exit.

The pretraining runs go through a probe (this file, run with ``--probe`` by the checkout's own Python) that
calls ``eeg_pretrain.cli.main`` as the console script does and exits at the first ``Trainer.train_step``.
It times stages by wrapping the functions that do them (found by name; a name a checkout lacks is skipped)
and every module import (time spent executing modules goes to ``imports``, wherever it happens); each stage
is exclusive of the stages nested in it, and ``other`` is what no stage covers (Alembic's ``env.py``, which
runs a new MLflow store's migrations as it executes, counts as ``MLflow``; the cyclic garbage collector's
pauses, wherever they fall, count as ``garbage collector``). ``start`` is the time from the
command to the probe's first line (uv and the interpreter). Each stage shows wall seconds and, in
parentheses, the CPU seconds of the process: on a machine shared with other work the CPU figures are the
steadier ones.

To compare with the code before a change, export that commit to a folder of its own and give it a venv
(its uv.lock is the same, so uv links the same packages from its cache), e.g.::

    git archive <commit> | tar -x -C /tmp/startup-before
    (cd /tmp/startup-before && uv sync --all-packages --locked)
    uv run --all-packages python benchmarks/startup.py --checkout before=/tmp/startup-before --rounds 3

Import times depend on whether Python finds bytecode (``__pycache__``): with ``PYTHONDONTWRITEBYTECODE=1``
(set in some containers and CI images) and a venv installed without ``--compile-bytecode``, every start
compiles torch, mlflow and scipy from source, about doubling their import time. The script prints whether
each checkout has bytecode; compare checkouts in the same state. A benchmark (a script), not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
HEAVY = ("torch", "mlflow", "mne", "scipy", "matplotlib", "sklearn", "pandas", "submitit", "sqlalchemy")

# (module, attribute, stage): the functions whose time is a stage. "Class.method" wraps a method.
STAGES = [
    ("eeg_pretrain.config", "load_config", "config"),
    ("eeg_pretrain.cli", "_ensure_synthetic_corpus", "synthetic corpus"),
    ("eeg_pretrain.preflight", "cheap_checks", "preflight"),
    ("eeg_pretrain.preflight", "check_tracking_store", "MLflow"),
    ("eeg_pretrain.data", "build_index", "index"),  # before pooled corpora
    ("eeg_pretrain.data", "index_corpora", "index"),
    ("eeg_pretrain.data", "check_channel_positions", "data checks"),
    ("eeg_pretrain.data", "check_sampling_rate", "data checks"),
    ("eeg_pretrain.data", "log_data_checks", "data checks"),
    ("eeg_pretrain.data", "pretraining_data_record", "data record"),
    ("eeg_pretrain.trainer", "fit_band_statistics", "band statistics"),
    ("eeg_pretrain.trainer", "open_tracker", "MLflow"),
    ("eeg_pretrain.trainer", "corpus_dataset", "MLflow"),
    ("eeg_pretrain.trainer", "build_optimizer", "optimizer"),
    ("eeg_pretrain.trainer", "Trainer.train_epoch", "first batch"),
    ("eeg_ssm.model", "EEGModel.__init__", "model build"),
]
ORDER = [
    "start", "imports", "garbage collector", "config", "synthetic corpus", "preflight", "MLflow", "index", "data checks",
    "data record", "band statistics", "model build", "optimizer", "first batch", "other",
]  # fmt: skip


# ----------------------------------------------------------------------------------------------- probe
class StageClock:
    """Exclusive wall and CPU time per stage: a stage entered inside another is subtracted from it."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}  # stage -> [wall s, CPU s]
        self.stack: list[list] = []  # [name, wall start, CPU start, nested wall, nested CPU]

    def enter(self, name: str) -> None:
        self.stack.append([name, time.perf_counter(), time.process_time(), 0.0, 0.0])

    def leave(self) -> None:
        name, wall0, cpu0, nested_wall, nested_cpu = self.stack.pop()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        total = self.totals.setdefault(name, [0.0, 0.0])
        total[0] += wall - nested_wall
        total[1] += cpu - nested_cpu
        if self.stack:
            self.stack[-1][3] += wall
            self.stack[-1][4] += cpu

    def close_all(self) -> None:
        while self.stack:
            self.leave()


def _wrap(function, clock: StageClock, stage: str):
    def timed(*args, **kwargs):
        clock.enter(stage)
        try:
            return function(*args, **kwargs)
        finally:
            clock.leave()

    timed.__wrapped__ = function
    return timed


def _patch(module, clock: StageClock) -> None:
    for name, attribute, stage in STAGES:
        if name != module.__name__:
            continue
        owner, _, method = attribute.rpartition(".")
        target = getattr(module, owner) if owner else module
        if hasattr(target, method):
            setattr(target, method, _wrap(getattr(target, method), clock, stage))


def probe(out: Path, argv: list[str]) -> None:
    """Run ``pretrain argv`` and write the stage times to ``out`` at the first training step."""
    started = time.time()
    clock = StageClock()
    import importlib._bootstrap_external as external

    patched = {name for name, _, _ in STAGES}

    def first_step(self, *args, **kwargs):
        clock.close_all()
        out.write_text(json.dumps({"started": started, "first_step": time.time(), "stages": clock.totals}))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # the benchmark measures the start only

    def timed_exec(original):
        def exec_module(self, module):
            # Alembic runs a store's migrations while it executes the migrations' env.py: store work
            where = str(getattr(module, "__file__", None) or "")
            migrating = where.endswith("env.py") and "migrations" in where
            clock.enter("MLflow" if migrating else "imports")
            try:
                original(self, module)
            finally:
                clock.leave()
            if module.__name__ in patched:
                _patch(module, clock)
            if module.__name__ == "eeg_pretrain.trainer":
                module.Trainer.train_step = first_step

        return exec_module

    external._LoaderBasics.exec_module = timed_exec(external._LoaderBasics.exec_module)
    external.ExtensionFileLoader.exec_module = timed_exec(external.ExtensionFileLoader.exec_module)

    def collecting(phase: str, info: dict) -> None:  # the cyclic garbage collector's pauses are a stage
        if phase == "start":
            clock.enter("garbage collector")
        else:
            clock.leave()

    gc.callbacks.append(collecting)
    # nothing else is imported here: the command imports what it needs, when it does (as the script does)
    clock.enter("other")
    from eeg_pretrain.cli import main

    sys.argv = ["pretrain", *argv]
    main(argv)


# ----------------------------------------------------------------------------------------------- driver
def uv_run(checkout: Path, package: str, args: list[str], cwd: Path, env: dict | None = None):
    """Run ``uv run ... args`` in ``cwd``: (wall start, wall end, CPU seconds of uv and its children, result)."""
    command = ["uv", "run", "--project", str(checkout), "--package", package, *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return started, ended, cpu, done


def time_pretrain(checkout: Path, folder: Path, config: Path, round_: int, extra: list[str]) -> dict:
    """One pretraining start in ``folder``: seconds from the command to the first step, and the stages."""
    out = folder / f".probe-{round_}.json"
    out.unlink(missing_ok=True)
    args = ["--config", str(config), "--quiet", "--set", f"train.save_dir=runs/bench-{round_}", *extra]
    # the result cache of this round's folder: a first run finds it empty (code before it ignores it)
    env = {"EEG_MAMBA_CACHE_DIR": str(folder / "result-cache")}
    started, _, cpu, done = uv_run(
        checkout, "pretrain", ["python", str(HERE), "--probe", str(out), "--", *args], folder, env
    )
    if not out.is_file():
        raise SystemExit(f"{checkout}: pretrain did not reach a training step (exit {done.returncode}):\n"
                         + done.stderr[-3000:])  # fmt: skip
    result = json.loads(out.read_text())
    stages = {"start": [result["started"] - started, None], **result["stages"]}
    return {"total": result["first_step"] - started, "cpu": cpu, "stages": stages}


def time_command(checkout: Path, package: str, args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of a command, to its exit."""
    started, ended, cpu, _ = uv_run(checkout, package, args, cwd)
    return ended - started, cpu


def heavy_modules(checkout: Path, package: str, module: str, args: list[str], cwd: Path) -> list[str]:
    """The heavy packages a command imports (its console script's ``main``, run once more)."""
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: print('HEAVY', json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), "
        "file=sys.stderr))\n"
        f"from {module} import main\nsys.argv = [{package!r}, *{args!r}]\nmain({args!r})\n"
    )
    *_, done = uv_run(checkout, package, ["python", "-c", code], cwd)
    line = next((x for x in done.stderr.splitlines() if x.startswith("HEAVY ")), "HEAVY ?")
    return json.loads(line[6:]) if line != "HEAVY ?" else ["?"]


def has_bytecode(checkout: Path) -> str:
    venv = checkout / ".venv" / "lib"
    torch_pyc = any(venv.glob("python3*/site-packages/torch/__pycache__/__init__.*.pyc"))
    ours = any((checkout / "apps" / "pretrain" / "src" / "eeg_pretrain" / "__pycache__").glob("cli.*.pyc"))
    return f"site-packages {'yes' if torch_pyc else 'no'}, workspace {'yes' if ours else 'no'}"


def write_corpus(checkout: Path, root: Path, files: int, cwd: Path) -> None:
    code = (
        "from eeg_io import write_synthetic_corpus\n"
        f"write_synthetic_corpus({str(root)!r}, participants={files // 2}, runs=2, "
        "channels=['TP9', 'AF7', 'AF8', 'TP10'], windows_per_run=8, window_length=512, sfreq=128.0)\n"
    )
    done = subprocess.run(["uv", "run", "--project", str(checkout), "--package", "pretrain", "python", "-c", code],
                          cwd=cwd, capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise SystemExit(done.stderr)


def sweep_folder(checkout: Path, root: Path, cwd: Path) -> None:
    """A sweep folder of four runs (finished, failed, interrupted, not run), as ``sweep status`` reads it."""
    code = f"""
import json
from pathlib import Path
from eeg_sweep.jobs import write_record
from eeg_sweep.parent import write_state
from eeg_sweep.plan import PlannedRun
folder = Path({str(root)!r}); folder.mkdir(parents=True)
runs = [PlannedRun(r, "mae", f"run_m{{round(r * 100)}}", folder / f"run_m{{round(r * 100)}}") for r in (0.2, 0.4, 0.6, 0.8)]
write_state(folder, command=["sweep"], config_path="c.yaml", experiment="e", tracking_uri=None,
            parent_run_id=None, runs=runs, torchrun_nproc=None)
finished, failed, interrupted, _ = runs
finished.folder.mkdir(); finished.summary_path.write_text(json.dumps({{"finished": True, "best_val_loss": 0.25}}))
write_record(finished, launcher="local", job_id="11", state="finished", exit_code=0)
failed.folder.mkdir(); failed.log_path.write_text("error: no Parquet files\\n")
write_record(failed, launcher="local", job_id="12", state="failed", exit_code=2, message="error")
interrupted.folder.mkdir(); interrupted.last_checkpoint.write_bytes(b"x")
write_record(interrupted, launcher="local", job_id="13", state="running")
"""
    done = subprocess.run(["uv", "run", "--project", str(checkout), "--package", "sweep", "python", "-c", code],
                          cwd=cwd, capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise SystemExit(done.stderr)


COMMANDS = [  # (label, package, console-script module, arguments)
    ("pretrain --help", "pretrain", "eeg_pretrain.cli", ["--help"]),
    ("sweep --help", "sweep", "eeg_sweep.cli", ["--help"]),
    ("sweep status DIR", "sweep", "eeg_sweep.cli", ["status", "{sweep}"]),
    ("sweep summarize --help", "sweep", "eeg_sweep.cli", ["summarize", "--help"]),
    ("finetune --help", "finetune", "eeg_finetune.cli", ["--help"]),
    ("prepare --help", "prepare", "eeg_prepare.cli", ["--help"]),
]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def show(label: str, samples: dict[str, list[dict]], names: list[str]) -> None:
    """Median wall (and CPU) seconds per stage and checkout."""
    rounds = len(samples[names[0]])
    print(f"\n{label}: seconds from the command to the first training step, wall (CPU), median of {rounds}")
    print(f"  {'stage':<20}" + "".join(f"{n:>16}" for n in names))

    def median(values) -> float:
        return statistics.median(values)

    walls, cpus = {}, {}
    for name in names:
        walls[name] = {s: median(r["stages"].get(s, [0.0, 0.0])[0] for r in samples[name]) for s in ORDER}
        cpus[name] = {
            s: median(r["stages"].get(s, [0.0, 0.0])[1] or 0.0 for r in samples[name]) for s in ORDER
        }
    for stage in ORDER:
        cells = [
            f"{walls[n][stage]:>8.2f}" + (f" ({cpus[n][stage]:.2f})" if stage != "start" else " " * 7)
            for n in names
        ]
        print(f"  {stage:<20}" + "".join(f"{c:>16}" for c in cells))
    totals = {n: median(r["total"] for r in samples[n]) for n in names}
    total_cpu = {n: median(r["cpu"] for r in samples[n]) for n in names}
    print(f"  {'total':<20}" + "".join(f"{f'{totals[n]:>8.2f} ({total_cpu[n]:.2f})':>16}" for n in names))
    past_imports = {n: totals[n] - walls[n]["start"] - walls[n]["imports"] for n in names}
    print(f"  {'less start, imports':<20}" + "".join(f"{past_imports[n]:>8.2f}{'':7}" for n in names))
    for what in ("total", "cpu"):
        spread = {n: (min(r[what] for r in samples[n]), max(r[what] for r in samples[n])) for n in names}
        print(
            f"  {'wall' if what == 'total' else 'CPU'} total min-max: "
            + ", ".join(f"{n} {lo:.2f}-{hi:.2f}" for n, (lo, hi) in spread.items())
        )
    if len(names) > 1:
        base = names[0]
        print(
            f"  ratio to {base} (wall total, wall less start and imports): "
            + ", ".join(
                f"{n} {totals[n] / totals[base]:.2f}, {past_imports[n] / past_imports[base]:.2f}"
                for n in names[1:]
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", action="append", default=[], metavar="NAME=PATH",
                        help="a checkout to measure, e.g. before=/tmp/startup-before (this one is always "
                             "measured, named 'after'; the first given is the baseline)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="starts per checkout and case (medians)")
    parser.add_argument("--files", type=int, default=200, help="files of the many-file corpus")
    parser.add_argument("--workdir", help="where the scratch folders go (default: a new temporary folder)")
    parser.add_argument("--skip-commands", action="store_true", help="only the pretraining starts")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.probe:
        probe(Path(args.probe), rest[1:] if rest[:1] == ["--"] else rest)
        return

    checkouts = {}
    for item in args.checkout:
        name, _, path = item.partition("=")
        checkouts[name] = Path(path).resolve()
    checkouts.setdefault("after", REPO)
    names = list(checkouts)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="startup-bench-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; load average at start {loadavg()}; scratch {work}")  # fmt: skip
    for name, path in checkouts.items():
        print(f"  {name}: {path} (bytecode: {has_bytecode(path)})")

    demo = (REPO / "configs" / "demo.yaml").read_text()
    corpus = work / "corpus"
    if not corpus.is_dir():
        started = time.perf_counter()
        write_corpus(checkouts["after"], corpus, args.files, work)
        print(f"wrote {args.files} files to {corpus} in {time.perf_counter() - started:.1f} s")
    many = ["--set", f"data.dataset_path={corpus}", "--set", "synthetic.enabled=false"]

    cases = {"demo, first run": {}, "demo, again": {}, "demo, third run": {},
             f"{args.files} files, first run": {}, f"{args.files} files, again": {}}  # fmt: skip
    for case in cases.values():
        for name in names:
            case[name] = []
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:  # interleaved, alternating order
            folder = work / f"{name}-{round_}"
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "demo.yaml"
            config.write_text(demo)
            checkout = checkouts[name]
            cases["demo, first run"][name].append(time_pretrain(checkout, folder, config, 0, []))
            cases["demo, again"][name].append(time_pretrain(checkout, folder, config, 1, []))
            cases["demo, third run"][name].append(time_pretrain(checkout, folder, config, 2, []))
            cache = ["--set", f"data.cache_dir={folder / 'cache_many'}"]
            cases[f"{args.files} files, first run"][name].append(
                time_pretrain(checkout, folder, config, 3, many + cache)
            )
            cases[f"{args.files} files, again"][name].append(
                time_pretrain(checkout, folder, config, 4, many + cache)
            )
        print(f"round {round_ + 1}/{args.rounds} done; load average {loadavg()}", flush=True)
    for label, samples in cases.items():
        show(label, samples, names)

    if args.skip_commands:
        return
    sweep = work / "sweep"
    if not sweep.is_dir():
        sweep_folder(checkouts["after"], sweep, work)
    print(f"\ncommands: wall seconds to exit (CPU), median of {args.rounds}, and the heavy packages imported")
    for label, package, module, raw in COMMANDS:
        command = [a.replace("{sweep}", str(sweep)) for a in raw]
        times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        for round_ in range(args.rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                times[name].append(time_command(checkouts[name], package, [package, *command], work))
        cells = []
        for name in names:
            imported = heavy_modules(checkouts[name], package, module, command, work)
            wall = statistics.median(t[0] for t in times[name])
            cpu = statistics.median(t[1] for t in times[name])
            cells.append(f"{name} {wall:.2f} s ({cpu:.2f} CPU; {', '.join(imported) or 'none'})")
        print(f"  {label:<24}" + "; ".join(cells))
    print(f"\nload average at the end {loadavg()}")


if __name__ == "__main__":
    main()
