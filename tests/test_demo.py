"""`make demo` / `i2i demo` runs end to end (tiny budgets) and writes its grid; a re-run resumes."""

from __future__ import annotations

import pytest
from PIL import Image
from typer.testing import CliRunner

runner = CliRunner()


@pytest.mark.parametrize("model, columns", [("lomit", 6), ("ugatit", 3)])
def test_demo_writes_grid_and_resumes(tmp_path, model, columns):
    from i2icli.cli.main import app

    out = tmp_path / model
    args = ["demo", "--model", model, "--out", str(out), "--iterations", "4", "--count", "24", "--images", "3"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    grid = Image.open(out / "demo_grid.png")
    assert grid.width >= columns * 48 and grid.height >= 3 * 48
    translations = [out / "translations"] if model == "ugatit" else \
        [out / f"translations-{name}" for name in ("shipped", "kept", "short")]
    for folder in translations:
        assert len(list(folder.glob("*.png"))) >= 3, folder
    res = runner.invoke(app, args[:-4] + ["--iterations", "6", "--images", "3"])
    assert res.exit_code == 0, res.output
    assert "using the existing" in res.output
    run = next(out.glob("run-*"))
    assert (run / "checkpoints" / "step_00000006").is_dir()


def test_demo_rejects_unknown_model(tmp_path):
    from i2icli.cli.main import app

    res = runner.invoke(app, ["demo", "--model", "stargan", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "choose one of lomit, ugatit" in res.output
