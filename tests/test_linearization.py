import numpy as np
import pytest
import torch
from torch import nn

from conftest import tiny_config
from lib import linearization as L
from lib import training


def small_bn_net(dtype=torch.float64):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))
    with torch.no_grad():
        m[1].running_mean.uniform_(-0.3, 0.3)
        m[1].running_var.uniform_(0.5, 1.5)
    return m.to(dtype).eval()


def _shift(lin, delta_scale, direction):
    with torch.no_grad():
        for (n, p), d in zip(lin.params().items(), direction):
            p.copy_(lin.theta0()[n] + delta_scale * d)


def test_equals_f_at_theta_t():
    net = small_bn_net(torch.float32)
    lin = L.Linearized(net)
    x = torch.randn(5, 1, 6, 6)
    assert torch.equal(lin(x), net(x)) or torch.allclose(lin(x), net(x), atol=1e-6)
    lin.train()
    assert not lin._net.training, "BN stays in eval mode with the statistics of θ_t"


def test_taylor_error_shrinks_quadratically():
    net = small_bn_net()
    lin = L.Linearized(net)
    x = torch.randn(5, 1, 6, 6, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    direction = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in lin.params().values()]
    errors = []
    for eps in (1e-2, 5e-3, 2.5e-3):
        _shift(lin, eps, direction)
        shifted = {n: p.detach() for n, p in lin.params().items()}
        f = torch.func.functional_call(net, (shifted, dict(net.named_buffers())), (x,))
        errors.append((f - lin(x)).abs().max().item())
    # halving δ divides the error by ~4 (first-order term exact, remainder O(δ²))
    assert errors[0] / errors[1] == pytest.approx(4, rel=0.1)
    assert errors[1] / errors[2] == pytest.approx(4, rel=0.1)


def test_gradient_is_jacobian_transpose_times_output_gradient():
    net = small_bn_net()
    lin = L.Linearized(net)
    x, y = torch.randn(3, 1, 6, 6, dtype=torch.float64), torch.tensor([0, 2, 1])
    g = torch.Generator().manual_seed(2)
    _shift(lin, 1e-1, [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in lin.params().values()])
    out = lin(x)
    loss = nn.functional.cross_entropy(out, y)
    grads = torch.autograd.grad(loss, list(lin.params().values()))
    got = torch.cat([gr.flatten() for gr in grads])
    o = out.detach().requires_grad_()
    dout = torch.autograd.grad(nn.functional.cross_entropy(o, y), o)[0]  # ∂L/∂f_lin, (3, 4)
    # J at θ_t, row by row with plain autograd on the original network
    params0 = list(net.parameters())
    f0 = net(x)
    jac = torch.stack([torch.cat([gr.flatten() for gr in torch.autograd.grad(f0[i, k], params0, retain_graph=True)])
                       for i in range(3) for k in range(4)])
    want = jac.T @ dout.flatten()
    assert torch.allclose(got, want, rtol=1e-8, atol=1e-10)


def test_zero_learning_rate_step_leaves_theta_unchanged():
    net = small_bn_net(torch.float32)
    lin = L.Linearized(net)
    before = {n: p.detach().clone() for n, p in lin.params().items()}
    opt = torch.optim.SGD(lin.parameters(), lr=0.0, momentum=0.9, weight_decay=1e-4)
    loss = nn.functional.cross_entropy(lin(torch.randn(4, 1, 6, 6)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert any(p.grad.abs().sum() > 0 for p in lin.parameters())
    opt.step()
    assert all(torch.equal(before[n], p) for n, p in lin.params().items())


def test_switch_run_trains_from_checkpoint_and_is_deterministic(store, tmp_path):
    from lib.storage import RunStore
    cfg = tiny_config(momentum=0.9)
    run = L.switch_run(L.SwitchConfig(cfg, 20), store)
    lin = L.Linearized(training.train(cfg, store).model(20))
    assert [n for n, _ in lin.named_parameters()] == ["theta__" + n.replace(".", "__") for n in lin._names]
    start, end = run.state_dict(20), run.state_dict(60)
    assert not torch.equal(start["theta__classifier__5__weight"], end["theta__classifier__5__weight"])
    assert torch.equal(start["theta0__classifier__5__weight"], end["theta0__classifier__5__weight"])
    base = training.train(cfg, store)
    assert torch.equal(start["theta0__classifier__5__weight"], base.state_dict(20)["classifier.5.weight"])
    again = L.switch_run(L.SwitchConfig(cfg, 20), RunStore(tmp_path / "other"))
    assert all(torch.equal(v, again.state_dict(60)[k]) for k, v in end.items())
    m = run.metrics[-1]
    assert m["iteration"] == 60 and 0 <= m["test_acc"] <= 1
    with pytest.raises(ValueError, match="switch point"):
        L.switch_run(L.SwitchConfig(cfg, 7), store)


def test_linearized_model_freezes_the_kernels_batchnorm_statistics(store):
    """bn="reestimate": the linearized model's frozen BatchNorm statistics are those the eNTK of θ_t
    is measured with (re-estimated on the kernel's fixed batches), so its kernel at θ_t *is* the
    measured kernel; bn="running" keeps the stored running statistics, which differ."""
    from lib.data import load_dataset
    from lib.kernels import bn_batches, entk, trajectory_kernels
    from lib.models import reestimate_bn
    cfg = tiny_config(arch="resnet20", width=2, steps=40, ckpt_every=20, eval_every=20)
    base = training.train(cfg, store)
    re = L.switch_run(L.switch_config(cfg, 20, bn="reestimate"), store)
    run = L.switch_run(L.switch_config(cfg, 20, bn="running"), store)
    assert re.path != run.path  # two runs, two identities
    ref = reestimate_bn(base.model(20), bn_batches(load_dataset(cfg.dataset)))
    mean = next(n for n, _ in ref.named_buffers() if n.endswith("running_mean"))
    frozen = "frozen__" + mean.replace(".", "__")
    start_re, start_run = re.state_dict(20), run.state_dict(20)
    assert torch.equal(start_re[frozen], dict(ref.named_buffers())[mean])
    assert torch.equal(start_run[frozen], base.state_dict(20)[mean])
    assert not torch.equal(start_re[frozen], start_run[frozen])
    assert all(torch.equal(start_re["frozen__" + n.replace(".", "__")], b) for n, b in ref.named_buffers())
    # so the linearized model's eNTK at θ_t is the kernel measured at θ_t with re-estimated statistics
    from lib.data import probe_indices
    data = load_dataset(cfg.dataset)
    measured = trajectory_kernels(base, [20], n_probe=10, bn="reestimate", progress=False)[20]
    lin = L.Linearized(base.model(20))
    lin.load_state_dict(start_re)
    x = data.x_train[probe_indices(data, 10, 0)]
    assert torch.allclose(entk(lin.eval(), x), measured, rtol=1e-4, atol=1e-6)


def test_switch_config_has_one_identity_without_batchnorm_and_checks_bn():
    cfg = tiny_config()  # LeNet-5: no BatchNorm, so the statistics do not matter
    assert L.switch_config(cfg, 20, bn="reestimate") == L.SwitchConfig(cfg, 20) == L.switch_config(cfg, 20, bn="running")
    with pytest.raises(ValueError, match=r"bn must be one of \['running', 'reestimate'\]"):
        L.SwitchConfig(cfg, 20, bn="train")


def test_per_example_correctness_reproduces_the_stored_test_accuracy(store):
    """The paired (McNemar) linear test reads 0/1 correctness per test example from the stored final
    models; its mean must be the accuracy the runs recorded, for the standard and the switched run."""
    from lib.pages.linear import correct_per_example
    cfg = tiny_config(momentum=0.9)
    base = training.train(cfg, store)
    run = L.switch_run(L.SwitchConfig(cfg, 20), store)
    for model, metrics in ((base.model(60), base.metrics[-1]), (run.model(60), run.metrics[-1])):
        c = correct_per_example(model, cfg)
        assert c.shape == (cfg.eval_n,) and set(np.unique(c)) <= {0, 1}
        assert c.mean() == pytest.approx(metrics["test_acc"], abs=1e-6)
