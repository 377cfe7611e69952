"""VGG-19 features at named layers (random weights: no ImageNet file on this machine)."""

import pytest
import torch
import torchvision

from i2icli.errors import WeightsError
from i2icli.nn.vgg import LAYERS, NOT_IMAGENET, VGG19Features


def test_layer_names_follow_torchvision_features():
    tv = torchvision.models.vgg19(weights=None).features
    assert len(LAYERS) == len(tv) == 37
    for name, module in zip(LAYERS, tv, strict=True):
        kind = {"conv": torch.nn.Conv2d, "relu": torch.nn.ReLU, "pool": torch.nn.MaxPool2d}[name.rstrip("_0123456789")]
        assert isinstance(module, kind), name


def test_random_features_are_truncated_frozen_labelled_and_match_torchvision():
    torch.set_num_threads(1)
    vgg = VGG19Features(("relu1_1", "relu2_1"), weights="random", seed=3)
    assert vgg.label == NOT_IMAGENET and len(vgg.body) == LAYERS.index("relu2_1") + 1
    assert not any(p.requires_grad for p in vgg.parameters())
    assert not vgg.train().training
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = vgg(x)
    assert set(out) == {"relu1_1", "relu2_1"} and out["relu2_1"].shape == (2, 128, 16, 16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        tv = torchvision.models.vgg19(weights=None).features[:7].eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(out["relu2_1"], tv(((x + 1) / 2 - mean) / std))


@pytest.mark.parametrize(("ceil_mode", "size"), [(False, 1), (True, 2)])
def test_ceil_mode_keeps_relu5_1_at_2x2_for_28px_digits(ceil_mode, size):
    vgg = VGG19Features(("relu4_1", "relu5_1"), weights="random", ceil_mode=ceil_mode)
    out = vgg(torch.zeros(1, 3, 28, 28))
    assert out["relu4_1"].shape[-1] == (4 if ceil_mode else 3) and out["relu5_1"].shape[-1] == size


def test_bad_layers_and_missing_imagenet_file(tmp_path):
    with pytest.raises(ValueError, match="relu9_9"):
        VGG19Features(("relu9_9",), weights="random")
    with pytest.raises(WeightsError, match="vgg19-dcbb9e9d.pth"):
        VGG19Features(("relu1_1",), weights="imagenet", directory=str(tmp_path))
