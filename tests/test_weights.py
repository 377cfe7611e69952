"""Weights manifest, lookup order, require() errors, verify/import, and the `i2i weights` CLI."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from typer.testing import CliRunner

from i2icli import weights
from i2icli.errors import WeightsError

runner = CliRunner()


def app():
    """The CLI, imported lazily: the train command group is built from the registry at import time, and other
    test modules register their toy models before importing it (collection imports every test module first)."""
    from i2icli.cli.main import app as root

    return root


def test_manifest_names_and_hash_prefixes_match_file_names():
    files = {w.filename for w in weights.MANIFEST.values()}
    assert {"weights-inception-2015-12-05-6726825d.pth", "alexnet-owt-7be5be79.pth", "vgg19-dcbb9e9d.pth",
            "inception_v3_google-0cc3c7bd.pth", "resnet18-f37072fd.pth"} == files
    for w in weights.MANIFEST.values():
        assert w.url.endswith("/" + w.filename)
        if w.check == "sha256_prefix":
            assert w.sha256_prefix and w.filename.split("-")[-1].startswith(w.sha256_prefix)


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.delenv(weights.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torchhome"))
    assert weights.weights_dir() == tmp_path / "torchhome" / "hub" / "checkpoints"
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path / "env"))
    assert weights.weights_dir() == tmp_path / "env"
    assert weights.weights_dir(tmp_path / "opt") == tmp_path / "opt"


def test_require_lists_every_missing_file_in_one_line(tmp_path):
    (tmp_path / "vgg19-dcbb9e9d.pth").write_bytes(b"x")
    with pytest.raises(WeightsError) as exc:
        weights.require("alexnet", "vgg19", "inception-fidelity", directory=tmp_path)
    msg = str(exc.value)
    assert "\n" not in msg
    assert "alexnet-owt-7be5be79.pth" in msg and "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in msg
    assert "weights-inception-2015-12-05-6726825d.pth" in msg and "233 MB" in msg
    assert "vgg19" not in msg  # present
    assert str(tmp_path) in msg
    assert weights.require("vgg19", directory=tmp_path)["vgg19"] == tmp_path / "vgg19-dcbb9e9d.pth"


def test_load_vgg19_features_missing(tmp_path):
    with pytest.raises(WeightsError, match="vgg19-dcbb9e9d.pth.*download.pytorch.org/models/vgg19-dcbb9e9d.pth"):
        weights.load_vgg19_features(tmp_path)


@pytest.mark.slow
def test_load_vgg19_features_present(tmp_path):
    """Writes a 550 MB random VGG-19 state dict: slow."""
    import torchvision

    state = torchvision.models.vgg19(weights=None).state_dict()
    torch.save(state, tmp_path / "vgg19-dcbb9e9d.pth")
    feats = weights.load_vgg19_features(tmp_path)
    assert not any(p.requires_grad for p in feats.parameters()) and not feats.training
    torch.testing.assert_close(feats[0].weight, state["features.0.weight"])


def test_classifier_backbone_optional(tmp_path):
    assert weights.load_torchvision_classifier("resnet18", tmp_path) is None


@pytest.fixture
def toy_entry(tmp_path, monkeypatch):
    """A manifest entry whose hash prefix matches a small file we create (real files are 45-550 MB)."""
    payload = tmp_path / "download.bin"
    torch.save({"w": torch.arange(4.0)}, payload)
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    entry = weights.WeightFile("toy", f"toy-{digest[:8]}.pth", f"https://example.org/toy-{digest[:8]}.pth",
                               payload.stat().st_size, "1 KB", digest[:8], "sha256_prefix", "tests")
    monkeypatch.setitem(weights.MANIFEST, "toy", entry)
    return payload, entry


def test_import_checks_hash_then_copies(tmp_path, toy_entry):
    payload, entry = toy_entry
    dest = tmp_path / "weights"
    res = weights.import_files([payload], dest)  # identified by its hash, renamed to the manifest name
    assert res[0].action == "copied" and (dest / entry.filename).read_bytes() == payload.read_bytes()
    assert weights.import_files([payload], dest)[0].action == "already present"
    assert weights.load_state_dict("toy", dest)["w"].tolist() == [0, 1, 2, 3]
    assert not list(dest.glob(".*tmp"))


def test_import_rejects_wrong_hash_and_copies_nothing(tmp_path, toy_entry):
    payload, entry = toy_entry
    wrong = tmp_path / entry.filename  # right name, wrong content
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wrong.write_bytes(bytes(data))
    dest = tmp_path / "weights"
    with pytest.raises(WeightsError, match="SHA-256|size"):
        weights.import_files([payload, wrong], dest)
    assert not dest.exists() or not any(dest.iterdir())
    fake = tmp_path / "alexnet-owt-7be5be79.pth"
    fake.write_bytes(b"x" * 10)
    with pytest.raises(WeightsError, match="size 10 bytes, expected 244408911"):
        weights.import_files([fake], dest)
    with pytest.raises(WeightsError, match="not a file i2i knows"):
        weights.import_files([_unknown(tmp_path)], dest)


def _unknown(tmp_path):
    p = tmp_path / "random.pth"
    p.write_bytes(b"hello")
    return p


def test_inception_file_is_checked_structurally(tmp_path):
    bad = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, bad)
    with pytest.raises(WeightsError, match="does not load into torch-fidelity's Inception"):
        weights.verify("inception-fidelity", bad)
    bad.write_bytes(b"not torch")
    with pytest.raises(WeightsError, match="not a readable PyTorch weights file"):
        weights.verify("inception-fidelity", bad)


def test_cli_status_and_import(tmp_path, toy_entry):
    payload, entry = toy_entry
    r = runner.invoke(app(), ["weights", "status", "--weights-dir", str(tmp_path / "w"), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["weights_dir"] == str(tmp_path / "w")
    assert {f["file"] for f in data["files"] if not f["present"]} >= {"vgg19-dcbb9e9d.pth", entry.filename}
    r = runner.invoke(app(), ["weights", "import", str(payload), "--weights-dir", str(tmp_path / "w")])
    assert r.exit_code == 0, r.output
    assert "copied" in r.output
    r = runner.invoke(app(), ["weights", "status", "--weights-dir", str(tmp_path / "w")])
    assert r.exit_code == 0 and "present" in r.output and "missing" in r.output
    r = runner.invoke(app(), ["weights", "import", str(tmp_path / "nope.pth"), "--weights-dir", str(tmp_path / "w")])
    assert r.exit_code == 2 and "error:" in r.output and "no such file" in r.output


def test_imagenet_normalize():
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    y = weights.imagenet_normalize(x)
    expected = [(0.0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1.0 - 0.406) / 0.225]
    torch.testing.assert_close(y.flatten(), torch.tensor(expected))


@pytest.mark.weights
def test_present_real_files_verify():
    """Every manifest file present in the weights directory passes its hash/structure check."""
    present = [w for w in weights.MANIFEST.values() if weights.find(w.key) is not None]
    if not present:
        pytest.skip("no pretrained weight files in " + str(weights.weights_dir()))
    for w in present:
        weights.verify(w.key, weights.find(w.key))
