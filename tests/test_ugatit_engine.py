"""U-GAT-IT end to end through the engine: a CycleGAN folder tree -> train -> resume -> translate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from i2icli.config import read_recipe, resolve
from i2icli.engine import TrainRequest, train
from i2icli.guidance import Guidance
from i2icli.images import save_png
from i2icli.registry import RECIPES_DIR, config_cls_for
from i2icli.translate import TranslateRequest, load_run, translate_images


def make_tree(root: Path, n: int = 3, size: int = 40) -> Path:
    rng = np.random.default_rng(0)
    for sub, base in (("trainA", 40), ("trainB", 200), ("testA", 40), ("testB", 200)):
        (root / sub).mkdir(parents=True)
        for i in range(n):
            img = np.clip(base + rng.normal(0, 30, (size, size, 3)), 0, 255).astype(np.uint8)
            save_png(root / sub / f"{i}.png", img)
    return root


def tiny_cfg(data: Path, *overrides: str):
    path = RECIPES_DIR / "ugatit" / "tiny.toml"
    sets = [f'data.path="{data}"', "train.iterations=4", "train.checkpoint_every=2", "train.sample_every=4",
            "train.log_every=1", "train.sample_count=2", "model.n_res_blocks=1", *overrides]
    return resolve(read_recipe(path), config_cls_for, str(path), overrides=sets, model="ugatit")


def test_train_resume_and_translate(tmp_path):
    data = make_tree(tmp_path / "data")
    run = tmp_path / "run"
    result = train(TrainRequest(cfg=tiny_cfg(data, "train.iterations=2"), out=run, device="cpu"))
    assert result.iterations == 2
    result = train(TrainRequest(cfg=tiny_cfg(data), out=run, resume="auto", device="cpu", allow_config_change=True))
    assert result.iterations == 4 and result.checkpoint.name == "step_00000004"
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in recs] == [1, 2, 3, 4]
    for r in recs:
        for key in ("d_loss", "d_adv", "d_cam", "g_loss", "g_adv", "g_cycle", "g_identity", "g_cam"):
            assert np.isfinite(r[key]), key
    assert (run / "samples" / "step_00000004.png").is_file()

    loaded = load_run(run, device="cpu")
    rhos = [p for n, p in loaded.family.networks.named_parameters() if n.endswith("rho")]
    assert rhos and all(0.0 <= float(r.detach().min()) and float(r.detach().max()) <= 1.0 for r in rhos)

    out = translate_images(TranslateRequest(inputs=(data / "testA",), out=tmp_path / "out", run_dir=run,
                                            direction="a2b", save_maps=True, device="cpu"))
    assert not out.failed and len(out.written) == 3
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "0.png" in names and "0_attention.png" in names
    with torch.no_grad():
        y = loaded.family.translate(torch.zeros(1, 3, 32, 32), Guidance(direction="b2a"))
    assert y["output"].shape == (1, 3, 32, 32) and y["attention"].shape == (1, 1, 32, 32)
