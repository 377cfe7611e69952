"""The scoring helpers of the learning benchmarks (benchmarks/ is not a package; imported by path)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_egscit  # noqa: E402
import bench_segin_quality  # noqa: E402


def _digit(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> np.ndarray:
    img = np.empty((16, 16, 3), np.uint8)
    img[:] = bg
    img[4:12, 7:9] = fg  # a vertical stroke
    return img


def test_region_errors_perfect_wrong_strokes_and_swap() -> None:
    x = _digit((255, 255, 255), (0, 0, 0))
    truth = _digit((0, 0, 255), (255, 0, 0))
    assert bench_egscit.region_errors(truth, truth, x) == (0.0, 0.0, False)
    flat = _digit((255, 0, 0), (255, 0, 0))  # the digit erased: background right, strokes wrong
    bg, fg, swapped = bench_egscit.region_errors(flat, truth, x)
    assert bg == 0.0 and fg == pytest.approx(170.0) and not swapped
    assert bench_egscit.region_errors(_digit((255, 0, 0), (0, 0, 255)), truth, x)[2]


def test_stroke_regions_follow_the_input_not_its_polarity() -> None:
    a = bench_egscit.stroke_regions(_digit((255, 255, 255), (0, 0, 0)))[1]
    b = bench_egscit.stroke_regions(_digit((0, 0, 0), (255, 255, 255)))[1]
    assert a.sum() == 16 and (a == b).all()


def test_ordering_verdict_needs_the_ranges_apart() -> None:
    def run(a2b: float) -> dict:
        return {"a2b": (a2b, 0.0), "b2a": (0.0, 0.0)}

    curves = {"full": {10: [run(0.5), run(0.6)]}, "no_mask": {10: [run(0.55), run(0.4)]},
              "no_adain": {10: [run(0.2), run(0.3)]}}
    text = bench_egscit.ordering(curves)
    assert "w/o feature mask (w/o L_P): NO" in text and "w/o AdaIN (w/o L_P): yes" in text
    assert bench_egscit.ordering({"full": curves["full"]}) == ""


def test_segin_merge_joins_seeds_and_refuses_other_settings(tmp_path: Path) -> None:
    meta = {"iterations": 10, "warp_psnr": 16.0}
    run = {"psnr": 16.0, "ssim": 0.5, "colour_face": 1.0, "colour_hair": 1.0, "colour_rest": 1.0, "seconds": 1.0}
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps({"meta": meta, "results": {"SEGIN": [dict(run, seed=0)]}}))
    b.write_text(json.dumps({"meta": meta, "results": {"SEGIN": [dict(run, seed=1)]}}))
    c.write_text(json.dumps({"meta": dict(meta, iterations=20), "results": {}}))
    merged = bench_segin_quality.merge([a, b])
    assert [r["seed"] for r in merged["results"]["SEGIN"]] == [0, 1]
    with pytest.raises(SystemExit, match="other settings"):
        bench_segin_quality.merge([a, c])


def test_colour_choice_names_the_exemplar_the_erased_digit_and_the_training_bias() -> None:
    x = _digit((255, 255, 255), (0, 0, 0))
    truth = _digit((0, 0, 255), (255, 0, 0))  # blue on red
    c = bench_egscit.colour_choice(truth, truth, x)
    assert c.background and c.strokes and not c.erased and not c.red_on_green
    dim = bench_egscit.colour_choice(_digit((30, 20, 200), (200, 40, 30)), truth, x)  # nearest of r, g, b
    assert dim.background and dim.strokes
    biased = bench_egscit.colour_choice(_digit((255, 0, 0), (0, 255, 0)), _digit((0, 255, 0), (0, 0, 255)), x)
    assert biased.red_on_green and not (biased.background or biased.strokes or biased.erased)
    erased = bench_egscit.colour_choice(_digit((255, 0, 0), (255, 0, 0)), truth, x)
    assert erased.background and erased.erased and not erased.strokes


def test_colour_rates_count_the_bias_only_where_the_exemplar_is_not_red_on_green() -> None:
    assert bench_egscit.digit_class("a/test/000001 digit 4") == 4
    assert bench_egscit.digit_class("b/test/000001 digit all") is None
    C = bench_egscit.Colours
    rows = [(7, C(True, False, False, True, False)), (7, C(True, True, False, False, False)),
            (7, C(True, True, False, True, True)), (2, C(True, False, True, False, False))]
    r = bench_egscit.colour_rates(rows)
    assert r["strokes"] == 0.5 and r["erased"] == 0.25 and r["other"] == 0.25 and r["background"] == 1.0
    assert r["rog_59"] == 0.5 and r["rog_59_n"] == 2 and r["rog_04"] == 0.0 and r["rog_04_n"] == 1


def test_egscit_bench_with_imagenet_lp_stops_before_any_work_without_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("I2I_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(SystemExit, match="--lp imagenet: .*vgg19-dcbb9e9d.pth"):
        bench_egscit.main(["--quality", "--lp", "imagenet", "--seeds", "0", "--workdir", str(tmp_path / "w"),
                           "--no-write"])
    assert not (tmp_path / "w").exists()


def test_egscit_mask_off_probe_needs_trained_runs(tmp_path: Path) -> None:
    from i2icli.prepare.synthetic import DigitsRequest, prepare_digits

    with pytest.raises(SystemExit):  # argparse: the probe scores a --workdir
        bench_egscit.main(["--mask-off", "--seeds", "0"])
    data = prepare_digits(DigitsRequest(tmp_path / "d.h5", count=4, test_count=2, seed=0)).out
    with pytest.raises(SystemExit, match="full-seed0: no checkpoint; train it first"):
        bench_egscit.main(["--mask-off", "--seeds", "0", "--data", str(data), "--workdir", str(tmp_path / "w")])


def test_bridge_critic_capacity_reports_each_shape_and_refuses_a_store_without_the_labels(tmp_path: Path) -> None:
    """``bench_bridge.py critic``: a curve and per-attribute accuracies per critic shape; a store
    without the recipe's attribute labels is refused in one line."""
    import bench_bridge
    import h5py

    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    store = tmp_path / "faces.h5"
    prepare_faces(FacesRequest(out=store, count=64, test_count=32, pairs=0, size=64, seed=0))
    out = tmp_path / "critic.json"
    assert bench_bridge.main(["critic", "--data", str(store), "--shapes", "4x2", "--steps", "8", "--batch", "8",
                              "--count", "64", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    r = res["shapes"]["4x2"]
    assert set(r["curve"]) == {"2", "4", "6", "8"} and len(r["per_attribute"]) == len(res["attributes"]) == 10
    assert all(0.0 <= a <= 1.0 for a in r["per_attribute"]) and r["params"] > 0
    assert "| 4x2 |" in bench_bridge.critic_table(res) and "label prior" in bench_bridge.critic_table(res)
    with h5py.File(store, "r+") as f:  # the store loses its attribute names
        names = json.loads(f.attrs["attributes"])
        f.attrs["attributes"] = json.dumps([("Hat" if n == "Smiling" else n) for n in names])
    with pytest.raises(SystemExit, match="no labels for Smiling"):
        bench_bridge.main(["critic", "--data", str(store), "--shapes", "4x2", "--steps", "1"])


def test_bridge_code_health_finds_where_the_codes_died_and_refuses_runs_without_the_logs(tmp_path: Path) -> None:
    import bench_bridge

    run = tmp_path / "full-s0"
    run.mkdir()
    recs = [{"iteration": 50 * i, "code_e_abs": 0.3 / i, "code_m_abs": 0.2 / i, "g_sim": 0.5} for i in range(1, 41)]
    recs.insert(3, {"iteration": 175, "d_loss": 1.0})  # a record without the generator's logs is skipped
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    res = bench_bridge.code_health([run], every=500)
    r = res["runs"]["full-s0"]
    assert r["dead_at"] == 1550  # the first record with both means below 1e-2: 0.3 / 31, 0.2 / 31
    assert [row["iteration"] for row in r["rows"]] == [500, 1000, 1500, 2000]
    table = bench_bridge.health_table(res, details=True)
    assert "| full-s0 | 1550 | 500: 0.03 / 1000: 0.015 / 1500: 0.01 / 2000: 0.0075 |" in table
    assert "| 500 | 0.03 | 0.02 | - | 0.5 |" in table  # the details: the run's own table
    with pytest.raises(SystemExit, match="no metrics.jsonl"):
        bench_bridge.code_health([tmp_path / "missing"], 500)
    (run / "metrics.jsonl").write_text(json.dumps({"iteration": 1, "d_loss": 1.0}) + "\n")
    with pytest.raises(SystemExit, match="no code-health logs"):
        bench_bridge.code_health([run], 500)


def test_bridge_score_refuses_a_missing_or_untrained_judge_and_a_missing_store(tmp_path: Path) -> None:
    import bench_bridge

    store = tmp_path / "faces.h5"
    store.write_bytes(b"")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(SystemExit, match="classifier: not found; pass the judge"):
        bench_bridge.score_runs([run], tmp_path / "classifier", store, 10, "cpu")
    (tmp_path / "classifier").mkdir()
    with pytest.raises(SystemExit, match="no checkpoint; train the judge first"):
        bench_bridge.score_runs([run], tmp_path / "classifier", store, 10, "cpu")
    with pytest.raises(SystemExit, match="missing.h5: not found; pass the store"):
        bench_bridge.score_runs([run], tmp_path / "classifier", tmp_path / "missing.h5", 10, "cpu")
