import pytest
import torch

from lib import models


@pytest.mark.parametrize("arch", list(models.MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_builds_for_each_dataset_shape(arch, shape):
    width = {"resnet20": 4, "vgg16": 4}.get(arch)
    m = models.build_model(arch, shape, 10, width=width)
    out = m(torch.randn(2, *shape))
    assert out.shape == (2, 10)
    assert models.has_batchnorm(m) == models.MODELS[arch].batchnorm  # the registry's flag is the network's


def test_init_depends_only_on_seed():
    a = models.build_model("resnet20", (3, 32, 32), 10, width=4, seed=1)
    b = models.build_model("resnet20", (3, 32, 32), 10, width=4, seed=1)
    c = models.build_model("resnet20", (3, 32, 32), 10, width=4, seed=2)
    for (n, p), (_, q), (_, r) in zip(a.state_dict().items(), b.state_dict().items(), c.state_dict().items()):
        assert torch.equal(p, q), n
    assert any(not torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters()))


def test_paper_sizes():
    # ResNet-20 (16/32/64) has ~0.27M parameters, VGG-16 ~14.7M, LeNet 300-100 ~266k on MNIST
    assert 0.26e6 < models.num_params(models.build_model("resnet20", (3, 32, 32), 10)) < 0.28e6
    assert 14.5e6 < models.num_params(models.build_model("vgg16", (3, 32, 32), 10)) < 15.1e6
    assert models.num_params(models.build_model("lenet_300_100", (1, 28, 28), 10)) == 784 * 300 + 300 + 300 * 100 + 100 + 1010


def test_resnet_shortcut_is_1x1_conv_bn():
    m = models.build_model("resnet20", (3, 32, 32), 10, width=4)
    sc = m.blocks[3].shortcut
    assert isinstance(sc[0], torch.nn.Conv2d) and sc[0].kernel_size == (1, 1)
    assert isinstance(sc[1], torch.nn.BatchNorm2d)


def test_unknown_arch_names_choices():
    with pytest.raises(ValueError, match=r"unknown arch 'resnet18'.*'lenet5'.*'lenet_300_100'.*'resnet20'.*'vgg16'"):
        models.build_model("resnet18", (3, 32, 32), 10)


@pytest.mark.parametrize("width", [0, -2, "wide", float("nan")])
def test_bad_width(width):
    with pytest.raises(ValueError, match="width"):
        models.build_model("resnet20", (3, 32, 32), 10, width=width)


def test_reestimate_bn_is_exact_batch_mean():
    m = models.build_model("resnet20", (3, 32, 32), 10, width=4)
    batches = [torch.randn(16, 3, 32, 32) * 2 + 1 for _ in range(3)]
    models.reestimate_bn(m, batches)
    assert not m.training
    x = torch.cat(batches)
    first = m.conv(x)
    mean = first.mean((0, 2, 3))
    assert torch.allclose(m.bn.running_mean, mean, atol=1e-4)
