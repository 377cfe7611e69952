"""torch.distributed set-up: torchrun environments, local spawning, devices.

Three ways a run gets its processes, all ending in the same per-rank worker:

- ``torchrun --nproc-per-node=N -m i2icli.cli.main train ...`` (single or
  multi-node): RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR come from the
  environment (``init_method="env://"``).
- ``i2i train MODEL --gpus 0,1``: one process per listed GPU, spawned with
  ``torch.multiprocessing`` on this node, NCCL backend.
- ``i2i train MODEL --nproc 2`` on CPU: the same with the gloo backend (how DDP
  is exercised on machines without GPUs, CI included).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist

from i2icli.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""  # "" when not distributed
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def torchrun_env() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) when launched by torchrun with WORLD_SIZE > 1."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    return None


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; validates explicit CUDA requests."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    if device not in ("cpu",) and not device.startswith("cuda") and device != "mps":
        raise ConfigError(f"--device {device!r}: expected auto, cpu, cuda, cuda:N or mps")
    return device


def check_gpus(gpus: tuple[int, ...]) -> None:
    if not gpus:
        return
    if not torch.cuda.is_available():
        raise ConfigError("--gpus needs CUDA, and this machine has none; for CPU data parallelism use --nproc N (gloo)")
    count = torch.cuda.device_count()
    bad = [g for g in gpus if g < 0 or g >= count]
    if bad:
        raise ConfigError(f"--gpus {','.join(map(str, gpus))}: no GPU {bad[0]} (this machine has {count}: "
                          f"0..{count - 1})")
    if len(set(gpus)) != len(gpus):
        raise ConfigError(f"--gpus {','.join(map(str, gpus))}: a GPU is listed twice")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_process_group(info: DistInfo, init_method: str) -> None:
    if info.device.startswith("cuda"):
        torch.cuda.set_device(torch.device(info.device))
    dist.init_process_group(backend=info.backend, init_method=init_method, rank=info.rank, world_size=info.world_size)


def destroy() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        if info.backend == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def all_true(info: DistInfo, flag: bool, device: str) -> bool:
    """Logical AND of ``flag`` over ranks (so every rank stops together)."""
    if not info.distributed:
        return flag
    t = torch.tensor([1 if flag else 0], device=device, dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())
