"""One kill-and-resume check for every model: an interrupted and resumed run equals an uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from i2icli.config import RunConfig
from i2icli.engine import TrainRequest, train
from i2icli.errors import TrainingError
from i2icli.translate import load_run


def logged(run: Path) -> list[dict]:
    """metrics.jsonl without the timing fields."""
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("it_per_s", "elapsed_s")} for r in recs]


def assert_resume_is_exact(cfg: RunConfig, root: Path, stop_at: int) -> dict[str, torch.Tensor]:
    """Train ``cfg`` once straight through and once interrupted after ``stop_at`` iterations then resumed;
    assert identical logs and bit-identical weights (buffers included).  Returns the final state dict."""
    full, part = root / "full", root / "part"
    train(TrainRequest(cfg=cfg, out=full, device="cpu"))

    def interrupt(description: str, completed: int, total: int | None = None, **fields: object) -> None:
        if completed == stop_at:
            raise KeyboardInterrupt

    with pytest.raises(TrainingError, match="interrupted"):
        train(TrainRequest(cfg=cfg, out=part, device="cpu"), progress=interrupt)
    train(TrainRequest(cfg=cfg, out=part, resume="auto", device="cpu"))
    assert logged(part) == logged(full)
    wa = load_run(full, device="cpu").family.networks.state_dict()
    wb = load_run(part, device="cpu").family.networks.state_dict()
    assert sorted(wa) == sorted(wb)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    return wa
