"""The device plan: disjoint GPU sets for parallel runs, CPU threads shared out, and the options it refuses."""

import pytest

from eeg_sweep.devices import plan_devices
from eeg_sweep.plan import SweepError

EIGHT = [str(i) for i in range(8)]


def _plan(gpus=(), cores=16, **kw):
    options = dict(max_parallel=1, gpus_per_run=None, torchrun=False, nproc=None)
    options.update(kw)
    return plan_devices(gpus=list(gpus), cores=cores, **options)


def test_four_two_gpu_runs_side_by_side_on_an_eight_gpu_node():
    plan = _plan(EIGHT, max_parallel=4, torchrun=True)
    assert plan.nproc == 2 and plan.parallel == 4
    assert [s["CUDA_VISIBLE_DEVICES"] for s in plan.slots] == ["0,1", "2,3", "4,5", "6,7"]
    used = [g for s in plan.slots for g in s["CUDA_VISIBLE_DEVICES"].split(",")]
    assert len(used) == len(set(used)), "parallel runs never share a GPU"


def test_gpu_sets_follow_cuda_visible_devices_and_cap_the_parallel_runs():
    plan = _plan(["3", "5", "6"], max_parallel=4, gpus_per_run=1)
    assert [s["CUDA_VISIBLE_DEVICES"] for s in plan.slots] == ["3", "5", "6"]  # 3 at a time, not 4
    assert plan.nproc is None
    two = _plan(["3", "5", "6"], max_parallel=4, gpus_per_run=2, torchrun=True)
    assert [s["CUDA_VISIBLE_DEVICES"] for s in two.slots] == ["3,5"]


def test_one_run_at_a_time_changes_nothing():
    assert _plan(EIGHT).slots == ({},)
    assert _plan(EIGHT, torchrun=True).nproc == 8  # torchrun over every GPU, as before
    assert _plan(cores=16).slots == ({},)


def test_cpu_threads_are_shared_between_parallel_runs():
    plan = _plan(cores=16, max_parallel=4)
    assert plan.parallel == 4 and all(s["OMP_NUM_THREADS"] == "4" for s in plan.slots)
    ddp = _plan(cores=16, max_parallel=2, torchrun=True, nproc=2)
    assert ddp.nproc == 2 and all(s["OMP_NUM_THREADS"] == "4" for s in ddp.slots)
    assert all(s["OMP_NUM_THREADS"] == "1" for s in _plan(cores=2, max_parallel=3).slots)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (dict(gpus=EIGHT[:2], gpus_per_run=4, torchrun=True), "--gpus-per-run 4: only 2 GPU(s) visible"),
        (dict(gpus=(), gpus_per_run=1), "--gpus-per-run 1: this machine has no GPU visible"),
        (dict(gpus=EIGHT, gpus_per_run=2), "more than one GPU per run needs --torchrun"),
        (dict(gpus=EIGHT, gpus_per_run=2, torchrun=True, nproc=4), "--nproc 4 and --gpus-per-run 2 disagree"),
        (dict(max_parallel=0), "--max-parallel expects a positive number, got 0"),
    ],
)
def test_refused_plans_name_the_option(kw, message):
    with pytest.raises(SweepError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _plan(**kw)
