"""``i2i prepare match``: keyed, atomic, resumable warp cache; mismatches and bad input fail in one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from i2icli.cli.main import app
from i2icli.data.store import open_store
from i2icli.errors import DataError
from i2icli.match.cache import WarpCache, partial_path
from i2icli.match.features import FeatureSpec, Matcher
from i2icli.prepare.match import MatchRequest, expected_key, prepare_match, rebuild_command, select_pairs
from segin_helpers import paired_store

torch.set_num_threads(1)


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    return paired_store(tmp_path / "s.h5", n_train=5, n_test=3)


def _req(store: Path, out: Path, **kw) -> MatchRequest:
    return MatchRequest(store=store, out=out, features="random", device="cpu", batch=2, **kw)


def test_round_trip_equals_direct_matching(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.match.h5"
    res = prepare_match(_req(store, out, topk=3))
    assert res.pairs == 5 and res.computed == 5 and res.feature_label == "not ImageNet VGG"
    assert not partial_path(out).exists()
    cache = WarpCache(out)
    assert cache.grid == (8, 8) and cache.cell == 4 and cache.topk == 3 and cache.verify()
    s = open_store(store)
    m = Matcher(FeatureSpec("random", "relu3_2", 0), 3, "fp32", "cpu")
    direct = m.match_images(np.stack([s.source("train", 3)]), np.stack([s.image("train", 3)]))
    assert np.array_equal(cache.field(cache.row_of_input(3)), direct.index[0].numpy())
    with h5py.File(out, "r") as f:  # the direct chunk read equals h5py's ordinary read
        assert np.array_equal(cache.field(2), f["index"][2].astype(np.int64))
        assert f["index"].dtype == np.uint16 and f["index"].chunks == (1, 8, 8) and f["index"].compression is None
    assert np.allclose(cache.score(3), direct.score[0].numpy(), atol=2e-3)
    assert np.array_equal(cache.topk_field(3)[..., 0], cache.field(3))


def test_mismatch_names_fields_and_rebuild_command(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.match.h5"
    prepare_match(_req(store, out))
    s = open_store(store)
    inp, ex = select_pairs(s, "train", "self")
    good = expected_key(s, "train", "self", inp, ex, FeatureSpec("random", "relu3_2", 0), 3, "fp32", "sources")
    WarpCache(out, expected=good)  # same settings: accepted
    # bf16-certified is certified equal to fp32, so it reads the same cache
    WarpCache(out, expected=expected_key(s, "train", "self", inp, ex, FeatureSpec("random", "relu3_2", 0), 3,
                                         "bf16-certified", "sources"))
    cmd = rebuild_command(store, "train", "self", "relu4_1", 3, "fp32", "random", out)
    variants = {
        "features.layer": FeatureSpec("random", "relu4_1", 0),
        "features.weights": FeatureSpec("random", "relu3_2", 1),
    }
    for field, spec in variants.items():
        exp = expected_key(s, "train", "self", inp, ex, spec, 3, "fp32", "sources")
        with pytest.raises(DataError, match=rf"{field}: cache .*expected .*i2i prepare match .*--force") as err:
            WarpCache(out, expected=exp, rebuild=cmd)
        assert "\n" not in str(err.value)
    other = {"patch": {"patch": 5}, "precision": {"precision": "bf16"}, "input_field": {"input_field": "gray"}}
    for field, kw in other.items():
        args = {"spec": FeatureSpec("random", "relu3_2", 0), "patch": 3, "precision": "fp32",
                "input_field": "sources"} | kw
        exp = expected_key(s, "train", "self", inp, ex, args["spec"], args["patch"], args["precision"],
                           args["input_field"])
        with pytest.raises(DataError, match=rf"\b{field}: cache"):
            WarpCache(out, expected=exp)
    with pytest.raises(DataError, match="pairs_sha256"):
        WarpCache(out, expected=expected_key(s, "train", "self", inp[::-1].copy(), ex, FeatureSpec("random"), 3,
                                             "fp32", "sources"))
    other_store = paired_store(tmp_path / "other.h5", n_train=5, seed=1)
    s2 = open_store(other_store)
    with pytest.raises(DataError, match="store_checksum: cache"):
        WarpCache(out, expected=expected_key(s2, "train", "self", inp, ex, FeatureSpec("random"), 3, "fp32", "sources"))


def test_kill_and_resume_gives_the_same_file(store: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref.match.h5"
    prepare_match(_req(store, ref))
    out = tmp_path / "c.match.h5"

    def killer(desc: str, done: int, total: int | None = None, **_: float) -> None:
        if done >= 2:
            raise KeyboardInterrupt  # a kill after the first flushed batch

    with pytest.raises(KeyboardInterrupt):
        prepare_match(_req(store, out), progress=killer)
    assert not out.exists() and partial_path(out).exists()
    with pytest.raises(DataError, match="not finished"):
        WarpCache(out)
    res = prepare_match(_req(store, out))
    assert res.resumed_from == 2 and res.computed == 3
    assert any("resumed" in n for n in res.stats["notes"])
    a, b = WarpCache(out), WarpCache(ref)
    assert all(np.array_equal(a.field(i), b.field(i)) for i in range(5))
    assert a.attrs["checksum"] == b.attrs["checksum"]


def test_partial_with_other_settings_or_garbage_is_discarded(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.match.h5"
    partial_path(out).write_bytes(b"\x89HDF\r\n garbage from a kill mid-write")
    res = prepare_match(_req(store, out))
    assert res.resumed_from == 0 and any("unreadable" in n for n in res.stats["notes"])


def test_force_truncated_and_foreign_files(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.match.h5"
    prepare_match(_req(store, out))
    with pytest.raises(DataError, match="exists; pass --force"):
        prepare_match(_req(store, out))
    prepare_match(dataclasses.replace(_req(store, out), force=True, split="test"))
    assert WarpCache(out).key_fields["split"] == "test"
    data = out.read_bytes()
    trunc = tmp_path / "t.match.h5"
    trunc.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match="truncated or corrupt"):
        WarpCache(trunc)
    with pytest.raises(DataError, match="not an i2i warp cache"):
        WarpCache(store)
    with pytest.raises(DataError, match="no such warp cache"):
        WarpCache(tmp_path / "none.h5")


def test_pairings_and_bad_pairs(store: Path, tmp_path: Path) -> None:
    s = open_store(store)
    inp, ex = select_pairs(s, "train", "random", inputs=3, per_input=2, seed=0)
    assert len(inp) == 6 and not np.any(inp == ex)
    csv = tmp_path / "p.csv"
    csv.write_text("input,exemplar\n0,1\n2,9\n")
    with pytest.raises(DataError, match=r"pair 1 \(2, 9\) points past .*indices 0\.\.4"):
        select_pairs(s, "train", f"file:{csv}")
    csv.write_text("0,1\n4,0\n")
    out = tmp_path / "f.match.h5"
    prepare_match(_req(store, out, pairs=f"file:{csv}"))
    c = WarpCache(out)
    assert c.input.tolist() == [0, 4] and c.exemplar.tolist() == [1, 0]
    with pytest.raises(DataError, match="no ground-truth pairs"):
        select_pairs(s, "train", "store")
    with pytest.raises(DataError, match="no split"):
        select_pairs(s, "val", "self")


def test_cli_prepare_match_and_info(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("I2I_WEIGHTS", str(tmp_path / "no-weights"))
    out = tmp_path / "c.match.h5"
    runner = CliRunner()
    r = runner.invoke(app, ["prepare", "match", str(store), "--features", "random", "--device", "cpu",
                            "--precision", "bf16-certified", "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "not ImageNet VGG" in text and "bf16 rows recomputed in fp32" in text
    r = runner.invoke(app, ["prepare", "info", str(out), "--verify"])
    assert r.exit_code == 0 and "warp cache" in r.output and "verified" in r.output, r.output
    r = runner.invoke(app, ["prepare", "match", str(store), "--device", "cpu", "--out", str(tmp_path / "x.h5")])
    assert r.exit_code == 2 and "vgg19-dcbb9e9d.pth" in " ".join(r.output.split())  # ImageNet by default
    r = runner.invoke(app, ["prepare", "match", str(store), "--features", "random", "--layer", "relu9_9",
                            "--out", str(tmp_path / "y.h5")])
    assert r.exit_code == 2 and "unknown VGG-19 layer" in " ".join(r.output.split())


def test_sigkill_mid_run_then_rerun_gives_the_same_cache(store: Path, tmp_path: Path) -> None:
    """A real SIGKILL (no cleanup runs) after the first flushed batch: the rerun resumes or restarts cleanly."""
    import os
    import subprocess
    import sys

    out = tmp_path / "k.match.h5"
    script = f"""
import os, signal, torch
torch.set_num_threads(1)
from pathlib import Path
from i2icli.prepare.match import MatchRequest, prepare_match
def kill(desc, done, total=None, **kw):
    if done >= 2:
        os.kill(os.getpid(), signal.SIGKILL)
prepare_match(MatchRequest(store=Path({str(store)!r}), out=Path({str(out)!r}), features="random", device="cpu",
                           batch=2), progress=kill)
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300, check=False)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert not out.exists() and partial_path(out).exists()
    res = prepare_match(_req(store, out))
    assert res.resumed_from in (0, 2)
    ref = tmp_path / "ref.match.h5"
    prepare_match(_req(store, ref))
    assert WarpCache(out).attrs["checksum"] == WarpCache(ref).attrs["checksum"]
