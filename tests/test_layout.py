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
    from lib import experiments
    from lib.models import MODELS
    from lib.training import TrainConfig
    fields = set(TrainConfig.__dataclass_fields__)
    for arch, entry in MODELS.items():
        assert entry.name and entry.default_width > 0
        assert set(entry.cpu) <= fields and set(entry.paper) <= fields, arch
        page = experiments.setup(preset="smoke", arch=arch)
        assert entry.name in page.setting
        assert all(getattr(page.cfg, k) == v for k, v in entry.cpu.items()), arch
        assert len(experiments.seeds(page)) == (experiments.PRESETS["smoke"]["seeds"] if entry.cheap else 1)
