"""Where parallel runs go on one machine: disjoint GPU sets (``CUDA_VISIBLE_DEVICES``) on a GPU machine,
a share of the CPU threads (``OMP_NUM_THREADS``) on a CPU-only one.

A slot is what one run gets; ``len(slots)`` runs go at a time. With one run at a time the plan sets
nothing, so a plain sweep behaves as before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import attrs

from eeg_sweep.plan import SweepError


@attrs.frozen
class DevicePlan:
    """``slots[i]`` are the environment variables of the i-th concurrent run; ``nproc`` the processes per
    run under torchrun (None: one plain process); ``what`` says it in words."""

    slots: tuple[Mapping[str, str], ...]
    nproc: int | None
    what: str

    @property
    def parallel(self) -> int:
        return len(self.slots)


def visible_gpus(device: str) -> list[str]:
    """The GPU ids runs may use: ``CUDA_VISIBLE_DEVICES`` when set, else ``0..count-1``; none when
    ``train.device`` is cpu or CUDA is absent."""
    if device == "cpu":
        return []
    import torch

    count = torch.cuda.device_count()
    if count == 0:
        return []
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given:
        ids = [part.strip() for part in given.split(",") if part.strip()]
        return ids[:count]
    return [str(i) for i in range(count)]


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def plan_devices(
    *,
    max_parallel: int,
    gpus_per_run: int | None,
    torchrun: bool,
    nproc: int | None,
    gpus: Sequence[str],
    cores: int,
) -> DevicePlan:
    """Split ``gpus`` (or ``cores``) between up to ``max_parallel`` concurrent runs.

    GPU machine: each run gets ``gpus_per_run`` GPUs (default: ``nproc`` with torchrun, else all GPUs
    shared out between ``max_parallel`` runs with torchrun, else 1). CPU machine: each run gets
    ``cores // (max_parallel * processes per run)`` threads (at least 1)."""
    if max_parallel < 1:
        raise SweepError(f"--max-parallel expects a positive number, got {max_parallel}")
    if nproc is not None and not torchrun:
        raise SweepError("--nproc is only used with --torchrun")
    if nproc is not None and nproc < 1:
        raise SweepError(f"--nproc expects a positive number, got {nproc}")
    if gpus_per_run is not None and gpus_per_run < 1:
        raise SweepError(f"--gpus-per-run expects a positive number, got {gpus_per_run}")

    if not gpus:
        if gpus_per_run is not None:
            raise SweepError(
                f"--gpus-per-run {gpus_per_run}: this machine has no GPU visible "
                "(or train.device is cpu); leave it out to share the CPU threads"
            )
        processes = nproc or 1
        per_run = max(cores // (max_parallel * processes), 1)
        slots = tuple(
            {"OMP_NUM_THREADS": str(per_run), "MKL_NUM_THREADS": str(per_run)} if max_parallel > 1 else {}
            for _ in range(max_parallel)
        )
        how = f"{processes} process(es) each under torchrun" if torchrun else "one process each"
        threads = f", {per_run} CPU thread(s) per process" if max_parallel > 1 else ""
        return DevicePlan(slots, processes if torchrun else None, f"CPU, {how}{threads}")

    total = len(gpus)
    given = gpus_per_run is not None
    if gpus_per_run is None:
        if nproc is not None:
            gpus_per_run = nproc
        elif torchrun:
            gpus_per_run = max(total // max_parallel, 1)
        else:
            gpus_per_run = 1
    if gpus_per_run > total:
        raise SweepError(f"--gpus-per-run {gpus_per_run}: only {total} GPU(s) visible on this machine")
    if nproc is not None and nproc != gpus_per_run:
        raise SweepError(
            f"--nproc {nproc} and --gpus-per-run {gpus_per_run} disagree: torchrun starts one process per GPU"
        )
    if gpus_per_run > 1 and not torchrun:
        raise SweepError(
            f"--gpus-per-run {gpus_per_run}: more than one GPU per run needs --torchrun (one process per GPU)"
        )
    groups = [gpus[i : i + gpus_per_run] for i in range(0, total - gpus_per_run + 1, gpus_per_run)]
    parallel = min(max_parallel, len(groups))
    if max_parallel == 1 and not given:
        slots: tuple[Mapping[str, str], ...] = ({},)  # one run at a time on the whole machine, as before
    else:
        slots = tuple({"CUDA_VISIBLE_DEVICES": ",".join(group)} for group in groups[:parallel])
    how = f"under torchrun with {gpus_per_run} process(es)" if torchrun else "one process"
    return DevicePlan(
        slots,
        gpus_per_run if torchrun else None,
        f"{total} GPU(s): {parallel} run(s) at a time, {gpus_per_run} GPU(s) each, {how} per run",
    )
