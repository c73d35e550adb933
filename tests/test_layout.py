"""How the package is laid out: what ``import lib`` costs, and one registry entry per architecture."""
import subprocess
import sys

from conftest import ROOT


def test_import_lib_does_not_import_matplotlib_until_plots_is_used():
    code = ("import sys, lib; a = 'matplotlib' in sys.modules; lib.plots; "
            "print(a, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_every_architecture_is_one_registry_entry():
    from lib.pages import common
    from lib.models import MODELS
    from lib.training import TrainConfig
    fields = set(TrainConfig.__dataclass_fields__)
    for arch, entry in MODELS.items():
        assert entry.name and entry.default_width > 0
        assert set(entry.cpu) <= fields and set(entry.paper) <= fields, arch
        page = common.setup(preset="smoke", arch=arch)
        assert entry.name in page.setting
        assert all(getattr(page.cfg, k) == v for k, v in entry.cpu.items()), arch
        assert len(common.seeds(page)) == (common.PRESETS["smoke"].seeds if entry.cheap else 1)


def test_one_module_per_page_and_none_too_long():
    """Each page of the book has its module in lib.pages, and no module of lib runs past about 600 lines."""
    import lib.pages
    for page in ("intro", "chaos", "cone", "linear", "counterexample", "paper", "settings"):
        assert (ROOT / "book" / f"{page}.md").exists() and hasattr(lib.pages, page), page
    long = {p.name: n for p in (ROOT / "lib").rglob("*.py") if (n := len(p.read_text().splitlines())) > 650}
    assert not long, long


def test_the_sweep_knows_pages_only_through_the_registry():
    """`python -m lib sweep` reads lib.pages.SWEEPS: every entry offers jobs and run_job, and the
    sweep's source names no page."""
    import re

    from lib.pages import SWEEPS
    for name, module in SWEEPS.items():
        assert callable(module.jobs) and callable(module.run_job), name
    source = (ROOT / "lib" / "sweep.py").read_text()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("#", "python -m")))
    named = [p for p in SWEEPS if re.search(rf"[\"']{p}[\"']", code)]
    assert not named, named


def test_a_preset_is_a_value_and_a_kernel_spec_names_its_cache():
    from lib.kernels import KernelSpec
    from lib.pages import common
    page = common.setup(preset="smoke")
    assert page.preset is common.PRESETS["smoke"] and page.preset.steps == page.cfg.steps
    assert common.setup(preset=page.preset) == page
    assert page.kernel == KernelSpec("sum", common.PRESETS["smoke"].n_probe, "reestimate")
    # the one cache key of a kernel setting (stored runs are found by it: it must not change)
    assert KernelSpec("logit:3", 200, "running").key == "logit-3_running_n200"
    import pytest
    with pytest.raises(ValueError, match="unknown bn 'x'"):
        KernelSpec("sum", 200, "x")
