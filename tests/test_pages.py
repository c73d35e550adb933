import pytest

from lib import pages


def test_default_setup_and_setting_line():
    p = pages.setup()
    assert p.cfg.arch == "lenet5" and p.cfg.steps == pages.PRESETS["default"]["steps"]
    assert p.cfg.milestones == ()  # a constant learning rate over T, as in the papers' window
    assert "LeNet-5 on mnist5k" in p.setting and "eNTK 'sum'" in p.setting
    s = pages.setup(preset="smoke", arch="resnet20", steps=100)
    assert s.cfg.steps == 100 and s.cfg.width == 8 and s.cfg.momentum == 0.9 and "width 8" in s.setting


@pytest.mark.parametrize("kw,pattern", [
    (dict(preset="huge"), r"unknown preset 'huge'.*'smoke', 'default', 'full'"),
    (dict(arch="resnet18"), r"unknown arch 'resnet18'.*'resnet20'"),
    (dict(dataset="cifar100"), r"unknown dataset 'cifar100'.*'mnist5k'"),
    (dict(kernel="max"), r"unknown kernel kind 'max'.*'trace'"),
    (dict(bn="train"), r"unknown bn 'train'.*'reestimate'"),
    (dict(steps=-5), r"steps must be an integer >= 1"),
    (dict(steps="100"), r"steps must be an integer"),
    (dict(n_probe=3), r"n_probe must be an integer >= 10"),
    (dict(seed=1.5), r"seed must be an integer"),
    (dict(width=0), r"width must be a positive number"),
    (dict(lr_decay=3), r"unknown training parameter"),
])
def test_bad_parameters_name_the_choices(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        pages.setup(**kw)


def test_paper_preset_refuses_without_gpu_unless_forced(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("TWOPHASE_FORCE_PAPER", raising=False)
    with pytest.raises(RuntimeError, match="preset 'paper' needs a GPU.*TWOPHASE_FORCE_PAPER=1"):
        pages.setup(preset="paper")
    monkeypatch.setenv("TWOPHASE_FORCE_PAPER", "1")
    page = pages.setup(preset="paper")
    c = page.cfg
    assert (c.arch, c.dataset, c.width, c.steps, c.momentum, c.lr, c.weight_decay, c.batch_size) == \
        ("resnet20", "cifar10", 16, 10_000, 0.9, 0.1, 1e-4, 128)
    assert c.device == "cpu" and pages.window_end(c) == 10_000  # no decay inside the papers' window
    assert page.n_probe == 500 and len(pages.seeds(page)) == 3
    assert pages.setup(preset="paper", arch="vgg16").cfg.width == 64
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pages.setup(preset="paper").cfg.device == "cuda"


def test_switch_points_stay_inside_the_constant_learning_rate_window():
    page = pages.setup(preset="smoke", milestones=(150,))  # a decay at 150 of T = 200
    grid = pages.switch_grid(page)
    assert grid[-1] == page.cfg.steps and all(t <= 150 for t in grid[:-1])
    with pytest.raises(ValueError, match=r"switch has values \[170\] not among the valid ones"):
        pages.switch_grid(page, [0, 170])
    assert pages.switch_grid(pages.setup(preset="smoke"))[-2] > 150  # constant lr: the window is all of T


def test_grid_puts_the_pages_setting_first_and_computes_what_the_preset_affords():
    page = pages.setup(preset="default")
    grid = pages.grid_settings(page)
    assert grid[0][0] == dict(arch="lenet5", width=None, momentum=page.cfg.momentum, dataset="mnist5k")
    assert grid[1][0]["momentum"] != page.cfg.momentum and grid[1][0]["arch"] == "lenet5"
    assert [c for _, c in grid] == [True, True] + [False] * (len(grid) - 2)
    assert len(grid) == len(pages.SETTINGS_GRID)
    rn = pages.grid_page(page, dict(arch="resnet20", width=4, momentum=0.0, dataset="fashion-mnist")).cfg
    assert (rn.arch, rn.width, rn.momentum, rn.dataset, rn.steps) == ("resnet20", 4, 0.0, "fashion-mnist", page.cfg.steps)
    assert "ResNet-20 (width 4), momentum 0, Fashion-MNIST" == pages.setting_name(
        dict(arch="resnet20", width=4, momentum=0.0, dataset="fashion-mnist"))
