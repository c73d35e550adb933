import pytest
import torch

from conftest import tiny_config
from lib import perturbation as P
from lib.kernels import KernelSpec
from lib import storage, training


def test_perturb_changes_what_it_reports():
    params = {"w": torch.randn(50, 40), "b": torch.zeros(40)}
    new, rep = P.perturb(params, P.Perturbation(size=1e-3, mode="entry", seed=1))
    changed = sum(int((new[k] != params[k]).sum()) for k in params)
    assert rep["changed"] == changed == rep["total"] == 2040
    assert rep["applied_norm"] == pytest.approx(1e-3 * 2040 ** 0.5, rel=0.1)
    new2, _ = P.perturb(params, P.Perturbation(size=1e-3, mode="entry", seed=1))
    assert all(torch.equal(new[k], new2[k]) for k in params), "seeded"


def test_l2_mode_total_norm_and_rounding_warning():
    params = {"w": torch.full((1000,), 0.1)}
    new, rep = P.perturb(params, P.Perturbation(size=1e-2, mode="l2"))
    assert rep["applied_norm"] == pytest.approx(1e-2, rel=1e-3) and rep["changed"] == 1000
    with pytest.warns(UserWarning, match=r"only \d+ of 60000 entries"):
        _, rep = P.perturb({"w": torch.full((60000,), 0.5)}, P.Perturbation(size=1e-7, mode="l2"))
    assert rep["changed"] < 30000


@pytest.mark.parametrize("kw", [dict(mode="gauss"), dict(size=0), dict(size=-1e-7), dict(size="tiny")])
def test_bad_perturbation(kw):
    with pytest.raises(ValueError, match="mode|size"):
        P.Perturbation(**kw)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from lib.storage import RunStore
    return training.train(tiny_config(momentum=0.9), RunStore(tmp_path_factory.mktemp("store")))


def test_branch_perturbs_only_trainable_parameters(base):
    br = P.run_branch(P.BranchConfig(base.cfg, 20, P.Perturbation(size=1e-4)), base.store)
    start, orig = br.checkpoint(20), base.checkpoint(20)
    names = set(base.param_names)
    for k, v in orig["model"].items():
        if k in names:
            assert not torch.equal(v, start["model"][k]), k
        else:
            assert torch.equal(v, start["model"][k]), k
    for s0, s1 in zip(orig["optimizer"]["state"].values(), start["optimizer"]["state"].values()):
        assert torch.equal(s0["momentum_buffer"], s1["momentum_buffer"])
    rep = P.perturbation_report(br)
    assert rep["changed"] == sum(int((orig["model"][k] != start["model"][k]).sum()) for k in names)
    assert not P.states_equal(br.state_dict(60), base.state_dict(60))


def test_null_twin_is_bitwise_identical(base):
    for t0 in (0, 20):
        r = P.null_control(base, t0)
        assert r.identical and r.max_abs_diff == 0.0 and r.t0 == t0


def test_barrier_and_disagreement_of_a_model_with_itself(base):
    a = base.state_dict(60)
    r = P.compare_endpoints(base.cfg, a, a)
    assert r["barrier_train"] == 0 and r["barrier_test"] == 0 and r["disagreement"] == 0
    assert r["dissimilarity"] == pytest.approx(0, abs=1e-12) and r["rel_distance"] == 0


def test_barrier_between_different_models_on_the_stated_grid(base):
    a, b = base.state_dict(60), base.state_dict(0)
    r = P.compare_endpoints(base.cfg, a, b, n_points=11)
    assert r["alphas"] == pytest.approx([i / 10 for i in range(11)])
    m = base.model(60)
    n = base.cfg.eval_n  # the run's test examples, as its own test metrics
    end_a = training.evaluate(m, base.data.x_test[:n], base.data.y_test[:n])[0]
    assert r["path_test"][-1] == pytest.approx(end_a, rel=1e-5)  # alpha = 1 is the first model
    assert r["path_test"][-1] == pytest.approx(base.metrics[-1]["test_loss"], rel=1e-5)
    want = max(l - (al * r["path_test"][-1] + (1 - al) * r["path_test"][0]) for al, l in zip(r["alphas"], r["path_test"]))
    assert r["barrier_test"] == pytest.approx(want) and r["barrier_test"] >= 0
    assert r["disagreement"] > 0.3  # the trained model against its initialisation


def test_damaged_branch_checkpoint_is_recomputed_identically(base):
    br = P.run_branch(P.BranchConfig(base.cfg, 40, P.Perturbation(size=1e-4, seed=3)), base.store)
    want = br.state_dict(60)
    p = br.checkpoint_path(60)
    p.write_bytes(p.read_bytes()[:-7])
    assert P.states_equal(br.state_dict(60), want)
    with pytest.raises(ValueError, match="t0"):
        P.run_branch(P.BranchConfig(base.cfg, 30, None), base.store)


@pytest.mark.slow  # spawns worker processes
def test_branches_in_worker_processes_are_bitwise_those_computed_here(base, tmp_path, monkeypatch):
    """lib.runtime.run_parallel: branches trained in spawned workers end bitwise where the same
    branches trained in this process end (each run sets its own thread count)."""
    import dataclasses

    from lib import storage
    from lib.pages import chaos, common
    page = common.setup(preset="smoke")
    page = dataclasses.replace(page, cfg=base.cfg, kernel=KernelSpec("sum", 20, page.kernel.bn))
    ps = [P.Perturbation(size=1e-3, seed=k) for k in range(2)]
    monkeypatch.setenv("TWOPHASE_WORKERS", "2")
    monkeypatch.setenv("TWOPHASE_STORE", str(base.store.root))
    # one pool: a draw at t0 = 20, a further draw there (``more``) and the null control's restart
    par = chaos.chaos_rows(page, [base.cfg], [20], ps[:1], desc="test", more={20: ps[1:]}, null_t0=20)
    assert chaos._job_done((base.cfg, 20, None, page.kernel)), "the pool trained the null control's restart"
    assert P.null_control(base, 20).identical
    here = storage.RunStore(tmp_path / "here")
    for p in ps:
        a = P.run_branch(P.BranchConfig(base.cfg, 20, p), base.store)
        b = P.run_branch(P.BranchConfig(base.cfg, 20, p), here)
        assert P.states_equal(a.state_dict(base.cfg.steps), b.state_dict(base.cfg.steps))
        assert not P.states_equal(a.state_dict(base.cfg.steps), base.state_dict(base.cfg.steps))
    assert [par[(base.cfg.seed, 20, p)]["barrier_test"] for p in ps] == [
        P.chaos_row(base, 20, p, KernelSpec("sum", 20, page.kernel.bn))["barrier_test"] for p in ps]


def test_a_chaos_row_is_typed_and_stored_as_plain_data(base):
    """chaos_row returns a frozen `ChaosRow` (documented fields, also readable by name); the run
    store holds its comparison as plain data, and reading it back gives the same row."""
    import dataclasses
    p = P.Perturbation(size=1e-7, seed=0)
    row = P.chaos_row(base, 20, p, KernelSpec("sum", 20, "reestimate"))
    assert isinstance(row, P.ChaosRow) and row.t0 == 20 and row["barrier_test"] == row.barrier_test
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.t0 = 0
    stored = [f for f in base.store.root.rglob("compare_*.pt")]
    assert stored and all(type(storage.load(f)) is dict for f in stored)
    again = P.chaos_row(base, 20, p, KernelSpec("sum", 20, "reestimate"))
    assert again == row and row.kernel_distance is not None
