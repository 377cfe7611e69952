"""``i2i train MODEL``: one subcommand per registered model."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperCommand

from i2icli import registry
from i2icli.cli.common import DeviceOpt, cli_errors, console, rich_progress
from i2icli.config import toml_value
from i2icli.engine import TrainRequest, plan, train
from i2icli.engine.distributed import torchrun_env
from i2icli.errors import ConfigError
from i2icli.runs import default_run_dir, saved_config, training_config

app = typer.Typer(
    help=(
        "Train a model. Each model is a subcommand; its default recipe holds the paper's settings.\n\n"
        "Examples:\n\n"
        "  i2i train ugatit --recipe tiny --data data/digits.h5\n\n"
        "  i2i train ugatit --data selfie2anime/ --gpus 0,1 --set train.iterations=100000\n\n"
        "  i2i train ugatit --out runs/my-run --resume auto      # continue a stopped run\n\n"
        "  torchrun --nnodes 2 --nproc-per-node 8 -m i2icli.cli.main train ugatit --data ...   # multi-node"
    ),
    no_args_is_help=True,
)

RecipeOpt = Annotated[Path | None, typer.Option(
    "--recipe", "-r",
    help="Recipe TOML file, or the name of a shipped recipe (e.g. tiny); default: the model's default recipe.")]
DataOpt = Annotated[str | None, typer.Option(
    "--data", "-d",
    help="Training data: a prepared .h5 store, or (unpaired models) a folder with trainA/ trainB/ testA/ testB.")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s",
    help="Override a config field, validated like the recipe: --set train.lr=2e-4 --set model.light=true.")]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Run directory (default: runs/MODEL-RECIPE-TIMESTAMP).")]
ResumeOpt = Annotated[str | None, typer.Option(
    "--resume",
    help="--resume (same as --resume auto) continues the latest checkpoint in --out; or --resume "
         "CHECKPOINT_OR_RUN_DIR.")]
GpusOpt = Annotated[str | None, typer.Option(
    "--gpus", help="Comma-separated GPU ids, one DDP process each (NCCL), e.g. 0,1.")]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", min=1,
    help="CPU threads per process (default: torch's choice; small models often run faster with 1).")]
AllowChangeOpt = Annotated[bool, typer.Option(
    "--allow-config-change",
    help="On resume, continue even if --set/--recipe change fields that alter training (listed and recorded in "
         "the run's meta).")]
NprocOpt = Annotated[int, typer.Option(
    "--nproc", min=1, help="Processes on this node (DDP; gloo on CPU). Ignored under torchrun.")]


def resume_defaults_to_auto(args: list[str]) -> list[str]:
    """``--resume`` with no value (last, or followed by another option) becomes ``--resume auto``.

    Typer has no options with an optional value, so the train commands rewrite
    their arguments before parsing (:class:`_TrainCommand`). Arguments after a
    ``--`` terminator are left alone.
    """
    out: list[str] = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--":
            return out + args[i + 1:]
        if arg == "--resume" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append("auto")
    return out


class _TrainCommand(TyperCommand):
    # ctx is a click.Context; Any because typer >= 0.22 vendors click privately and older typers import click.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, resume_defaults_to_auto(args))


def _parse_gpus(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(x) for x in text.split(",") if x.strip() != "")
    except ValueError:
        raise ConfigError(f"--gpus {text!r}: expected comma-separated GPU ids such as 0,1") from None


def run_train(model: str, recipe: Path | None, data: str | None, overrides: list[str], out: Path | None,
              resume: str | None, gpus: str | None, nproc: int, device: str, threads: int | None = None,
              allow_config_change: bool = False) -> None:
    resume_dir: Path | None = None
    if resume and resume != "auto":
        r = Path(resume)
        resume_dir = r.parent.parent if (r / "weights.safetensors").is_file() else r
    if resume == "auto" and out is None:
        raise ConfigError("--resume auto needs --out RUN_DIR (the run to continue)")
    run_dir = out or resume_dir
    if resume and run_dir is not None and (run_dir / "config.toml").is_file() and recipe is None:
        cfg = saved_config(run_dir, ([f"data.path={toml_value(data)}"] if data else []) + overrides)
        if cfg.model != model:
            raise ConfigError(f"{run_dir} is a {cfg.model} run, not {model}; use `i2i train {cfg.model} --resume ...`")
    else:
        cfg = training_config(model, recipe, data, overrides)
    run_dir = run_dir or default_run_dir(cfg)
    req = TrainRequest(cfg=cfg, out=run_dir, resume=resume, device=device, nproc=nproc, gpus=_parse_gpus(gpus),
                       argv=tuple(["i2i", *sys.argv[1:]]), threads=threads, allow_config_change=allow_config_change)
    p = plan(req)
    env = torchrun_env()
    if env is not None and env[0] != 0:  # under torchrun only rank 0 talks
        train(req)
        return
    table = Table(title=f"i2i train {model}", show_header=False, box=None)
    table.add_row("run directory", str(p.run_dir))
    table.add_row("recipe", cfg.recipe)
    table.add_row("data", cfg.data.path or "-")
    table.add_row("device", f"{p.device} x {p.world_size} process(es), backend {p.backend}")
    table.add_row("batch", f"{p.batch_per_process} per process, effective {p.effective_batch}")
    table.add_row("learning rate", f"{p.lr:g} (not scaled with the effective batch; --set train.lr=... to change)")
    resuming = f" (resuming {p.resume_from})" if p.resume_from else ""
    table.add_row("iterations", f"{p.start_iteration} -> {p.iterations}{resuming}")
    table.add_row("parameters", ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in p.parameters.items()))
    if p.threads:
        table.add_row("CPU threads", str(p.threads))
    for note in p.notes:
        table.add_row("[yellow]note[/]", note)
    console.print(table)
    with rich_progress() as progress:
        result = train(req, progress=progress)
    console.print(f"[green]done[/]: {result.iterations} iterations in {result.seconds:.0f}s")
    console.print(f"  checkpoint  {result.checkpoint}")
    console.print(f"  metrics     {result.metrics}")
    if result.samples:
        console.print(f"  samples     {result.samples}")
    console.print(f"  translate   i2i translate IMAGE --checkpoint {result.run_dir}")


def _make_command(spec: registry.ModelSpec) -> Callable[..., None]:
    @cli_errors
    def command(
        recipe: RecipeOpt = None,
        data: DataOpt = None,
        set_: SetOpt = None,
        out: OutOpt = None,
        resume: ResumeOpt = None,
        gpus: GpusOpt = None,
        nproc: NprocOpt = 1,
        device: DeviceOpt = "auto",
        threads: ThreadsOpt = None,
        allow_config_change: AllowChangeOpt = False,
    ) -> None:
        run_train(spec.name, recipe, data, list(set_ or []), out, resume, gpus, nproc, device, threads,
                  allow_config_change)

    command.__doc__ = (
        f"{spec.summary}\n\n"
        f"Default recipe: {Path(spec.default_recipe).stem}; shipped recipes (--recipe NAME): "
        f"{', '.join(spec.recipes()) or 'none'}. "
        f"Writes config.toml, metrics.jsonl, samples/ and checkpoints/ into the run directory; "
        f"Ctrl-C stops at the next iteration and saves a checkpoint."
    )
    return command


for _name in registry.names():
    _spec = registry.get(_name)
    app.command(name=_name, help=None, cls=_TrainCommand)(_make_command(_spec))
