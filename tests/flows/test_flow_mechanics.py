"""The flow's mechanics: step order, manifest, resume, --from/--to, refusals.

The steps are replaced, in the flow's step table (``steps.STEP_LOOKUP``), by small functions that
write a file and count their calls, so these tests exercise the bookkeeping (not the training or
the hardware, tested elsewhere).
"""

from __future__ import annotations

import json

import pytest

from ttfs.flows import flow as flow_mod
from ttfs.flows import steps as steps_mod
from ttfs.flows.cli import main
from ttfs.sim.errors import ConfigError


@pytest.fixture
def fake_steps(monkeypatch):
    calls: list[str] = []

    def make(name):
        def step(run):
            calls.append(name)
            (run.root / f"{name}.out").write_text(f"{name} output\n")
            return [f"{name}.out"], {"note": name}

        return step

    for name in flow_mod.STEPS:
        monkeypatch.setitem(steps_mod.STEP_LOOKUP, name, make(name))
    return calls


def test_flow_runs_every_step_in_order_and_writes_manifest(tmp_path, fake_steps):
    out = tmp_path / "run"
    assert flow_mod.run_flow(out=str(out), verbosity=0) == 0
    assert fake_steps == list(flow_mod.STEPS)
    m = json.loads((out / "manifest.json").read_text())
    assert list(m["steps"]) == list(flow_mod.STEPS)
    for name in flow_mod.STEPS:
        rec = m["steps"][name]
        assert rec["status"] == "done" and rec["note"] == name
        assert rec["artifacts"] == {f"{name}.out": flow_mod.sha256(out / f"{name}.out")}
    assert m["config"] == flow_mod.DEFAULT_CONFIG.to_json()
    assert m["versions"]["numpy"] is not None
    assert (out / "flow.log").read_text().count("] ") >= len(flow_mod.STEPS)


def test_flow_resumes_after_interruption(tmp_path, fake_steps, monkeypatch):
    out = tmp_path / "run"

    def boom(run):
        raise KeyboardInterrupt

    monkeypatch.setitem(steps_mod.STEP_LOOKUP, "cosim", boom)
    with pytest.raises(KeyboardInterrupt):
        flow_mod.run_flow(out=str(out), verbosity=0)
    assert fake_steps == ["train", "quantize", "compile", "rtl"]
    m = json.loads((out / "manifest.json").read_text())
    assert list(m["steps"]) == ["train", "quantize", "compile", "rtl"]
    monkeypatch.undo()
    calls: list[str] = []

    def again(name):
        def step(run):
            calls.append(name)
            (run.root / f"{name}.out").write_text(f"{name} output\n")
            return [f"{name}.out"], {}
        return step

    for name in flow_mod.STEPS:
        monkeypatch.setitem(steps_mod.STEP_LOOKUP, name, again(name))
    assert flow_mod.run_flow(out=str(out), verbosity=0) == 0
    assert calls == ["cosim", "synth", "report"]


def test_flow_from_reruns_later_steps_and_to_stops(tmp_path, fake_steps):
    out = tmp_path / "run"
    flow_mod.run_flow(out=str(out), stop="compile", verbosity=0)
    assert fake_steps == ["train", "quantize", "compile"]
    fake_steps.clear()
    flow_mod.run_flow(out=str(out), start="quantize", stop="rtl", verbosity=0)
    assert fake_steps == ["quantize", "compile", "rtl"]


def test_each_step_keeps_the_environment_it_ran_in(tmp_path, fake_steps, monkeypatch):
    out = tmp_path / "run"
    flow_mod.run_flow(out=str(out), stop="compile", verbosity=0)
    first = json.loads((out / "manifest.json").read_text())
    assert first["steps"]["train"]["versions"] == first["versions"]
    assert first["steps"]["train"]["versions"]["torch"] is not None
    assert "git_revision" in first["steps"]["train"]
    # a rerun from quantize in another environment: the training keeps the versions it ran in
    later = {**first["versions"], "numpy": "0.0-other"}
    monkeypatch.setattr(flow_mod, "_versions", lambda: later)
    flow_mod.run_flow(out=str(out), start="quantize", stop="compile", verbosity=0)
    m = json.loads((out / "manifest.json").read_text())
    assert m["versions"]["numpy"] == "0.0-other"
    assert m["steps"]["quantize"]["versions"]["numpy"] == "0.0-other"
    assert m["steps"]["train"] == first["steps"]["train"]


def test_flow_refuses_changed_or_missing_artifacts(tmp_path, fake_steps):
    out = tmp_path / "run"
    flow_mod.run_flow(out=str(out), stop="quantize", verbosity=0)
    (out / "train.out").write_text("tampered\n")
    with pytest.raises(ConfigError) as exc:
        flow_mod.run_flow(out=str(out), verbosity=0)
    assert str(exc.value) == (
        "artifact train.out of the completed step 'train' has changed since it was written; "
        "rerun with --from train"
    )
    (out / "train.out").unlink()
    with pytest.raises(ConfigError) as exc:
        flow_mod.run_flow(out=str(out), verbosity=0)
    assert str(exc.value) == (
        f"artifact train.out of the completed step 'train' is missing from {out}; "
        "rerun with --from train"
    )


def test_flow_refuses_unknown_steps_and_another_config(tmp_path, fake_steps, capsys):
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--from", "simulate", "-q"]) == 2
    assert capsys.readouterr().err == (
        "ttfs run: error: --from must be one of train, quantize, compile, rtl, cosim, synth, "
        "report, not 'simulate'\n"
    )
    assert main(["run", "--out", str(out), "--from", "report", "--to", "train", "-q"]) == 2
    flow_mod.run_flow(out=str(out), stop="train", verbosity=0)
    cfg = tmp_path / "other.json"
    cfg.write_text(json.dumps({"format": "ttfs.flow", "version": 1, "name": "other",
                               "seed": 3}))
    assert main(["run", "--out", str(out), "--config", str(cfg), "-q"]) == 2
    assert "was made with a different config" in capsys.readouterr().err


def test_flow_config_validation(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "ttfs.flow", "version": 1, "cosim_backend": "spice"}))
    with pytest.raises(ConfigError) as exc:
        flow_mod.load_config(bad)
    assert str(exc.value) == (
        "cosim_backend must be one of 'verilator', 'cocotb', 'amaranth', 'image', not 'spice'"
    )
    bad.write_text(json.dumps({"format": "ttfs.flow", "version": 1, "epoch": 3}))
    with pytest.raises(ConfigError) as exc:
        flow_mod.load_config(bad)
    assert str(exc.value).startswith("flow config has unknown field 'epoch'")
    with pytest.raises(ConfigError) as exc:
        flow_mod.load_config(tmp_path / "missing.json")
    assert str(exc.value) == f"flow config file {str(tmp_path / 'missing.json')!r} does not exist"
    for jobs, backend, msg in [
        (0, "verilator", "cosim_jobs must be a positive integer, not 0"),
        ("2", "verilator", "cosim_jobs must be a positive integer, not '2'"),
        (2, "cocotb", "cosim_jobs > 1 needs the verilator backend (it splits the samples over "
                      "several native models); the cocotb backend runs one"),
    ]:
        bad.write_text(json.dumps({"format": "ttfs.flow", "version": 1, "cosim_jobs": jobs,
                                   "cosim_backend": backend}))
        with pytest.raises(ConfigError) as exc:
            flow_mod.load_config(bad)
        assert str(exc.value) == msg


def test_flow_resumes_a_run_made_before_a_config_field_existed(tmp_path):
    cfg = flow_mod.FlowConfig()
    root = tmp_path / "r"
    root.mkdir()
    stored = cfg.to_json()
    del stored["cosim_jobs"]  # a manifest written before the field was added
    (root / "manifest.json").write_text(json.dumps(
        {"format": "ttfs.manifest", "version": 1, "config": stored, "steps": {}}))
    assert flow_mod.Run(root, cfg).manifest["config"] == stored
    other = dict(stored, seed=cfg.seed + 1)
    (root / "manifest.json").write_text(json.dumps(
        {"format": "ttfs.manifest", "version": 1, "config": other, "steps": {}}))
    with pytest.raises(ConfigError, match="made with a different config"):
        flow_mod.Run(root, cfg)


@pytest.mark.cosim
def test_cosim_step_on_two_native_models(tmp_path):
    from ttfs.sim.image import pack, save_image
    from ttfs.sim.random import random_case

    rc = random_case(5, n_samples=7)
    outs = {}
    for jobs in (1, 2):
        root = tmp_path / f"jobs{jobs}"
        root.mkdir()
        save_image(pack(rc.qnet, rc.events, rc.core), root / "image.img")
        run = flow_mod.Run(root, flow_mod.FlowConfig(cosim_jobs=jobs), verbosity=0)
        files, meta = steps_mod.step_cosim(run)
        assert meta["samples"] == 7 and files[-1] == "results_verilator.json"
        doc = json.loads((root / "results_verilator.json").read_text())
        outs[jobs] = doc["samples"]
    assert outs[1] == outs[2]


def test_flow_steps_are_the_step_table_in_order():
    assert flow_mod.STEPS == ("train", "quantize", "compile", "rtl", "cosim", "synth", "report")
    assert tuple(steps_mod.STEP_LOOKUP) == flow_mod.STEPS
    for name, fn in steps_mod.STEP_LOOKUP.items():
        assert fn is getattr(steps_mod, f"step_{name}")


@pytest.mark.train
def test_two_methods_report_validation_accuracy_and_energy(tmp_path):
    """A real two-method flow (tiny): each method's validation accuracy, never-firing hidden
    fraction and modelled energy in quantize.json equal an independent computation from its
    integer network, and the report's methods table and plot carry them."""
    import numpy as np

    from ttfs.sim.core import CoreConfig
    from ttfs.sim.costmodel import cost_hook
    from ttfs.sim.energy import energy_report
    from ttfs.sim.ir import load_qnet
    from ttfs.sim.reference import run as reference_run
    from ttfs.train.api import encode_for, load_split

    cfg = tmp_path / "flow.json"
    cfg.write_text(json.dumps({
        "format": "ttfs.flow", "version": 1, "methods": ["baseline", "count"], "epochs": 1,
        "test_samples": 48,
        "cosim_backend": "image", "synth_targets": [],
        "train_options": {"baseline": {"hidden": [8]},
                          "count": {"hidden": [8], "lam": 0.01}}}))
    out = tmp_path / "run"
    assert main(["run", "--config", str(cfg), "--out", str(out), "-q"]) == 0
    q = json.loads((out / "quantize.json").read_text())
    for method in ("baseline", "count"):
        qnet = load_qnet(out / f"qnet_{method}.json")
        X, y = load_split("yinyang", "validation")
        res = reference_run(qnet, encode_for(qnet, X, y))
        assert q[method]["validation_accuracy"] == np.mean([r.prediction for r in res] == y)
        X, y = load_split("yinyang", "test")
        res = reference_run(qnet, encode_for(qnet, X[:48], y[:48]), trace=True,
                            cost=cost_hook(CoreConfig.for_network(qnet, lanes=8)))
        fired = {(int(a), int(n)) for r in res for a, _, n in r.trace if a == 1}
        assert q[method]["never_firing_hidden"] == 1 - len(fired) / 8
        rep = energy_report(qnet, res, core=CoreConfig.for_network(qnet, lanes=8))
        assert q[method]["energy_pj"] == rep["snn_pj"]["total"] > 0
    md = (out / "report.md").read_text()
    assert "| method | network | float acc | integer acc | integer acc (validation) |" in md
    assert f"| {q['count']['energy_pj']:.0f} |" in md
    assert (out / "figures" / "methods.png").stat().st_size > 0
