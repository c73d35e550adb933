"""Sweeps through submitit's local executor: same stored results as the page, nothing
resubmitted once finished, a killed job resumes from its checkpoint."""
import dataclasses
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

pytest.importorskip("submitit")

from lib import storage, sweep, training  # noqa: E402
from lib.pages import common, linear  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARAMS = dict(preset="smoke", steps=80)  # 8 checkpoint pairs: enough for the cone verdict the linear page also reads
SWITCH = [0, 20, 50]  # checkpoints of the smoke preset (every 10 iterations)


@pytest.mark.slow
def test_cli_sweep_then_page_reads_the_results(tmp_path, monkeypatch):
    store = tmp_path / "store"
    proc = subprocess.run([sys.executable, "-m", "lib", "sweep", "linear", "--preset", "smoke", "--steps", "80",
                           "--switch", *map(str, SWITCH), "--store", str(store)],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, TWOPHASE_PROGRESS="0"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "6 done, 0 running, 0 failed, 0 pending" in proc.stdout  # base, seed 0, 3 switch points, its transition
    # the page, with the same parameters and store, only reads
    monkeypatch.setenv("TWOPHASE_STORE", str(store))
    monkeypatch.setattr(training, "_run", lambda *a, **k: pytest.fail("the page retrained a stored run"))
    page = common.setup(**PARAMS)
    swept = linear.linear_sweep(page, SWITCH)
    # ... and those results equal a direct computation in a fresh store
    monkeypatch.undo()
    monkeypatch.setenv("TWOPHASE_STORE", str(tmp_path / "direct"))
    direct = linear.linear_sweep(common.setup(**PARAMS), SWITCH)
    for t in SWITCH:
        a, b = swept.runs[t].state_dict(80), direct.runs[t].state_dict(80)
        assert all(torch.equal(a[k], b[k]) for k in a), t
    assert swept.final == direct.final and swept.advantage == direct.advantage


@pytest.mark.slow
def test_resubmitting_a_finished_sweep_submits_nothing(tmp_path):
    store, extra = str(tmp_path / "store"), {"switch": [0, 50]}
    first = sweep.run_sweep("linear", PARAMS, extra, store, poll_s=0.5, out=open(os.devnull, "w"))
    assert sorted(first["submitted"]) == ["linear-base", "linear-seed-0", "linear-switch-0", "linear-switch-50",
                                          "linear-transition-0"]
    again = sweep.run_sweep("linear", PARAMS, extra, store, poll_s=0.5, out=open(os.devnull, "w"))
    assert again["submitted"] == [] and len(again["skipped"]) == 5
    st = sweep.status("linear", PARAMS, extra, store)
    assert {v["state"] for v in st.values()} == {"done"}


@pytest.mark.slow
def test_killed_job_resumes_from_its_checkpoint(tmp_path):
    params = dict(preset="smoke", steps=400)
    store = tmp_path / "store"
    job = sweep.expand("linear", params, {"switch": [0]})[0][0]  # the base trajectory
    ex = sweep.make_executor("local", tmp_path / "logs")
    running = ex.submit(sweep._Task(job, str(store)))
    cfg = common.setup(**params).cfg
    run = storage.RunStore(store).run_dir("train", cfg)
    deadline = time.time() + 120
    while not (run / "ckpt_0000100.pt").exists():
        assert not running.done(), running.stderr()
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(running._process.pid, signal.SIGKILL)
    while not running.done():
        time.sleep(0.05)
    assert not (run / "ckpt_0000400.pt").exists() and not sweep.is_done(store, job)
    kept = (run / "ckpt_0000100.pt").stat().st_mtime_ns
    report = sweep.run_sweep("linear", params, {"switch": [0]}, str(store), poll_s=0.5, out=open(os.devnull, "w"))
    assert "linear-base" in report["submitted"] and not report["failed"]
    assert (run / "ckpt_0000100.pt").stat().st_mtime_ns == kept, "the checkpoint before the kill was recomputed"
    resumed = training.Trajectory(cfg, storage.RunStore(store), run).checkpoint(400)
    direct = training.train(cfg, storage.RunStore(tmp_path / "direct")).checkpoint(400)
    assert all(torch.equal(resumed["model"][k], direct["model"][k]) for k in direct["model"])


def test_bad_page_or_executor_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="unknown page 'cones'; valid choices: 'cone'"):
        sweep.expand("cones", PARAMS)
    with pytest.raises(ValueError, match="unknown executor 'pbs'"):
        sweep.make_executor("pbs", tmp_path)
    with pytest.raises(ValueError, match="unknown arch"):
        sweep.expand("cone", dict(PARAMS, arch="resnet18"))


@pytest.mark.slow
def test_failed_job_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOPHASE_OFFLINE", "1")  # inherited by the job: CIFAR-10 is not on disk
    monkeypatch.setenv("TWOPHASE_DATA", str(tmp_path / "data"))
    params, extra, store = dict(preset="smoke", steps=50, dataset="cifar10"), {"switch": [0]}, str(tmp_path / "s")
    lines = []

    class Out:
        def write(self, s):
            lines.append(s)

        def flush(self):
            pass

    report = sweep.run_sweep("linear", params, extra, store, poll_s=0.5, out=Out())
    log = Path(report["failed"]["linear-base"])
    assert log.exists() and "DataUnavailable" in log.read_text()
    assert report["submitted"] == ["linear-base", "linear-seed-0"]  # the next phase waits for the first
    text = "".join(lines)
    assert "0 done, 0 running, 2 failed, 2 pending" in text and f"FAILED linear-base: see {log}" in text
    assert sweep.status("linear", params, extra, store)["linear-base"]["state"] == "failed"


def test_slurm_executor_without_slurm_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from lib.__main__ import main
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no srun, no sbatch
    code = main(["sweep", "linear", "--preset", "smoke", "--steps", "50", "--executor", "slurm",
                 "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert "srun" in err and "--executor local" in err, err
    assert not (tmp_path / "store" / "sweeps").exists(), "nothing was submitted or written"


def _linear_jobs():
    """The base job and the switch job of a linear sweep with one switch point."""
    return [j for phase in sweep.expand("linear", PARAMS, {"switch": [0]}) for j in phase if j.step in ("base", "switch")]


def test_markers_are_json_and_old_markers_still_count(tmp_path):
    base, switch = _linear_jobs()
    sweep.write_marker(tmp_path, base)
    assert sweep.is_done(tmp_path, base) and not sweep.is_done(tmp_path, switch)
    import json
    assert json.loads(sweep.marker(tmp_path, base).read_text())["job"] == base.name
    storage.save(sweep.marker(tmp_path, switch), {"job": switch.name, "finished": 1.0})  # the older format
    assert sweep.is_done(tmp_path, switch)
    sweep.marker(tmp_path, switch).write_text("{not json")
    assert not sweep.is_done(tmp_path, switch)
    sweep.marker(tmp_path, switch).write_text('{"job": "another-job"}')
    assert not sweep.is_done(tmp_path, switch)


def test_old_format_marker_with_code_is_refused(tmp_path):
    import hashlib
    import io

    class Touch:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    buf = io.BytesIO()
    torch.save({"job": "linear-base", "x": Touch()}, buf)
    payload = buf.getvalue()
    base = _linear_jobs()[0]
    path = sweep.marker(tmp_path, base)
    path.parent.mkdir(parents=True)
    path.write_bytes(storage.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.warns(storage.StoreWarning, match="refused"):
        assert not sweep.is_done(tmp_path, base)
    assert not (tmp_path / "pwned").exists()


def test_job_index_log_paths_cannot_leave_the_store(tmp_path):
    import json
    store = tmp_path / "store"
    logs = store / "sweeps" / "linear" / "logs"
    logs.mkdir(parents=True)
    outside = tmp_path / "outside.err"
    outside.write_text("Traceback (most recent call last): a file outside the store")
    (logs / "7_0_log.err").write_text("Traceback (most recent call last): the job's own log")
    (logs / "link_log.err").symlink_to(outside)
    base, switch = _linear_jobs()
    index = {base.name: {"job_id": "7", "stderr": "7_0_log.err", "key": base.key}}
    bad = ["../../../outside.err", str(outside), "link_log.err", "sub/../../../../outside.err", None]
    for recorded in bad:
        index[switch.name] = {"job_id": "8", "stderr": recorded, "key": switch.key}
        (store / "sweeps" / "linear" / "jobs.json").write_text(json.dumps(index))
        with pytest.warns(storage.StoreWarning, match="log path ignored"):
            st = sweep.status("linear", PARAMS, {"switch": [0]}, str(store))
        assert st[base.name] == {"state": "failed", "stderr": str((logs / "7_0_log.err").absolute())}
        assert st[switch.name] == {"state": "running"}, recorded  # submitted; its log is not read
    # an index written before log paths were stored relative: absolute, inside the log folder
    index[switch.name]["stderr"] = str((logs / "7_0_log.err").absolute())
    (store / "sweeps" / "linear" / "jobs.json").write_text(json.dumps(index))
    assert sweep.status("linear", PARAMS, {"switch": [0]}, str(store))[switch.name]["state"] == "failed"
    for garbage in ("[1, 2]", "not json", '{"linear-base": "x"}'):
        (store / "sweeps" / "linear" / "jobs.json").write_text(garbage)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", storage.StoreWarning)
            st = sweep.status("linear", PARAMS, {"switch": [0]}, str(store))
        assert {v["state"] for v in st.values()} == {"pending"}, garbage


def test_job_index_stores_log_names_relative_to_the_log_folder(tmp_path):
    import json
    from types import SimpleNamespace
    store = tmp_path / "store"
    logs = sweep._log_folder(store, "linear")
    base = _linear_jobs()[0]
    fake = SimpleNamespace(job_id="42", paths=SimpleNamespace(stderr=logs.absolute() / "42_0_log.err",
                                                              stdout=logs.absolute() / "42_0_log.out"))
    sweep._save_index(store, "linear", [(base, fake)])
    record = json.loads((logs.parent / "jobs.json").read_text())[base.name]
    assert record["stderr"] == "42_0_log.err" and record["stdout"] == "42_0_log.out"


def test_paper_job_list_and_status_need_no_gpu(tmp_path, monkeypatch):
    """The paper preset's job list and --status are built on a login node without a GPU; only the
    jobs themselves, where they start training, refuse without one."""
    import torch
    from lib.pages import common
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("TWOPHASE_FORCE_PAPER", raising=False)
    params = {"preset": "paper", "dataset": "mnist5k"}
    phases_ = sweep.expand("cone", params)
    assert [j.value for j in phases_[0]] == [0, 1, 2]
    rows = sweep.status("cone", params, {}, str(tmp_path / "store"))
    assert sweep.format_status(rows)
    chaos = sweep.expand("chaos", params)  # every training seed the paper-scale page perturbs is a job
    assert [j.name for j in chaos[0]] == ["chaos-base-0", "chaos-seed-1", "chaos-seed-2"]
    assert {dict(j.extra).get("train_seed", 0) for j in chaos[1]} == {0, 1, 2}
    assert len({j.name for j in chaos[1]}) == len(chaos[1])
    plan = sweep.format_plan("cone", params, {}, str(tmp_path / "store"))
    assert plan.splitlines()[0] == "phase 1: 3 job(s), 3 to submit" and plan.count("to submit") == 4
    assert sweep.main(["cone", "--preset", "paper", "--dataset", "mnist5k", "--store", str(tmp_path / "store"),
                       "--executor", "slurm", "--dry-run"]) == 0
    assert not list((tmp_path / "store").rglob("*.done")) and not list((tmp_path / "store").rglob("jobs.json"))
    assert common.setup(preset="paper", for_jobs=True).cfg.device == "cuda"
    with pytest.raises(RuntimeError, match="needs a GPU"):
        sweep.run_job(phases_[0][0], str(tmp_path / "store"))


def test_chaos_seed_job_trains_that_seed_only(tmp_path, monkeypatch):
    """A chaos 'seed' job trains the other training seed and nothing else: the page's own run is
    the 'base' job's, which runs beside it in the same phase."""
    monkeypatch.delenv("TWOPHASE_STORE", raising=False)
    params = tuple(sorted(dict(preset="smoke", steps=20).items()))
    job = sweep.Job("chaos", "seed", 1, params, ())
    sweep.run_job(job, str(tmp_path / "store"))
    cfg = common.setup(preset="smoke", steps=20).cfg
    with storage.stored_only():
        store = storage.RunStore(str(tmp_path / "store"))
        training.train(dataclasses.replace(cfg, seed=1), store)
        with pytest.raises(storage.NotStored):
            training.train(cfg, store)
    assert sweep.is_done(tmp_path / "store", job)


def test_a_sweep_never_unpickles_what_lies_in_its_log_folder(tmp_path, monkeypatch):
    """Success is read from the JSON markers alone: a crafted result pickle in the store's log folder,
    which loading would execute, is never loaded, and a job without its marker is reported failed."""
    import pickle
    from types import SimpleNamespace

    store = tmp_path / "store"
    logs = sweep._log_folder(store, "linear")
    logs.mkdir(parents=True)
    crafted = logs / "1_0_result.pkl"
    crafted.write_bytes(pickle.dumps(_Pwn(str(tmp_path / "pwned"))))

    class Job_:
        def __init__(self, job_id, ok, job):
            self.job_id, self.ok, self.job = job_id, ok, job
            self.paths = SimpleNamespace(stderr=logs / f"{job_id}_0_log.err", stdout=logs / f"{job_id}_0_log.out")

        def done(self):
            return True

        def result(self):  # what submitit does: unpickle the result file
            return pickle.loads(crafted.read_bytes())

    class Executor:
        n = 0

        def submit(self, task):
            Executor.n += 1
            ok = task.job.step in ("base", "seed")
            if ok:  # the job "ran": its marker is written
                sweep.write_marker(store, task.job)
            return Job_(Executor.n, ok, task.job)

    monkeypatch.setattr(sweep, "make_executor", lambda *a, **k: Executor())
    report = sweep.run_sweep("linear", PARAMS, {"switch": [0]}, str(store), poll_s=0.01, out=open(os.devnull, "w"))
    assert not (tmp_path / "pwned").exists()
    # the first phase's jobs wrote their markers, the second phase's did not
    assert sorted(report["failed"]) == ["linear-switch-0", "linear-transition-0"]


class _Pwn:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))
