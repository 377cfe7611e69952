"""The training engine: one loop for every model family.

It owns devices, process groups and DDP wrapping, optimisers and the
learning-rate schedule, AMP, the data pipeline, logging (``metrics.jsonl`` and
TensorBoard when installed), sample grids, atomic checkpoints, resume, and
NaN/inf detection.  Families only compute losses (see
:mod:`i2icli.models.base`).

Reproducibility: model initialisation uses ``train.seed`` on every rank (DDP
also broadcasts rank 0's weights); stochastic ops use ``seed + rank``; data
randomness is keyed (:mod:`i2icli.data.keyed`); the torch RNG states are saved
in checkpoints.  On CPU with a fixed seed, a run interrupted and resumed
produces the same losses as an uninterrupted one (tested).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, default_collate

from i2icli import __version__
from i2icli.config import RunConfig, TrainConfig, run_config_to_toml
from i2icli.data.keyed import dataset_image_keys, images_to_float
from i2icli.engine import checkpoint as ckpt
from i2icli.engine import distributed as D
from i2icli.engine.ema import EMA, split_ema
from i2icli.engine.iteration import build_optimizers, due_phases, run_iteration, set_lr_factor
from i2icli.engine.resume import Change, check_config_change, resume_threads
from i2icli.engine.sampler import KeyedSampler
from i2icli.engine.sampling import save_grid
from i2icli.errors import ConfigError, DataError, I2IError, TrainingError
from i2icli.models.base import Family, Logs, Nets, Phase
from i2icli.progress import OptionalProgress, report
from i2icli.registry import ModelSpec, get


@dataclass(frozen=True)
class TrainRequest:
    """Everything ``train`` needs; built by the CLI or by Python callers."""

    cfg: RunConfig
    out: Path
    resume: str | None = None  # None | "auto" | a checkpoint or run directory
    device: str = "auto"
    nproc: int = 1  # CPU/GPU processes on this node when not under torchrun
    gpus: tuple[int, ...] = ()
    argv: tuple[str, ...] = ()  # the command line, recorded in meta.json
    threads: int | None = None  # CPU intra-op threads per process (None: torch's default, or shared under --nproc)
    allow_config_change: bool = False  # resume even if the config changes the maths (see engine/resume.py)


@dataclass(frozen=True)
class TrainPlan:
    """What a request will do, computed before any work (printed by the CLI)."""

    run_dir: Path
    device: str
    backend: str
    world_size: int
    batch_per_process: int
    effective_batch: int
    lr: float
    iterations: int
    start_iteration: int
    resume_from: Path | None
    parameters: dict[str, int] = field(default_factory=dict)
    threads: int | None = None  # CPU intra-op threads per process (None: not set by i2i, e.g. under torchrun)
    config_changes: tuple[Change, ...] = ()  # resume: fields that differ from the run's saved config
    notes: tuple[str, ...] = ()  # things the user should know (printed with the plan)


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    iterations: int
    checkpoint: Path
    metrics: Path
    samples: Path | None
    world_size: int
    seconds: float


# ----------------------------------------------------------------------------- schedule


def lr_factor(t: TrainConfig, iteration: int) -> float:
    """Multiplier of every base lr at ``iteration`` (0-based).

    ``linear_half`` is U-GAT-IT's (App. B.2): constant for the first half, then
    linear decay reaching 0 at the last iteration.  ``step``: times
    ``lr_gamma`` for every full ``lr_step_every`` iterations past
    ``decay_start`` (LOMIT Section 5.2: halved every 10k from 100k).  ``poly``:
    ``(1 - it / iterations) ** lr_power`` (EGSC-IT: 0.9).
    """
    n = t.iterations
    if t.lr_schedule == "none":
        return 1.0
    if t.lr_schedule == "poly":
        return max(0.0, 1.0 - iteration / n) ** t.lr_power
    if t.lr_schedule == "step":
        if iteration < t.decay_start:
            return 1.0
        return float(t.lr_gamma ** ((iteration - t.decay_start) // t.lr_step_every))
    start = n // 2 if t.lr_schedule == "linear_half" else t.decay_start
    if iteration < start or n <= start:
        return 1.0
    return max(0.0, 1.0 - (iteration - start) / (n - start))


# ----------------------------------------------------------------------------- planning


def _resolve_resume(req: TrainRequest) -> Path | None:
    if req.resume is None:
        return None
    if req.resume == "auto":
        return ckpt.latest_checkpoint(req.out)
    p = Path(req.resume)
    if (p / ckpt.WEIGHTS).is_file():
        return p
    if p.is_dir():
        latest = ckpt.latest_checkpoint(p)
        if latest is None:
            raise DataError(f"--resume {p}: no complete checkpoint in this run directory")
        return latest
    raise DataError(f"--resume {p}: not a checkpoint or run directory")


def _world(req: TrainRequest) -> tuple[int, str, str]:
    """(world_size, backend, device) for this request."""
    env = D.torchrun_env()
    if env is not None:
        rank, world, local = env
        if torch.cuda.is_available() and req.device in ("auto", "cuda"):
            return world, "nccl", f"cuda:{local}"
        return world, "gloo", "cpu"
    if req.gpus:
        D.check_gpus(req.gpus)
        return len(req.gpus), "nccl" if len(req.gpus) > 1 else "", f"cuda:{req.gpus[0]}"
    device = D.resolve_device(req.device)
    if req.nproc < 1:
        raise ConfigError(f"--nproc {req.nproc}: must be at least 1")
    if req.nproc > 1:
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl" and torch.cuda.device_count() < req.nproc:
            raise ConfigError(f"--nproc {req.nproc}: only {torch.cuda.device_count()} GPUs; "
                              "use --gpus or fewer processes")
        return req.nproc, backend, device
    return 1, "", device


def plan(req: TrainRequest) -> TrainPlan:
    """Validate a request and describe it, without training. Raises I2IError on bad input."""
    cfg = req.cfg
    spec = get(cfg.model)
    t = cfg.train
    if t.iterations < 1 or t.batch_size < 1:
        raise ConfigError(f"{cfg.recipe}: train.iterations and train.batch_size must be positive")
    resume_from = _resolve_resume(req)
    if resume_from is None and ckpt.latest_checkpoint(req.out) is not None:
        raise TrainingError(f"{req.out} already holds checkpoints; continue it with --resume auto, "
                            "or choose another --out")
    world, backend, device = _world(req)
    state = ckpt.load_state(resume_from) if resume_from else {}
    start = int(state.get("iteration", 0))
    changes = tuple(check_config_change(resume_from, cfg, req.allow_config_change)) if resume_from else ()
    notes = [f"config change: {c}" + ("" if c.maths else " (does not change the updates)") for c in changes]
    threads: int | None = None
    if device == "cpu" and D.torchrun_env() is None:
        default = req.threads or (torch.get_num_threads() if world == 1 else max(1, (os.cpu_count() or 1) // world))
        threads, note = resume_threads(state.get("threads"), req.threads, default)
        notes += [note] if note else []
    torch.manual_seed(t.seed)
    family = spec.build(cfg)
    if resume_from is None:
        family.load_initial_weights()  # e.g. a missing stage-1 run: one-line error, nothing written
    needed = family.required_weights()
    if needed:
        from i2icli import weights

        weights.require(*needed)
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in family.networks.items()}
    return TrainPlan(run_dir=Path(req.out), device=device, backend=backend or "none", world_size=world,
                     batch_per_process=t.batch_size, effective_batch=t.batch_size * world, lr=t.lr,
                     iterations=t.iterations, start_iteration=start, resume_from=resume_from, parameters=params,
                     threads=threads, config_changes=changes, notes=tuple(notes))


# ----------------------------------------------------------------------------- entry point


def train(req: TrainRequest, progress: OptionalProgress = None) -> TrainResult:
    """Train ``req.cfg`` into ``req.out``; spawns processes for --nproc/--gpus."""
    p = plan(req)
    _check_data(req.cfg, get(req.cfg.model))
    env = D.torchrun_env()
    if env is not None:
        rank, world, local = env
        info = D.DistInfo(rank, world, local, p.backend, _rank_device(p.device, local))
        D.init_process_group(info, "env://")
        try:
            if rank == 0:
                _prepare_run_dir(req, p)
            D.barrier(info)
            result = _worker(req, info, progress if rank == 0 else None)
            D.barrier(info)  # leave together: no rank tears its connections down while a peer still talks
            return result
        finally:
            D.destroy()
    _prepare_run_dir(req, p)
    if p.world_size == 1:
        before = torch.get_num_threads()
        if p.threads:
            torch.set_num_threads(p.threads)
        try:
            return _worker(req, D.DistInfo(device=p.device), progress)
        finally:
            torch.set_num_threads(before)  # a Python caller's process keeps its own setting
    return _spawn(req, p, progress)


def _rank_device(device: str, local_rank: int) -> str:
    return f"cuda:{local_rank}" if device.startswith("cuda") else device


def _check_data(cfg: RunConfig, spec: ModelSpec) -> None:
    if not cfg.data.path:
        raise ConfigError(f"{cfg.recipe}: no training data; pass --data PATH (a prepared .h5 store or a folder tree)")
    ds = spec.dataset(cfg, "train")
    if len(ds) == 0:
        raise DataError(f"{cfg.data.path}: the train split is empty")


def _prepare_run_dir(req: TrainRequest, p: TrainPlan) -> None:
    out = Path(req.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "checkpoints").mkdir(exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise DataError(f"{out}: cannot write the run directory ({exc.strerror or exc}); "
                        "choose another --out") from None
    from i2icli.images import atomic_write_bytes

    atomic_write_bytes(out / "config.toml", run_config_to_toml(req.cfg).encode())
    meta = {
        "i2i_version": __version__,
        "torch_version": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "command": list(req.argv) or sys.argv,
        "model": req.cfg.model,
        "device": p.device,
        "backend": p.backend,
        "world_size": p.world_size,
        "batch_per_process": p.batch_per_process,
        "effective_batch": p.effective_batch,
        "lr": p.lr,
        "parameters": p.parameters,
        "resumed_from": str(p.resume_from) if p.resume_from else None,
        "threads": p.threads,
        "config_changes": [c.to_json() for c in p.config_changes],
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    name = "meta.json" if p.resume_from is None else f"meta-resume-{p.start_iteration:08d}.json"
    atomic_write_bytes(out / name, (json.dumps(meta, indent=2) + "\n").encode())


class _QueueProgress:
    """Forwards rank 0's progress calls from a spawned process to the parent."""

    def __init__(self, queue: Any) -> None:  # a multiprocessing queue
        self.queue = queue

    def __call__(self, description: str, completed: int, total: int | None = None, **fields: object) -> None:
        self.queue.put(("progress", description, completed, total, fields))


def _spawn_entry(rank: int, req: TrainRequest, p: TrainPlan, port: int, queue: Any) -> None:
    device = _rank_device(p.device, req.gpus[rank] if req.gpus else rank) if p.device.startswith("cuda") else p.device
    info = D.DistInfo(rank, p.world_size, rank, p.backend, device)
    if device == "cpu":  # share the cores instead of oversubscribing them (as torchrun's OMP_NUM_THREADS=1 does)
        torch.set_num_threads(p.threads or req.threads or max(1, (os.cpu_count() or 1) // p.world_size))
    try:
        D.init_process_group(info, f"tcp://127.0.0.1:{port}")
        result = _worker(req, info, _QueueProgress(queue) if rank == 0 else None)
        D.barrier(info)  # leave together (see train)
        if rank == 0:
            queue.put(("result", result))
    except I2IError as exc:
        queue.put(("error", str(exc)))
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        D.destroy()


def _spawn(req: TrainRequest, p: TrainPlan, progress: OptionalProgress) -> TrainResult:
    import queue as _queue

    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    port = D.free_port()
    procs = mp.start_processes(_spawn_entry, args=(req, p, port, q), nprocs=p.world_size, join=False,
                               start_method="spawn")
    result: TrainResult | None = None
    error: str | None = None
    import signal

    # Ctrl-C reaches the workers too (same process group); they stop at the next
    # iteration boundary and checkpoint, so the parent only waits for them.
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        while True:
            try:
                msg = q.get(timeout=0.2)
            except _queue.Empty:
                msg = None
            if msg is not None:
                kind = msg[0]
                if kind == "progress" and progress is not None:
                    progress(msg[1], msg[2], msg[3], **msg[4])
                elif kind == "result":
                    result = msg[1]
                elif kind == "error" and error is None:
                    error = msg[1]
                continue
            try:
                if procs.join(timeout=0.05):
                    break
            except mp.ProcessExitedException:
                break
            except mp.ProcessRaisedException:
                if error is None:
                    raise
                break
    finally:
        signal.signal(signal.SIGINT, previous)
        for proc in procs.processes:
            if proc.is_alive():
                proc.terminate()
    while error is None and result is None:
        try:
            msg = q.get(timeout=0.5)
        except _queue.Empty:
            break
        if msg[0] == "result":
            result = msg[1]
        elif msg[0] == "error":
            error = msg[1]
    if error is not None:
        raise TrainingError(error)
    if result is None:
        codes = [proc.exitcode for proc in procs.processes]
        raise TrainingError(f"training processes exited with codes {codes}; see the messages above")
    return result


# ----------------------------------------------------------------------------- the loop

STATE_FORMAT = 2
"""Version of ``state.pt``'s layout: 2 = optimisers keyed by ``Phase.optimizer_name`` with one parameter
group per module, ``model`` and ``format`` recorded; 1 (or no ``format``) = one optimiser per phase."""


def check_state(state: dict[str, Any], where: Path, model: str) -> None:
    """Refuse a checkpoint of another model or of an older/newer state layout, in one line."""
    fmt = state.get("format", 1)
    if state.get("model", model) != model:
        raise DataError(f"{where}: this checkpoint is of model {state.get('model')!r}, not {model!r}; "
                        "resume it with its own recipe or choose another --out")
    if fmt != STATE_FORMAT:
        raise DataError(f"{where}: training state format {fmt} (this i2i reads {STATE_FORMAT}); its weights still "
                        "translate, but resume needs a run started with this version")


def _build_frozen(family: Family, device: str) -> dict[str, nn.Module]:
    """The family's frozen auxiliary networks on ``device``, eval mode, no gradients; never checkpointed."""
    frozen = family.frozen_networks()
    clash = sorted(set(frozen) & set(family.networks.keys()))
    if clash:
        raise ConfigError(f"{family.cfg.model}: frozen network names {clash} clash with checkpointed networks")
    for m in frozen.values():
        m.to(device).eval().requires_grad_(False)
    return frozen



def _next_batch(batches: Iterator[Any]) -> Any:
    """The next batch; a user error raised in a DataLoader worker comes back as one line.

    PyTorch re-raises worker exceptions with the worker's traceback folded into
    the message; the last line is the original one-line message.
    """
    try:
        return next(batches)
    except I2IError as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else str(exc)
        for prefix in (f"{type(exc).__module__}.{type(exc).__name__}: ", f"{type(exc).__name__}: "):
            if last.startswith(prefix):
                last = last[len(prefix):]
                break
        raise type(exc)(last) from None


def to_device(batch: Any, device: str, channels_last: bool, image_keys: tuple[str, ...] = ()) -> Any:
    """Copy a batch to ``device``; the top-level entries in ``image_keys`` (uint8 images, the batch
    contract of :mod:`i2icli.data.keyed`) become float32 in [-1, 1] there, after the copy."""
    if isinstance(batch, torch.Tensor):
        t = batch.to(device, non_blocking=True)
        if channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t
    if isinstance(batch, dict):
        out = {k: to_device(v, device, channels_last) for k, v in batch.items()}
        return images_to_float(out, image_keys) if image_keys else out
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def _sample_batch(spec: ModelSpec, cfg: RunConfig, count: int) -> dict[str, Any] | None:
    """A fixed batch for sample grids: the first items of the test split (train if none), images as floats."""
    for split in ("test", "train"):
        try:
            ds = spec.dataset(cfg, split)
        except DataError:
            continue
        n = min(count, len(ds))
        if n > 0:
            return images_to_float(default_collate([ds[i] for i in range(n)]), dataset_image_keys(ds))
    return None


class _MetricsLog:
    def __init__(self, path: Path, enabled: bool, tensorboard_dir: Path):
        self.path = path
        self.enabled = enabled
        self.fh = open(path, "a", encoding="utf-8") if enabled else None
        self.tb: Any = None  # a SummaryWriter when the [tensorboard] extra is installed
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # the optional [tensorboard] extra is not installed
                pass
            else:
                self.tb = SummaryWriter(log_dir=str(tensorboard_dir))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        assert self.fh is not None
        self.fh.write(json.dumps(record) + "\n")
        self.fh.flush()
        if self.tb is not None:
            for k, v in record.items():
                if k != "iteration" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, record["iteration"])

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
        if self.tb is not None:
            self.tb.close()


def _rng_state(device: str) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.startswith("cuda"):
        state["cuda"] = torch.cuda.get_rng_state(torch.device(device))
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: str) -> None:
    torch.set_rng_state(state["torch"])
    if device.startswith("cuda") and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], torch.device(device))


def _check_replicas(info: D.DistInfo, networks: nn.ModuleDict, run_dir: Path, device: str) -> None:
    """DDP keeps replicas identical; verify it at the end (cheap) and record it.

    Each rank computes a float64 checksum per network; rank 0 writes all of them
    to ``ddp_check.json``.  Diverged replicas (a bug, or a non-synchronised
    buffer) stop with an error instead of silently saving rank 0's weights.
    """
    import torch.distributed as dist

    sums = torch.tensor([sum(float(p.detach().double().sum()) for p in m.parameters()) for m in networks.values()],
                        dtype=torch.float64, device=device)
    gathered = [torch.zeros_like(sums) for _ in range(info.world_size)]
    dist.all_gather(gathered, sums)
    table = {name: [float(g[i]) for g in gathered] for i, name in enumerate(networks.keys())}
    if info.is_main:
        from i2icli.images import atomic_write_bytes

        atomic_write_bytes(run_dir / "ddp_check.json", (json.dumps(table, indent=2) + "\n").encode())
    diverged = [n for n, v in table.items() if max(v) - min(v) > 1e-6 * max(1.0, abs(v[0]))]
    if diverged:
        raise TrainingError(f"DDP replicas diverged for {', '.join(diverged)}; see {run_dir / 'ddp_check.json'}")


class _StopFlag:
    """SIGINT/SIGTERM ask the loop to stop at the next iteration boundary.

    The loop then saves a checkpoint of the completed iterations (so resuming is
    exact) and exits; a second Ctrl-C interrupts at once.  Cluster schedulers
    send SIGTERM before pre-empting a job, which is handled the same way.
    """

    def __init__(self) -> None:
        import signal
        import threading

        self.requested = False
        self._old: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        import signal

        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _worker(req: TrainRequest, info: D.DistInfo, progress: OptionalProgress) -> TrainResult:
    cfg = req.cfg
    t = cfg.train
    spec = get(cfg.model)
    device = info.device
    run_dir = Path(req.out)
    ckpt_root = run_dir / "checkpoints"
    resume_from = _resolve_resume(req)
    if t.detect_anomaly:
        torch.autograd.set_detect_anomaly(True)

    torch.manual_seed(t.seed)  # identical initialisation on every rank
    family = spec.build(cfg)
    if resume_from is None:
        family.load_initial_weights()
    frozen = _build_frozen(family, device)
    networks = family.networks.to(device)
    if t.channels_last:
        networks.to(memory_format=torch.channels_last)
    optimizers = build_optimizers(family, networks)
    ema = EMA(networks, family.ema, t.ema_decay, t.ema_start) if family.ema and t.ema_decay > 0 else None

    start = 0
    rng_restore = None
    if resume_from is not None:
        state = ckpt.load_state(resume_from)
        check_state(state, resume_from, cfg.model)
        ckpt.load_weights(resume_from, networks)
        if ema is not None:
            _, ema_state = split_ema(ckpt.read_weights(resume_from))
            if ema_state:
                ema.load_state_dict(ema_state)
            else:  # a run that turned EMA on at resume starts its average from the live weights
                ema.update(-1)
        start = int(state["iteration"])
        for name, opt in optimizers.items():
            if name not in state["optimizers"]:
                raise DataError(f"{resume_from}: no optimiser state for {name!r}; was it written by another model "
                                "or another version of this one?")
            opt.load_state_dict(state["optimizers"][name])
        rng_restore = state.get("rng", {}).get(str(info.rank))
    # Stochastic ops (e.g. gradient-penalty interpolation) use seed + rank; rank 0's
    # RNG state is checkpointed, other ranks re-seed from (seed, rank, iteration).
    torch.manual_seed(t.seed + info.rank + 1_000_003 * start * (info.rank > 0))
    if rng_restore is not None:
        _set_rng_state(rng_restore, device)

    # Each trained module is wrapped once; a phase sees its own modules wrapped and the rest plain.
    trained = {name for phase in family.phases for name in phase.modules}
    wrapped: dict[str, nn.Module] = {}
    for name, module in networks.items():
        m: nn.Module = module
        if t.compile:
            m = torch.compile(m)  # type: ignore[assignment]  # for a module it is an OptimizedModule
        if info.distributed and name in trained:
            dev_ids = [torch.device(device).index] if device.startswith("cuda") else None
            m = DistributedDataParallel(m, device_ids=dev_ids,
                                        find_unused_parameters=getattr(family, "ddp_find_unused_parameters", False))
        wrapped[name] = m
    phase_nets = {
        phase.name: Nets({**{n: (wrapped[n] if n in phase.modules else networks[n]) for n in networks}, **frozen})
        for phase in family.phases
    }

    dataset = spec.dataset(cfg, "train")
    sampler = KeyedSampler(len(dataset), t.batch_size, seed=t.seed, rank=info.rank, world_size=info.world_size,
                           start_iteration=start)
    workers = cfg.data.num_workers
    loader = DataLoader(dataset, batch_size=t.batch_size, sampler=sampler, num_workers=workers,
                        pin_memory=device.startswith("cuda"), drop_last=True, persistent_workers=workers > 0,
                        prefetch_factor=4 if workers > 0 else None,
                        # its own generator: the loader must not draw from the global RNG
                        # (that would shift the model's random stream on resume)
                        generator=torch.Generator().manual_seed(t.seed))
    batches = iter(loader)
    image_keys = dataset_image_keys(dataset)  # uint8 in the loader, float on the device
    sample_batch = _sample_batch(spec, cfg, t.sample_count) if info.is_main else None

    log = _MetricsLog(run_dir / "metrics.jsonl", info.is_main, run_dir / "tensorboard")
    # bf16 autocast on CUDA and on CPU (fast where the CPU has bf16 matrix units, e.g. AMX; see BENCHMARKS.md)
    amp_device = "cuda" if device.startswith("cuda") else "cpu"
    autocast = (lambda: torch.autocast(amp_device, dtype=torch.bfloat16)) if t.amp else contextlib.nullcontext
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    last_samples: Path | None = None
    last_ckpt: Path | None = resume_from
    t0 = time.perf_counter()
    t_log, it_log = t0, start
    warned = False  # a diagnose() warning was shown: later ones go to metrics.jsonl only (no line per record)

    def save(iteration: int) -> Path | None:
        if not info.is_main:
            return None
        state = {
            "iteration": iteration,
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "rng": {"0": _rng_state(device)},
            "threads": torch.get_num_threads(),  # CPU results depend on it; a resume reuses it (engine/resume.py)
            "model": cfg.model,
            "format": STATE_FORMAT,
            "i2i_version": __version__,
        }
        return ckpt.save_checkpoint(ckpt_root, iteration, networks, state, keep=t.keep_checkpoints,
                                    extra_weights=ema.state_dict() if ema is not None else None)

    def sample(iteration: int) -> Path | None:
        if sample_batch is None:
            return None
        networks.eval()
        devices = [torch.device(device)] if device.startswith("cuda") else []
        with torch.no_grad(), autocast(), torch.random.fork_rng(devices=devices), \
                (ema.swapped() if ema is not None else contextlib.nullcontext()):
            torch.manual_seed(t.seed)  # the same latent draws in every grid, none from training's stream
            cols = family.sample(to_device(sample_batch, device, t.channels_last))
        networks.train()
        return save_grid(run_dir / "samples" / f"step_{iteration:08d}.png", [(n, c.float()) for n, c in cols])

    networks.train()
    completed = start
    report(progress, "train", completed, t.iterations)
    stop = _StopFlag()
    mid_iteration = False
    try:
        for it in range(start, t.iterations):
            batch = to_device(_next_batch(batches), device, t.channels_last, image_keys)
            factor = lr_factor(t, it)
            set_lr_factor(optimizers, factor)

            def nonfinite(phase: Phase, loss: torch.Tensor, logs: Logs, it: int = it,
                          before: Path | None = last_ckpt) -> None:
                bad = [k for k, v in logs.items() if not torch.isfinite(v).all()] or ["loss"]
                # The weights before iteration ``it`` exist only if no earlier phase of it has stepped;
                # otherwise a checkpoint named ``it`` would hold a half-done iteration and a resume would
                # redo that phase, so point to the last periodic checkpoint instead.
                first = due_phases(family, it)[0].name == phase.name
                where = (save(it) if first else before) or ckpt_root
                raise TrainingError(
                    f"non-finite {phase.name} loss ({', '.join(bad)}) at iteration {it}; "
                    f"the last good weights are in {where}; lower train.lr or enable/disable train.amp and resume")

            mid_iteration = True  # a second Ctrl-C in here interrupts between two phases' updates
            done = run_iteration(family, phase_nets, optimizers, batch, it, autocast,
                                 check_finite=lambda loss: D.all_true(info, bool(torch.isfinite(loss.detach()).all()),
                                                                      device),
                                 on_nonfinite=nonfinite)
            if ema is not None:
                ema.update(it)
            mid_iteration = False
            for _, logs in done:
                for k, v in logs.items():
                    v = v.detach().float()
                    sums[k] = sums[k] + v if k in sums else v.clone()
                    counts[k] = counts.get(k, 0) + 1
            completed = it + 1
            last = completed == t.iterations
            if completed % t.log_every == 0 or last:
                now = time.perf_counter()
                record: dict[str, Any] = {"iteration": completed}
                record.update({k: round(float(v) / counts[k], 6) for k, v in sums.items()})
                record["lr"] = optimizers[family.phases[0].optimizer_name].param_groups[0]["lr"]
                record["it_per_s"] = round((completed - it_log) / max(now - t_log, 1e-9), 4)
                record["elapsed_s"] = round(now - t0, 2)
                warning = family.diagnose(record)
                if warning:
                    record["warning"] = warning
                log.write(record)
                sums.clear()
                counts.clear()
                t_log, it_log = now, completed
                shown = {k: v for k, v in record.items()
                         if k not in ("iteration", "lr", "elapsed_s", "it_per_s", "warning")}
                report(progress, "train", completed, t.iterations, **dict(list(shown.items())[:4]))
                if warning and not warned and info.is_main:
                    report(progress, "warning", completed, None, message=f"iteration {completed}: {warning} "
                           "(later warnings: the \"warning\" field of metrics.jsonl)")
                    warned = True
            else:
                report(progress, "train", completed, t.iterations)
            if completed % t.sample_every == 0 or last:
                last_samples = sample(completed) or last_samples
            if completed % t.checkpoint_every == 0 or last:
                last_ckpt = save(completed) or last_ckpt
                D.barrier(info)
            if not D.all_true(info, not stop.requested, device) and not last:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        if mid_iteration:  # some phases of iteration `completed` may have stepped: not a resumable state
            raise TrainingError(f"interrupted inside iteration {completed}, so its weights are half-updated and were "
                                f"not saved; continue from the last checkpoint ({last_ckpt or 'none yet'}) with "
                                "--resume auto") from None
        if completed > start:
            where = save(completed)
            raise TrainingError(f"interrupted at iteration {completed}; checkpoint saved in {where}; "
                                f"continue with --resume auto") from None
        raise
    finally:
        stop.restore()
        log.close()
        del batches
    if info.distributed:
        _check_replicas(info, networks, run_dir, device)
    if last_ckpt is None:
        last_ckpt = ckpt.latest_checkpoint(run_dir) or ckpt_root
    return TrainResult(run_dir=run_dir, iterations=completed, checkpoint=last_ckpt, metrics=run_dir / "metrics.jsonl",
                       samples=last_samples, world_size=info.world_size, seconds=round(time.perf_counter() - t0, 2))
