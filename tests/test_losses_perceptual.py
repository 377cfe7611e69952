"""Perceptual losses (EGSC-IT Eq. 5) against literal float64 recomputations."""

import pytest
import torch

from i2icli.losses.perceptual import (
    EGSCIT_CONTENT_WEIGHTS,
    EGSCIT_LAYERS,
    EGSCIT_STYLE_WEIGHTS,
    content_loss,
    gram_matrix,
    linear_layer_weights,
    normalize_features,
    spatial_l2_normalize,
    style_loss,
)
from i2icli.nn.vgg import NOT_IMAGENET, VGG19Features


def _feats(seed: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.rand(*s, generator=g, dtype=torch.float64) * 3 for k, s in shapes.items()}


SHAPES = {"relu1_1": (2, 3, 6, 5), "relu2_1": (2, 4, 3, 3), "relu3_1": (2, 5, 2, 1)}


def _literal_gram(f: torch.Tensor, divide_by: str) -> list[list[list[float]]]:
    b, c, h, w = f.shape
    out = []
    for n in range(b):
        rows = []
        for i in range(c):
            row = []
            for j in range(c):
                s = 0.0
                for y in range(h):
                    for x in range(w):
                        s += float(f[n, i, y, x]) * float(f[n, j, y, x])
                row.append(s / {"hw": h * w, "chw": c * h * w, "none": 1}[divide_by])
            rows.append(row)
        out.append(rows)
    return out


@pytest.mark.parametrize("norm", ["hw", "chw", "none"])
def test_gram_matrix_is_the_literal_sum_of_products(norm):
    f = _feats(0, {"x": (2, 3, 4, 5)})["x"]
    torch.testing.assert_close(gram_matrix(f, norm), torch.tensor(_literal_gram(f, norm), dtype=torch.float64))


def test_linear_weights_are_the_authors_i_over_n():
    assert linear_layer_weights(["a", "b", "c"]) == {"a": 1 / 3, "b": 2 / 3, "c": 1.0}
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    assert list(EGSCIT_CONTENT_WEIGHTS) == list(EGSCIT_LAYERS) == layers
    assert [round(v, 6) for v in EGSCIT_CONTENT_WEIGHTS.values()] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert set(EGSCIT_STYLE_WEIGHTS.values()) == {1.0}


@pytest.mark.parametrize("reduction", ["mean", "sample_sum"])
def test_content_loss_matches_literal_weighted_l1(reduction):
    x, y = _feats(1, SHAPES), _feats(2, SHAPES)
    weights = {"relu1_1": 0.5, "relu3_1": 2.0}  # relu2_1 present but unweighted: must be ignored
    expected = 0.0
    for name, w in weights.items():
        a, b = x[name], y[name]
        total = sum(abs(float(p) - float(q)) for p, q in zip(a.flatten().tolist(), b.flatten().tolist(), strict=True))
        per = total / a.numel() if reduction == "mean" else total / a.shape[0]
        expected += w * per
    got = content_loss(x, y, weights, reduction=reduction)
    assert got.dtype == torch.float64 and got.dim() == 0
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_style_loss_matches_literal_gram_l1_and_allows_different_sizes():
    x = _feats(3, SHAPES)
    y = _feats(4, {k: (s[0], s[1], s[2] + 1, s[3] + 2) for k, s in SHAPES.items()})  # other h*w, same C
    weights = {"relu1_1": 1.0, "relu2_1": 0.25, "relu3_1": 3.0}
    expected = 0.0
    for name, w in weights.items():
        ga, gb = _literal_gram(x[name], "hw"), _literal_gram(y[name], "hw")
        c = len(ga[0])
        diffs = [abs(ga[n][i][j] - gb[n][i][j]) for n in range(len(ga)) for i in range(c) for j in range(c)]
        expected += w * sum(diffs) / len(diffs)
    assert float(style_loss(x, y, weights)) == pytest.approx(expected, rel=1e-12)


def test_spatial_l2_normalize_matches_tf_definition():
    f = _feats(5, {"x": (2, 3, 4, 4)})["x"]
    f[1, 2] = 0.0  # all-zero channel: tf's max(sum, eps) keeps it finite (zero)
    out = spatial_l2_normalize(f)
    for n in range(2):
        for c in range(3):
            sq = sum(float(v) ** 2 for v in f[n, c].flatten().tolist())
            ref = f[n, c] / max(sq, 1e-12) ** 0.5
            torch.testing.assert_close(out[n, c], ref)
    norms = out.square().sum(dim=(2, 3))
    torch.testing.assert_close(norms[0], torch.ones(3, dtype=torch.float64))
    assert float(norms[1, 2]) == 0.0 and torch.isfinite(out).all()
    # the normalised content loss is scale-free per channel
    scaled = {"relu1_1": f * torch.tensor([2.0, 7.0, 0.1], dtype=torch.float64)[None, :, None, None]}
    assert float(content_loss(normalize_features({"relu1_1": f}), normalize_features(scaled), {"relu1_1": 1.0})) < 1e-12


def test_losses_on_random_vgg_features_have_gradients_only_where_expected():
    torch.set_num_threads(1)
    vgg = VGG19Features(EGSCIT_LAYERS, weights="random")
    assert vgg.label == NOT_IMAGENET
    g = torch.Generator().manual_seed(0)
    fake = (torch.rand(2, 3, 32, 32, generator=g) * 2 - 1).requires_grad_(True)
    real_a, real_b = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    f_fake = normalize_features(vgg(fake))
    with torch.no_grad():
        f_a, f_b = normalize_features(vgg(real_a)), normalize_features(vgg(real_b))
    lc = content_loss(f_fake, f_a, EGSCIT_CONTENT_WEIGHTS)
    ls = style_loss(f_fake, f_b, EGSCIT_STYLE_WEIGHTS)
    assert torch.isfinite(lc).item() and torch.isfinite(ls).item() and lc.item() > 0 and ls.item() > 0
    (lc + ls).backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    assert not any(p.requires_grad for p in vgg.parameters())
    assert float(content_loss(f_a, f_a, EGSCIT_CONTENT_WEIGHTS)) == 0.0


def test_missing_layer_and_bad_options_are_clear_errors():
    x = _feats(6, SHAPES)
    with pytest.raises(KeyError, match="relu4_1"):
        content_loss(x, x, {"relu4_1": 1.0})
    with pytest.raises(ValueError, match="normalization"):
        gram_matrix(x["relu1_1"], "bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reduction"):
        content_loss(x, x, {"relu1_1": 1.0}, reduction="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        style_loss(x, x, {})
