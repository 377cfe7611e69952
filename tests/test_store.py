"""The HDF5 store: schema round trip, validation on open, atomic writes, fork safety, specs."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import pickle
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from i2icli.data.store import (
    SCHEMA_VERSION,
    StoreWriter,
    count_spec_images,
    iter_spec_images,
    open_store,
    parse_store_spec,
)
from i2icli.errors import DataError


def _img(v: int, size: int = 8) -> np.ndarray:
    return np.full((size, size, 3), v % 256, dtype=np.uint8)


def make_store(path: Path, n_train: int = 5, n_test: int = 3, **kw) -> Path:
    with StoreWriter(path, image_size=(8, 8), domains=("cat", "dog"), attributes=("Smiling", "Male"),
                     producer="test", parameters={"n": n_train}, **kw) as w:
        for i in range(n_train):
            w.add("train", _img(i), f"train/{i}.png", domain=i % 2, labels=[i % 2, 1])
        for i in range(n_test):
            w.add("test", _img(100 + i), f"test/ü {i}.png", domain=i % 2, labels=[0, i % 2])
        w.add_pair("test", 0, 1, _img(200), np.zeros((8, 8), np.uint8), chosen=[1, 0])
    return path


def test_round_trip(tmp_path):
    s = open_store(make_store(tmp_path / "s.h5"))
    assert s.schema_version == SCHEMA_VERSION
    assert s.splits == ("train", "test")
    assert s.domains == ("cat", "dog") and s.attributes == ("Smiling", "Male")
    assert s.count("train") == 5 and s.count("test", "dog") == 1 and s.count("test", "a") == 2
    assert list(s.indices("train", "b")) == [1, 3]
    assert s.image("train", 3)[0, 0, 0] == 3
    assert s.names("test")[2] == "test/ü 2.png"
    np.testing.assert_array_equal(s.labels("train")[:, 0], [0, 1, 0, 1, 0])
    pairs = s.pairs("test")
    assert len(pairs) == 1 and pairs.exemplar[0] == 1 and list(pairs.chosen[0]) == [1, 0]
    assert s.truth("test", 0)[0, 0, 0] == 200
    assert s.pairs("train") is None
    assert s.provenance["producer"] == "test" and s.provenance["parameters"] == {"n": 5}
    assert s.verify()
    summary = s.summary()
    assert summary["splits"]["train"]["domains"] == {"cat": 3, "dog": 2}
    assert summary["splits"]["test"]["attributes"] == {"Smiling": 0, "Male": 1}
    json.dumps(summary)


def test_images_are_one_chunk_each(tmp_path):
    with h5py.File(make_store(tmp_path / "s.h5", n_train=300), "r") as f:
        assert f["train/images"].chunks == (1, 8, 8, 3)
        assert f["train/images"].shape == (300, 8, 8, 3)


def test_lzf_round_trip(tmp_path):
    s = open_store(make_store(tmp_path / "s.h5", compression="lzf"))
    assert s.image("test", 1)[3, 3, 2] == 101


def test_no_overwrite_without_force(tmp_path):
    p = make_store(tmp_path / "s.h5")
    with pytest.raises(DataError, match="--force"):
        make_store(p)
    make_store(p, n_train=2, force=True)
    assert open_store(p).count("train") == 2


def test_failure_leaves_no_file(tmp_path):
    p = tmp_path / "s.h5"
    with pytest.raises(RuntimeError):
        with StoreWriter(p, image_size=(8, 8), producer="t") as w:
            w.add("train", _img(1), "x")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_old_file(tmp_path):
    p = make_store(tmp_path / "s.h5")
    with pytest.raises(RuntimeError):
        with StoreWriter(p, image_size=(8, 8), producer="t", force=True) as w:
            w.add("train", _img(1), "x")
            raise RuntimeError("interrupted")
    assert open_store(p).count("train") == 5
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.h5"]


def test_empty_store_is_refused(tmp_path):
    with pytest.raises(DataError, match="no usable images"):
        with StoreWriter(tmp_path / "s.h5", image_size=(8, 8), producer="t"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_output_parent_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match="cannot write"):
        StoreWriter(tmp_path / "f" / "s.h5", image_size=(8, 8), producer="t")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(DataError, match="cannot write"):
            StoreWriter(d / "s.h5", image_size=(8, 8), producer="t")
    finally:
        d.chmod(0o700)


def test_disk_full_is_a_clear_error(tmp_path):
    """A file-size limit (RLIMIT_FSIZE) makes writes fail like a full disk."""
    script = textwrap.dedent(f"""
        import numpy as np
        from i2icli.data.store import StoreWriter
        from i2icli.errors import DataError
        try:
            with StoreWriter({str(tmp_path / 's.h5')!r}, image_size=(64, 64), producer="t") as w:
                for i in range(2000):
                    w.add("train", np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8), str(i))
        except DataError as exc:
            print("DataError:", exc)
    """)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))

    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=limit,
                         cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert "DataError:" in out.stdout and "disk full" in out.stdout, out.stdout + out.stderr
    assert list(tmp_path.iterdir()) == []


# -- validation on open


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such store"):
        open_store(tmp_path / "nope.h5")


def test_truncated_file(tmp_path):
    p = make_store(tmp_path / "s.h5", n_train=50)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=r"s\.h5: not a readable HDF5 store \(truncated"):
        open_store(p)


def test_not_hdf5(tmp_path):
    p = tmp_path / "s.h5"
    p.write_text("hello")
    with pytest.raises(DataError, match="truncated or corrupt"):
        open_store(p)


def test_newer_schema(tmp_path):
    p = make_store(tmp_path / "s.h5")
    with h5py.File(p, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(DataError, match="newer"):
        open_store(p)


@pytest.mark.parametrize("victim", ["attr:domains", "train/names", "test/labels", "train/images", "test/pairs/region"])
def test_missing_field(tmp_path, victim):
    p = make_store(tmp_path / "s.h5")
    with h5py.File(p, "a") as f:
        if victim.startswith("attr:"):
            del f.attrs[victim[5:]]
        else:
            del f[victim]
    with pytest.raises(DataError, match=r"s\.h5: missing required field"):
        open_store(p)


def test_inconsistent_lengths(tmp_path):
    p = make_store(tmp_path / "s.h5")
    with h5py.File(p, "a") as f:
        f["train/labels"].resize(3, axis=0)
    with pytest.raises(DataError, match="train/labels has shape"):
        open_store(p)


def test_foreign_hdf5(tmp_path):
    p = tmp_path / "x.h5"
    with h5py.File(p, "w") as f:
        f["x"] = 1
    with pytest.raises(DataError, match="not an i2i store"):
        open_store(p)


def test_checksum_detects_change(tmp_path):
    p = make_store(tmp_path / "s.h5")
    with h5py.File(p, "a") as f:
        f["train/images"][0, 0, 0, 0] = 77
    assert not open_store(p).verify()


# -- processes


def _child_reads(store, q):
    q.put((os.getpid(), int(store.image("train", 4)[0, 0, 0])))


def test_handle_is_per_process(tmp_path):
    s = open_store(make_store(tmp_path / "s.h5"))
    s.image("train", 0)  # parent opens its handle before the fork
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child_reads, args=(s, q))
    proc.start()
    pid, value = q.get(timeout=60)
    proc.join(timeout=60)
    assert pid != os.getpid() and value == 4
    assert s._pid == os.getpid()
    assert s.image("train", 2)[0, 0, 0] == 2


def test_pickle_drops_handle(tmp_path):
    s = open_store(make_store(tmp_path / "s.h5"))
    s.image("train", 0)
    t = pickle.loads(pickle.dumps(s))
    assert t._fh is None and t.image("train", 1)[0, 0, 0] == 1


# -- specs


@pytest.mark.parametrize("text, expected", [
    ("d.h5", (Path("d.h5"), None, None)),
    ("dir/d.h5:test", (Path("dir/d.h5"), "test", None)),
    ("dir/d.h5:test/b", (Path("dir/d.h5"), "test", "b")),
    ("my data/x.hdf5:train/cat", (Path("my data/x.hdf5"), "train", "cat")),
])
def test_parse_store_spec(text, expected):
    assert parse_store_spec(text) == expected


@pytest.mark.parametrize("text", ["d.png", "d.h5:val", "d.h5:test/a/b"])
def test_parse_store_spec_rejects(text):
    with pytest.raises(DataError):
        parse_store_spec(text)


def test_iter_spec_images(tmp_path):
    p = make_store(tmp_path / "s.h5")
    vals = [int(im[0, 0, 0]) for im in iter_spec_images(f"{p}:test/b")]
    assert vals == [101]
    assert [int(im[0, 0, 0]) for im in iter_spec_images(f"{p}:train")] == [0, 1, 2, 3, 4]
    assert count_spec_images(str(p)) == 8
    with pytest.raises(DataError, match="no domain 'horse'"):
        list(iter_spec_images(f"{p}:test/horse"))


def test_iter_images_and_unknown_split(tmp_path):
    s = open_store(make_store(tmp_path / "s.h5", n_train=300))
    assert [int(im[0, 0, 0]) for im in s.iter_images("train")] == [i % 256 for i in range(300)]
    assert [int(im[0, 0, 0]) for im in s.iter_images("train", "dog")] == [i % 256 for i in range(1, 300, 2)]
    with pytest.raises(DataError, match="has no split 'val'"):
        s.image("val", 0)
    with pytest.raises(DataError, match="has no masks"):
        s.masks("train", 0)
