"""Kill-and-resume at torch's *default* CPU thread count is bit-identical (U-GAT-IT tiny).

The rest of the suite runs with one intra-op thread (conftest), where CPU
reductions are never split and a resume bug of the "same state, other
reduction order" kind cannot show.  Here every training is a fresh
``i2i train`` process with ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` unset, as a
user runs it: an uninterrupted run, resumes from several checkpoints, a resume
from a shell that exports ``OMP_NUM_THREADS=1`` (the checkpoint's recorded
thread count must win), a run killed with SIGKILL at whatever iteration it
had reached and resumed, and -- the control that shows the comparison can
fail -- a resume that asks for another thread count with ``--threads``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from i2icli.engine import checkpoint as ckpt
from i2icli.prepare.synthetic import DigitsRequest, prepare_digits
from i2icli.registry import RECIPES_DIR

pytestmark = pytest.mark.slow  # ~6 U-GAT-IT trainings in fresh processes: a few minutes on 2 busy cores

TINY = str(RECIPES_DIR / "ugatit" / "tiny.toml")
ITERATIONS = 5
REPO = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def _cmd(run: Path, data: Path | None = None, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "i2icli.cli.main", "train", "ugatit", "--out", str(run)]
    if data is None:
        return cmd + ["--resume", "auto", *extra]
    return cmd + ["--recipe", TINY, "--data", str(data), "--set", f"train.iterations={ITERATIONS}",
                  "--set", "train.checkpoint_every=1", "--set", "train.keep_checkpoints=0",
                  "--set", "train.sample_every=1000", "--set", "train.log_every=1", *extra]


def _run(cmd: list[str], **env: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(**env), timeout=900, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return " ".join(proc.stdout.split())


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return ckpt.read_weights(ckpt.step_dir(run / "checkpoints", ITERATIONS))


def _differing(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


def _resume_copy(full: Path, dst: Path, step: int) -> Path:
    """A run directory holding ``full``'s config and only its checkpoint ``step`` (what a kill there leaves)."""
    (dst / "checkpoints").mkdir(parents=True)
    shutil.copy(full / "config.toml", dst / "config.toml")
    shutil.copytree(ckpt.step_dir(full / "checkpoints", step), ckpt.step_dir(dst / "checkpoints", step))
    return dst


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume-threads")
    data = root / "digits.h5"
    prepare_digits(DigitsRequest(out=data, count=16, test_count=4, seed=1))
    run = root / "full"
    _run(_cmd(run, data))
    threads = json.loads((run / "meta.json").read_text())["threads"]
    if threads < 2:
        pytest.skip("torch's default is one CPU thread on this machine; nothing thread-dependent to test")
    return run, data, threads


@pytest.mark.parametrize("step", [1, 3])
def test_resume_at_default_threads_is_bit_identical(full, tmp_path, step):
    run, _, _ = full
    resumed = _resume_copy(run, tmp_path / "r", step)
    _run(_cmd(resumed))
    assert _differing(_weights(run), _weights(resumed)) == []


def test_resume_from_a_one_thread_shell_uses_the_runs_thread_count(full, tmp_path):
    run, _, threads = full
    resumed = _resume_copy(run, tmp_path / "r", 2)
    out = _run(_cmd(resumed), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    assert f"CPU threads {threads}, as the run was trained with" in out
    assert _differing(_weights(run), _weights(resumed)) == []


def test_sigkill_then_resume_is_bit_identical(full, tmp_path):
    run, data, _ = full
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(killed, data), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
                            cwd=REPO)
    deadline = time.monotonic() + 600
    while ckpt.latest_checkpoint(killed) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at = ckpt.latest_checkpoint(killed)
    assert at is not None
    if at.name != f"step_{ITERATIONS:08d}":
        _run(_cmd(killed))
    assert _differing(_weights(run), _weights(killed)) == []


def test_control_another_thread_count_is_detected(full, tmp_path):
    """The comparison sees last-bit differences: one thread instead of the run's count changes the weights."""
    run, _, threads = full
    resumed = _resume_copy(run, tmp_path / "r", 1)
    out = _run(_cmd(resumed, None, "--threads", "1"))
    assert f"--threads 1 differs from the {threads} thread(s)" in out
    assert _differing(_weights(run), _weights(resumed)) != []
