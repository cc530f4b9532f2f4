"""DDP set-up under torchrun: NCCL on CUDA, Gloo on CPU, and the few collectives training needs."""

from __future__ import annotations

import os

import attrs
import torch
import torch.distributed as dist

from eeg_config import UserError


@attrs.frozen
class DistInfo:
    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    """``train.device`` (``auto | cpu | cuda``) -> the device of this process (``cuda:local_rank``)."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise UserError("train.device is 'cuda' but no CUDA device is available")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(enabled: bool, device_kind: str) -> DistInfo:
    """Join the torchrun process group when ``enabled`` (reads RANK, WORLD_SIZE, LOCAL_RANK)."""
    if not enabled:
        return DistInfo()
    missing = [k for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR") if k not in os.environ]
    if missing:
        raise UserError(
            f"--distributed needs torchrun's environment ({', '.join(missing)} not set): launch with "
            "`uv run torchrun --standalone --nproc_per_node=N apps/pretrain --config ... --distributed`"
        )
    backend = "nccl" if device_kind == "cuda" else "gloo"
    local_rank = int(os.environ["LOCAL_RANK"])
    if device_kind == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return DistInfo(True, dist.get_rank(), dist.get_world_size(), local_rank)


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over ranks (in place on a copy on the collective's device); identity when alone."""
    if not info.enabled:
        return tensor
    device = torch.device("cuda", info.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")
    out = tensor.detach().to(device=device, copy=True)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(tensor.device)


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when ``flag`` is true on any rank (so all ranks stop together)."""
    if not info.enabled:
        return flag
    return bool(all_reduce_sum(torch.tensor([1.0 if flag else 0.0]), info).item() > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
