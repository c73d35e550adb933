import pytest
import torch
from torch import nn

from lib import kernels


def small_conv_bn():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(3 * 4 * 4, 4))
    with torch.no_grad():  # non-trivial BN statistics and affine parameters
        m[1].running_mean.uniform_(-0.5, 0.5)
        m[1].running_var.uniform_(0.5, 2.0)
        m[1].weight.uniform_(0.5, 1.5)
        m[1].bias.uniform_(-0.2, 0.2)
    return m.eval()


def brute_force_jacobian(model, x):
    """(n, C, P): per-sample, per-logit gradients from torch.autograd.grad, one at a time."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for xi in x:
        out = model(xi.unsqueeze(0)).squeeze(0)
        rows.append(torch.stack([torch.cat([g.flatten() for g in torch.autograd.grad(out[k], params, retain_graph=True)])
                                 for k in range(out.shape[0])]))
    return torch.stack(rows)


def brute_force_kernel(j1, j2, kind):
    if kind == "sum":
        return j1.sum(1) @ j2.sum(1).T
    if kind == "trace":
        return sum(j1[:, k] @ j2[:, k].T for k in range(j1.shape[1]))
    if kind.startswith("logit:"):
        k = int(kind.split(":")[1])
        return j1[:, k] @ j2[:, k].T
    n1, c, _ = j1.shape
    return torch.einsum("ikp,jlp->ikjl", j1, j2).reshape(n1 * c, -1)


@pytest.fixture(scope="module")
def setting():
    torch.manual_seed(1)
    model = small_conv_bn()
    x1, x2 = torch.randn(6, 1, 8, 8), torch.randn(5, 1, 8, 8)
    return model, x1, x2, brute_force_jacobian(model, x1), brute_force_jacobian(model, x2)


IMPLS = ["structured", "jacobian"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["sum", "trace", "logit:2", "full"])
def test_entk_equals_brute_force(setting, kind, impl):
    model, x1, x2, j1, j2 = setting
    want = brute_force_kernel(j1, j1, kind)
    got = kernels.entk(model, x1, kind=kind, implementation=impl)
    assert got.shape == want.shape and not got.requires_grad
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
    cross = kernels.entk(model, x1, x2, kind=kind, implementation=impl)
    assert torch.allclose(cross, brute_force_kernel(j1, j2, kind), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_jacobian_equals_brute_force(setting, impl):
    model, x1, _, j1, _ = setting
    assert torch.allclose(kernels.jacobian(model, x1, "full", impl), j1, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["sum", "trace", "full"])
def test_chunked_equals_unchunked(setting, kind, impl):
    model, x1, x2, _, _ = setting
    whole = kernels.entk(model, x1, x2, kind=kind, implementation=impl)
    chunked = kernels.entk(model, x1, x2, kind=kind, chunk_size=2, implementation=impl)
    # a tiny budget forces block recomputation (jacobian) and one output at a time (structured)
    blocked = kernels.entk(model, x1, x2, kind=kind, chunk_size=4, memory_budget=1, implementation=impl)
    assert torch.allclose(whole, chunked, rtol=1e-5, atol=1e-6)
    assert torch.allclose(whole, blocked, rtol=1e-5, atol=1e-6)
    same = kernels.entk(model, x1, kind=kind, chunk_size=4, implementation=impl)  # upper block triangle, mirrored
    assert torch.allclose(same, kernels.entk(model, x1, x1, kind=kind, implementation=impl), rtol=1e-5, atol=1e-6)


def test_structured_large_n_uses_block_triangle():
    """n >= 256 takes the block-triangle Gram path; it must equal the jacobian method."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
    x = torch.randn(300, 1, 4, 4)
    for kind in ("trace", "full"):
        got = kernels.entk(model, x, kind=kind, implementation="structured")
        want = kernels.entk(model, x, kind=kind, implementation="jacobian")
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
        assert torch.equal(got, got.T)


class Shared(nn.Module):
    """One Linear called twice (shared weights) and a stride-2 biased conv."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, stride=2, padding=1, dilation=1)
        self.lin = nn.Linear(2 * 4 * 4, 2 * 4 * 4)
        self.head = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        h = torch.tanh(self.conv(x)).flatten(1)
        return self.head(torch.tanh(self.lin(torch.tanh(self.lin(h)))))


class Scaled(nn.Module):
    """A layer type the structured method does not know: a bare nn.Parameter."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([1.5, -0.5, 2.0]))
        self.lin = nn.Linear(8, 3)

    def forward(self, x):
        return self.lin(x.flatten(1)) * self.scale


def test_structured_handles_shared_weights_and_strides():
    torch.manual_seed(4)
    model, x = Shared().eval(), torch.randn(5, 1, 8, 8)
    want = brute_force_kernel(*(2 * [brute_force_jacobian(model, x)]), "trace")
    assert torch.allclose(kernels.entk(model, x, kind="trace", implementation="structured"), want,
                          rtol=1e-4, atol=1e-6)


def test_auto_falls_back_and_structured_refuses_unknown_layers():
    torch.manual_seed(5)
    model, x = Scaled().eval(), torch.randn(4, 1, 2, 4)
    assert kernels.structured_unsupported(model)
    want = brute_force_kernel(*(2 * [brute_force_jacobian(model, x)]), "trace")
    assert torch.allclose(kernels.entk(model, x, kind="trace"), want, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="implementation='jacobian'"):
        kernels.entk(model, x, kind="trace", implementation="structured")
    inplace = nn.Sequential(nn.Flatten(), nn.Linear(8, 4), nn.ReLU(inplace=True), nn.Linear(4, 2))
    assert "in place" in kernels.structured_unsupported(inplace)
    with pytest.raises(ValueError, match="implementation"):
        kernels.entk(inplace, x, implementation="fast")


def test_structured_in_float64(setting):
    model, x1, _, _, _ = setting
    m64, x64 = small_conv_bn().double(), x1.double()
    got = kernels.entk(m64, x64, kind="trace", implementation="structured")
    want = kernels.entk(m64, x64, kind="trace", implementation="jacobian")
    assert got.dtype == torch.float64
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_trace_is_sum_of_logit_kernels(setting):
    model, x1, _, _, _ = setting
    total = sum(kernels.entk(model, x1, kind=f"logit:{k}") for k in range(4))
    assert torch.allclose(kernels.entk(model, x1, kind="trace"), total, rtol=1e-5, atol=1e-6)


def test_entk_restores_training_mode(setting):
    model = small_conv_bn().train()
    kernels.entk(model, torch.randn(3, 1, 8, 8))
    assert model.training


@pytest.mark.parametrize("kind", ["max", "logit:x", "logit:9", 3])
def test_bad_kind(setting, kind):
    model, x1, _, _, _ = setting
    with pytest.raises(ValueError, match="kind"):
        kernels.entk(model, x1, kind=kind)


def _psd(n, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n + 3, generator=g, dtype=torch.float64)
    return a @ a.T


def test_distance_properties():
    h1, h2 = _psd(8, 0), _psd(8, 1)
    assert kernels.kernel_distance(h1, h1) == pytest.approx(0, abs=1e-12)
    s = kernels.kernel_distance(h1, h2)
    assert 0 < s <= 1
    assert kernels.kernel_distance(3.7 * h1, h2) == pytest.approx(s, abs=1e-12)
    assert kernels.kernel_distance(h1, 0.01 * h2) == pytest.approx(s, abs=1e-12)
    assert kernels.kernel_distance(h2, h1) == pytest.approx(s, abs=1e-12)
    # centering removes a constant component that raw S cannot see past
    ones = torch.ones(8, 8) * 100
    assert kernels.kernel_distance(h1 + ones, h2 + ones) < s
    assert kernels.kernel_distance(h1 + ones, h2 + ones, centered=True) == pytest.approx(
        kernels.kernel_distance(h1, h2, centered=True), abs=1e-9)


def test_pairwise_matches_kernel_distance():
    ks = [_psd(6, i) for i in range(4)]
    s = kernels.pairwise_distances(ks)
    for i in range(4):
        assert s[i, i] == 0
        for j in range(4):
            assert s[i, j].item() == pytest.approx(kernels.kernel_distance(ks[i], ks[j]), abs=1e-10)


def test_trajectory_helpers():
    ks = {t: _psd(5, t) for t in (0, 10, 20, 30)}
    ts, s = kernels.adjacent_distances(ks, 20)
    assert ts == [0, 10] and s[1] == pytest.approx(kernels.kernel_distance(ks[10], ks[30]))
    ts, v = kernels.velocity(ks, 10)
    assert v[0] == pytest.approx(kernels.kernel_distance(ks[0], ks[10]) / 10)
    ts, r = kernels.reference_distances(ks, 20)
    assert r[2] == pytest.approx(0, abs=1e-12) and len(r) == 4
    with pytest.raises(ValueError, match="tau"):
        kernels.reference_distances(ks, 15)


def test_target_alignment():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    y = nn.functional.one_hot(labels).double()
    assert kernels.target_alignment(y @ y.T, labels, 3) == pytest.approx(1.0)
    assert kernels.target_alignment(_psd(6, 3), labels, 3) < 0.9


def test_trajectory_kernels_cached(store, monkeypatch):
    from conftest import tiny_config
    from lib import training
    traj = training.train(tiny_config(), store)
    k = kernels.trajectory_kernels(traj, [0, 60], kind="sum", n_probe=20)
    assert k[0].shape == (20, 20) and kernels.kernel_distance(k[0], k[60]) > 0
    monkeypatch.setattr(kernels, "entk", lambda *a, **kw: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = kernels.trajectory_kernels(traj, [0, 60], kind="sum", n_probe=20)
    assert torch.equal(again[60], k[60])
    with pytest.raises(ValueError, match="no checkpoint"):
        kernels.trajectory_kernels(traj, [7])
    with pytest.raises(ValueError, match="unknown bn"):
        kernels.trajectory_kernels(traj, [0], bn="train")
