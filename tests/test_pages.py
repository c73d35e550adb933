import pytest

from lib.pages import common, cone, judging, linear, settings


def test_default_setup_and_setting_line():
    p = common.setup()
    assert p.cfg.arch == "lenet5" and p.cfg.steps == common.PRESETS["default"].steps
    assert p.cfg.milestones == ()  # a constant learning rate over T, as in the papers' window
    assert "LeNet-5 on fashion-mnist" in p.setting and "eNTK 'sum'" in p.setting
    # below the paper preset a large test set is evaluated on its first CPU_TEST_EXAMPLES; mnist5k's is whole
    assert p.cfg.eval_n == common.CPU_TEST_EXAMPLES
    assert common.setup(dataset="mnist5k").cfg.eval_n is None
    assert common.setup(preset="paper", for_jobs=True, dataset="fashion-mnist").cfg.eval_n is None
    grid = settings.grid_page(p, dict(arch="lenet5", width=None, momentum=0.0, dataset="mnist5k"))
    assert grid.cfg == common.setup(dataset="mnist5k").cfg
    s = common.setup(preset="smoke", arch="resnet20", steps=100)
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
        common.setup(**kw)


def test_paper_preset_refuses_without_gpu_unless_forced(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("TWOPHASE_FORCE_PAPER", raising=False)
    with pytest.raises(RuntimeError, match="preset 'paper' needs a GPU.*TWOPHASE_FORCE_PAPER=1"):
        common.setup(preset="paper")
    monkeypatch.setenv("TWOPHASE_FORCE_PAPER", "1")
    page = common.setup(preset="paper")
    c = page.cfg
    assert (c.arch, c.dataset, c.width, c.steps, c.momentum, c.lr, c.weight_decay, c.batch_size) == \
        ("resnet20", "cifar10", 16, 10_000, 0.9, 0.1, 1e-4, 128)
    assert c.device == "cpu" and common.window_end(c) == 10_000  # no decay inside the papers' window
    assert page.kernel.n_probe == 500 and len(common.seeds(page)) == 3
    assert common.setup(preset="paper", arch="vgg16").cfg.width == 64
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert common.setup(preset="paper").cfg.device == "cuda"


def test_switch_points_stay_inside_the_constant_learning_rate_window():
    page = common.setup(preset="smoke", milestones=(150,))  # a decay at 150 of T = 200
    grid = linear.switch_grid(page)
    assert grid[-1] == page.cfg.steps and all(t <= 150 for t in grid[:-1])
    with pytest.raises(ValueError, match=r"switch has values \[170\] not among the valid ones"):
        linear.switch_grid(page, [0, 170])
    assert linear.switch_grid(common.setup(preset="smoke"))[-2] > 150  # constant lr: the window is all of T


def test_grid_puts_the_pages_setting_first_and_computes_what_the_preset_affords():
    page = common.setup(preset="default")
    grid = settings.grid_settings(page)
    assert grid[0][0] == dict(arch="lenet5", width=None, momentum=page.cfg.momentum, dataset="fashion-mnist")
    assert grid[1][0]["momentum"] != page.cfg.momentum and grid[1][0]["arch"] == "lenet5"
    assert [c for _, c in grid] == [True] + [False] * (len(grid) - 1)  # the default computes its own setting only
    assert all(c for _, c in settings.grid_settings(common.setup(preset="full")))
    assert len(grid) == len(settings.SETTINGS_GRID)
    rn = settings.grid_page(page, dict(arch="resnet20", width=4, momentum=0.0, dataset="fashion-mnist")).cfg
    assert (rn.arch, rn.width, rn.momentum, rn.dataset, rn.steps) == ("resnet20", 4, 0.0, "fashion-mnist", page.cfg.steps)
    assert "ResNet-20 (width 4), momentum 0, Fashion-MNIST" == settings.setting_name(
        dict(arch="resnet20", width=4, momentum=0.0, dataset="fashion-mnist"))


def test_every_pages_parameters_cell_is_written_from_page_params():
    """PageParams declares the shared parameters once: each page's parameters cell carries exactly
    its lines (the intro and the appendix take the preset only), and the sweep command's options
    are its fields."""
    import re

    from conftest import ROOT
    from lib import sweep
    lines = common.parameters_cell()
    for page in sorted((ROOT / "book").glob("*.md")):
        m = re.search(r"```\{code-cell\} ipython3\n:tags: \[parameters\]\n(.*?)```", page.read_text(), re.S)
        if m is None:
            continue
        cell = m.group(1).splitlines()
        if page.stem == "paper":  # reads stored summaries: its one parameter is their folder
            assert [c for c in cell if c.strip()][0].startswith("summaries = None"), page.name
        elif page.stem in ("intro", "settings"):
            assert lines[0] in cell, page.name
        else:
            start = cell.index(lines[0])
            assert cell[start:start + len(lines)] == lines, page.name
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        sweep.main(["cone", "--help"])
    for f in common.PageParams.__dataclass_fields__:
        assert f"--{f.replace('_', '-')}" in out.getvalue()


@pytest.mark.parametrize("lazy,real,verdict", [
    ("lazy", "drifting", "holds"),
    ("lazy", "inconclusive", "inconclusive"), ("lazy", "no-transition", "inconclusive"),
    ("lazy", "cone", "fails"), ("lazy", "lazy", "fails"),  # a moving kernel given a wrong decisive answer
    ("inconclusive", "drifting", "fails"), ("cone", "drifting", "fails"),  # a frozen kernel not called lazy
])
def test_controls_check_fails_only_on_a_wrong_answer(lazy, real, verdict):
    from types import SimpleNamespace

    def run(name):
        r = SimpleNamespace(name=name, reason="planted")
        return SimpleNamespace(regime=lambda centered=True: r, raw=r)
    controls = cone.Controls(500, run(lazy), run(real), None)
    assert cone.controls_claim(controls) == verdict
    assert cone.controls_claim(None) == "inconclusive"


def test_noise_sentence_says_which_sources_set_the_floor():
    from types import SimpleNamespace
    text = judging.noise_sentence(SimpleNamespace(noise={"arithmetic": [1e-14, 2e-14], "bn batches": [1.6e-3]}))
    assert "arithmetic 2.0e-14;" in text and "bn batches 1.6e-03 (reported, not in the floor)" in text


def test_too_short_a_run_for_the_cone_fits_names_steps():
    with pytest.raises(ValueError, match=r"steps=100 is too short .* choose steps >= 150"):
        common.cone_grids(common.setup(preset="default", steps=100))
    assert common.cone_grids(common.setup(preset="default", steps=150))[0] == [25]
    with pytest.raises(ValueError, match=r"dts has values \[100\]"):  # would leave fewer than 6 pairs in [0, 200]
        common.cone_grids(common.setup(preset="default", steps=200), dts=[25, 100])


def test_phase_two_of_a_short_run_is_inconclusive_not_an_error(tmp_path, monkeypatch):
    """A run with fewer adjacent distances than a transition fit needs gets 'inconclusive' answers and
    Phase II at the stated fallback (a fraction of T), not an exception."""
    from lib import replicates
    monkeypatch.setenv("TWOPHASE_STORE", str(tmp_path / "store"))
    page = common.setup(preset="smoke", steps=60)  # 6 adjacent distances: the shortest window the cone page takes
    p2 = cone.phase_two(cone.cone_analysis(page))
    assert [t.verdict for t in p2.per_seed] == ["inconclusive"] and p2.across.verdict == "inconclusive"
    assert [t.verdict for t in p2.truncation] == ["inconclusive"]
    # Phase II from the fallback, PHASE2_FALLBACK of the fitted range (t + dt up to 60), snapped to a checkpoint
    assert p2.t_star == min(range(0, 61, 10), key=lambda t: abs(t - (replicates.PHASE2_FALLBACK * 60 - 10)))


def test_linear_tests_are_paired_by_seed():
    """The linear advantage and Fig 2's trend compare runs of the same seed: a 2-point cost in every seed
    holds even though the seeds' own accuracies spread by 5 points; no cost does not hold."""
    from types import SimpleNamespace

    from lib.pages import verdicts

    def sweep(cost, gain):
        per = [dict(standard={"test_acc": a, "test_loss": 0.1}, at={"test_acc": a - c, "test_loss": 0.2},
                    late={"test_acc": a - c + g, "test_loss": 0.15}, switch=100)
               for a, c, g in zip([0.90, 0.92, 0.95, 0.93, 0.91], cost, gain)]
        grid = [0, 100, 200, 400, 800, 2000]
        return SimpleNamespace(per_seed=tuple(per), switch=grid, final={t: {"test_acc": 0.9} for t in grid})
    paid = sweep([0.02, 0.021, 0.019, 0.02, 0.022], [0.01, 0.012, 0.011, 0.009, 0.01])
    assert verdicts.linear_cost(paid).verdict == "holds" and verdicts.linear_trend(paid).verdict == "holds"
    free = sweep([0.001, -0.001, 0.0, 0.0005, -0.0005], [0.0, 0.001, -0.001, 0.0, 0.0005])
    assert verdicts.linear_cost(free).verdict != "holds" and verdicts.linear_trend(free).verdict != "holds"
    assert "gain" in verdicts.linear_trend(free).reason
