"""`i2i eval edit-accuracy` / `edit-fid` (BridgeGAN Tables 1-2 in one command each) on a 2-step BridgeGAN run,
a 2-step classifier and synthetic faces: what is edited, what is scored, what is logged, and the one-line errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from i2i_eval_testing import register_tiny
from i2icli.data.store import open_store
from i2icli.prepare.synthetic import FacesRequest, prepare_faces
from i2icli.registry import RECIPES_DIR

runner = CliRunner()


def app():
    from i2icli.cli.main import app as root

    return root


def _train(model: str, store, out):
    r = runner.invoke(app(), ["train", model, "--recipe", str(RECIPES_DIR / model / "tiny.toml"), "--data", str(store),
                              "--out", str(out), "--device", "cpu", "--set", "train.iterations=2",
                              "--set", "train.checkpoint_every=2", "--set", "train.sample_every=1000",
                              "--set", "data.image_size=32", "--set", "data.load_size=32"])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("edits")
    store = root / "faces.h5"
    prepare_faces(FacesRequest(out=store, count=16, test_count=8, pairs=0, seed=1))
    return store, _train("bridge", store, root / "bridge"), _train("classifier", store, root / "clf")


def test_edit_accuracy_table_matches_eval_ca_on_the_kept_edits(setup, tmp_path):
    store, run, clf = setup
    keep = tmp_path / "edits"
    r = runner.invoke(app(), ["eval", "edit-accuracy", "--run", str(run), "--classifier", str(clf), "--keep", str(keep),
                              "--device", "cpu", "--json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)["records"][0]
    res = rec["result"]
    names = res["attributes"]
    assert rec["metric"] == "edit_ca" and res["n_images"] == 8 and len(names) == 10
    assert set(res["per_attribute"]) == {"label", "reference"} and rec["delta_scale"] == 1.5
    for mode in ("label", "reference"):
        assert set(res["per_attribute"][mode]) == set(names)
        assert all(0 <= v <= 1 for v in res["per_attribute"][mode].values())
    # label mode flips the edited attribute of every source image (the explicit one is never overridden)
    st = open_store(store)
    labels = st.labels("test")[:, [st.attributes.index(n) for n in names]]
    k = names.index("Smiling")
    with open(keep / "label" / "Smiling" / "labels.csv") as fh:
        rows = list(csv.reader(fh))[1:]
    assert len(rows) == 8 and [int(row[1 + k]) for row in rows] == [1 - int(v) for v in labels[:, k]]
    # the table's number is `i2i eval ca` on that folder, restricted to the edited attribute
    r2 = runner.invoke(app(), ["eval", "ca", "--classifier", str(clf), "--generated", str(keep / "label" / "Smiling"),
                               "--labels", str(keep / "label" / "Smiling" / "labels.csv"), "--device", "cpu",
                               "--json", "--no-log"])
    assert r2.exit_code == 0, r2.output
    per = json.loads(r2.stdout)["records"][0]["result"]["per_attribute"]
    assert res["per_attribute"]["label"]["Smiling"] == pytest.approx(per["Smiling"])
    assert res["kept"]["label"]["Smiling"] == pytest.approx(np.mean([v for a, v in per.items() if a != "Smiling"]))
    log = run / "eval.jsonl"
    assert log.is_file() and json.loads(log.read_text().splitlines()[-1])["metric"] == "edit_ca"


def test_edit_fid_with_a_registered_extractor(setup, tmp_path):
    store, run, _ = setup
    tiny = register_tiny()
    r = runner.invoke(app(), ["eval", "edit-fid", "--run", str(run), "--extractor", tiny, "--mode", "label",
                              "--limit", "6", "--no-cache", "--device", "cpu", "--json", "--no-log"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["records"][0]["result"]
    assert list(res["per_attribute"]) == ["label"] and res["n_images"] == 6 and res["n_real"] == 8
    assert all(np.isfinite(v) and v >= 0 for v in res["per_attribute"]["label"].values())


def test_one_line_errors_write_nothing(setup, tmp_path):
    store, run, clf = setup
    empty = tmp_path / "weights"
    empty.mkdir()
    keep = tmp_path / "kept"
    r = runner.invoke(app(), ["eval", "edit-fid", "--run", str(run), "--weights-dir", str(empty), "--keep", str(keep)])
    assert r.exit_code == 2 and "weights-inception-2015-12-05" in r.stderr and not keep.exists(), r.output
    for args, message in [
        (["edit-accuracy", "--run", str(clf), "--classifier", str(clf)], "edit attributes by label"),
        (["edit-accuracy", "--run", str(run), "--classifier", str(clf), "--mode", "both2"], "choose label"),
        (["edit-accuracy", "--run", str(run), "--classifier", str(clf), "--keep", str(tmp_path)], "already exists"),
    ]:
        r = runner.invoke(app(), ["eval", *args, "--device", "cpu", "--no-log"])
        assert r.exit_code == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert not (run / "eval.jsonl").exists() or "edit_fid" not in (run / "eval.jsonl").read_text()
