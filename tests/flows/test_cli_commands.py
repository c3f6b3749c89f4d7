"""The ``ttfs`` command line: compile, image info, sim, and the exit-code contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ttfs.flows.cli import main
from ttfs.sim.image import load_image
from ttfs.sim.ir import EventSet, save_events, save_qnet
from ttfs.sim.random import random_case
from ttfs.sim.reference import run


@pytest.fixture
def files(tmp_path):
    rc = random_case(11, n_samples=6)
    labels = np.arange(6) % rc.qnet.n_outputs
    save_qnet(rc.qnet, tmp_path / "qnet.json")
    save_events(EventSet(rc.events.samples, labels), tmp_path / "events.json")
    return tmp_path, rc


def test_cli_compile_info_sim_round_trip(files, capsys):
    d, rc = files
    img = d / "x.img"
    assert main(["compile", str(d / "qnet.json"), "--events", str(d / "events.json"),
                 "-o", str(img), "-q"]) == 0
    image = load_image(img)
    assert image.qnet.equals(rc.qnet)
    assert main(["image", "info", str(img), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 6
    out = d / "r.json"
    assert main(["sim", str(img), "--backend", "reference", "--trace", "-o", str(out),
                 "-q"]) == 0
    doc = json.loads(out.read_text())
    expected = run(rc.qnet, rc.events, trace=True)
    assert doc["n_samples"] == 6
    for got, exp in zip(doc["samples"], expected, strict=True):
        assert got["prediction"] == exp.prediction
        assert got["valid"] is True
        assert got["counters"]["sops"] == exp.counters.sops
        assert got["counters"]["spikes_per_layer"] == list(exp.counters.spikes_per_layer)
        assert got["trace"] == exp.trace.tolist()
    correct = sum(int(e.prediction == k % rc.qnet.n_outputs) for k, e in enumerate(expected))
    assert doc["accuracy"] == correct / 6


def test_cli_sim_check_image_backend(files):
    d, _ = files
    img = d / "x.img"
    main(["compile", str(d / "qnet.json"), "--events", str(d / "events.json"), "-o", str(img),
          "-q"])
    assert main(["sim", str(img), "--backend", "image", "--check", "-q",
                 "-o", str(d / "r.json")]) == 0
    assert json.loads((d / "r.json").read_text())["checked_against"] == "reference"


@pytest.mark.cosim
def test_cli_sim_verilator_jobs(files, capsys):
    d, rc = files
    img = d / "x.img"
    main(["compile", str(d / "qnet.json"), "--events", str(d / "events.json"), "-o", str(img),
          "-q"])
    one, two = d / "one.json", d / "two.json"
    assert main(["sim", str(img), "--backend", "verilator", "--trace", "-q", "-o", str(one)]) == 0
    assert main(["sim", str(img), "--backend", "verilator", "--jobs", "2", "--trace", "--check",
                 "-q", "-o", str(two)]) == 0
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert a["samples"] == b["samples"] and len(a["samples"]) == 6
    capsys.readouterr()
    assert main(["sim", str(img), "--backend", "reference", "--jobs", "2"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "--jobs > 1 needs the verilator backend (it splits the samples over several native "
        "models); the reference backend runs one")
    assert main(["sim", str(img), "--backend", "verilator", "--jobs", "0"]) == 2
    assert "--jobs must be a positive integer, not 0" in capsys.readouterr().err


def test_cli_bad_inputs_exit_2_with_one_line(files, capsys):
    d, _ = files
    (d / "v2.json").write_text('{"format": "ttfs.qnet", "version": 2}')
    assert main(["compile", str(d / "v2.json"), "--events", str(d / "events.json"),
                 "-o", str(d / "y.img")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "ttfs compile: error: unsupported ttfs.qnet version 2; this tool reads version 1\n"
    )
    assert main(["sim", str(d / "missing.img")]) == 2
    assert capsys.readouterr().err == (
        f"ttfs sim: error: image file {str(d / 'missing.img')!r} does not exist\n"
    )
    (d / "unsorted.json").write_text(json.dumps(
        {"format": "ttfs.events", "version": 1, "samples": [[[1, 0], [0, 1]]]}))
    assert main(["compile", str(d / "qnet.json"), "--events", str(d / "unsorted.json"),
                 "-o", str(d / "z.img")]) == 2
    assert "does not come after" in capsys.readouterr().err
    assert not (d / "y.img").exists() and not (d / "z.img").exists()


def test_cli_network_too_big_for_core_is_refused(files, capsys):
    d, rc = files
    core = {"format": "ttfs.core", "version": 1, "lanes": 2, "max_neurons": 1,
            "weight_bits": 8, "potential_bits": rc.qnet.potential_bits}
    (d / "core.json").write_text(json.dumps(core))
    assert main(["compile", str(d / "qnet.json"), "--events", str(d / "events.json"),
                 "-o", str(d / "x.img"), "--core", str(d / "core.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttfs compile: error: the network has ") and "this core has" in err


def test_cli_console_script_runs_without_traceback(tmp_path):
    """The installed entry point maps errors to exit codes without a traceback."""
    proc = subprocess.run([sys.executable, "-m", "ttfs.flows.cli", "image", "info",
                           str(tmp_path / "nope.img")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"ttfs image: error: image file {str(tmp_path / 'nope.img')!r} does not exist"
    )


def test_cli_encode_uses_the_models_encoder(tmp_path):
    from ttfs.sim.encode import encode_ttfs
    from ttfs.sim.ir import Layer, QNet, load_events
    from ttfs.train.api import load_split

    enc = {"kind": "ttfs", "time_steps": 8, "t_in": 6, "cutoff": 0.0, "bias_steps": [0]}
    qnet = QNet(5, 8, (Layer(np.ones((5, 3), dtype=np.int64), 2),), meta={"encoder": enc})
    save_qnet(qnet, tmp_path / "q.json")
    assert main(["encode", str(tmp_path / "q.json"), "--dataset", "yinyang", "--split", "test",
                 "--limit", "25", "-o", str(tmp_path / "ev.json"), "-q"]) == 0
    got = load_events(tmp_path / "ev.json", qnet)
    X, y = load_split("yinyang", "test")
    want = encode_ttfs(X[:25], 8, t_in=6, bias_steps=(0,), labels=y[:25])
    assert len(got) == 25
    assert all(np.array_equal(a, b) for a, b in zip(got.samples, want.samples, strict=True))
    assert np.array_equal(got.labels, y[:25])


def test_cli_encode_refuses_a_qnet_without_encoder(files, capsys):
    d, _ = files
    assert main(["encode", str(d / "qnet.json"), "-o", str(d / "ev.json")]) == 2
    assert capsys.readouterr().err == (
        "ttfs encode: error: this qnet has no meta.encoder record; it was not made by "
        "train.api.quantize_model, so its input encoding is unknown\n"
    )


TINY = ["--epochs", "1", "--option", "hidden=[8]", "--option", "time_steps=16", "--option",
        "t_in=8", "--option", "in_kernel=8", "--option", "out_kernel=16", "--option", "th_hold=8"]


def _csv_dir(root, test="a,label,b\n4,1,2\n0,0,9\n", top=19):
    root.mkdir(exist_ok=True)
    rows = "".join(f"{i},{i % 2},{(7 * i) % 10}\n" for i in range(top + 1))
    (root / "train.csv").write_text("a,label,b\n" + rows, encoding="utf-8")
    (root / "test.csv").write_text(test, encoding="utf-8")
    return f"csv:{root}"


def test_cli_train_directory_is_the_model_of_quantize_and_encode(tmp_path, capsys):
    ds = _csv_dir(tmp_path / "data")
    m, q = tmp_path / "m", tmp_path / "q.json"
    assert main(["train", "--dataset", ds, *TINY, "-o", str(m), "-q"]) == 0
    assert sorted(p.name for p in m.iterdir()) == ["checkpoint.pt", "model.pt"]
    assert main(["quantize", str(m), "-o", str(q), "-q"]) == 0  # the directory, as README writes
    meta = json.loads(q.read_text())["meta"]
    assert meta["scaling"] == {"kind": "minmax", "min": [0.0, 0.0], "max": [17.0, 9.0]}
    for model in (m, m / "model.pt", q):
        assert main(["encode", str(model), "--dataset", ds, "-o", str(tmp_path / "e.json"),
                     "-q"]) == 0
    capsys.readouterr()

    # a test label the 2-output network does not have
    other = _csv_dir(tmp_path / "other", test="a,label,b\n4,1,2\n0,2,9\n")
    for model in (m, q):
        assert main(["encode", str(model), "--dataset", other, "-o", str(tmp_path / "e.json")]) == 2
        assert capsys.readouterr().err == (
            "ttfs encode: error: sample 1 has label 2, outside the network's 2 outputs "
            "(labels 0..1)\n")
    # the training file changed: its range no longer scales the inputs as in training
    _csv_dir(tmp_path / "data", top=20)
    assert main(["encode", str(q), "--dataset", ds, "-o", str(tmp_path / "e.json")]) == 2
    assert capsys.readouterr().err == (
        f"ttfs encode: error: dataset {ds!r}: the training split's range of feature 0 is now "
        "[0, 18], the model was trained with [0, 17]; its inputs would be scaled differently "
        "(train again, or restore the training file)\n")


def test_cli_model_paths_that_are_not_models_say_what_is_wrong(tmp_path, capsys):
    q = str(tmp_path / "q.json")

    def err(model):
        assert main(["quantize", str(model), "-o", q]) == 2
        return capsys.readouterr().err

    assert err(tmp_path / "none") == (
        f"ttfs quantize: error: checkpoint {str(tmp_path / 'none')!r} does not exist\n")
    d = tmp_path / "run"
    d.mkdir()
    assert err(d) == (
        f"ttfs quantize: error: model directory {str(d)!r} has no model.pt (nor checkpoint.pt); "
        "it is not a directory written by ttfs train -o\n")
    (d / "checkpoint.pt").write_bytes(b"")
    assert err(d) == (
        f"ttfs quantize: error: model directory {str(d)!r} has no model.pt, only the "
        "checkpoint.pt of an unfinished training run (run the same ttfs train again to finish "
        "it)\n")
    js = tmp_path / "qnet.json"
    js.write_text('{"format": "ttfs.qnet"}\n')
    assert err(js) == (
        f"ttfs quantize: error: checkpoint {str(js)!r} cannot be read (it is not a torch.save "
        "file written by ttfs train): invalid load key, '{'.\n")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(bytes(range(256)))
    line = err(junk)
    assert line.startswith(f"ttfs quantize: error: checkpoint {str(junk)!r} cannot be read (it "
                           "is not a torch.save file written by ttfs train): ")
    assert line.count("\n") == 1


def test_cli_compile_refuses_labels_outside_the_network_outputs(files, capsys):
    d, rc = files
    n = rc.qnet.n_outputs
    labels = [0] * 6
    labels[4] = n
    save_events(EventSet(rc.events.samples, labels), d / "bad.json")
    assert main(["compile", str(d / "qnet.json"), "--events", str(d / "bad.json"),
                 "-o", str(d / "x.img")]) == 2
    assert capsys.readouterr().err == (
        f"ttfs compile: error: sample 4 has label {n}, outside the network's {n} outputs "
        f"(labels 0..{n - 1})\n")
    assert not (d / "x.img").exists()


def test_cli_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"ttfs {metadata.version('ttfs-codesign')}\n"


def _csv_flow(tmp_path) -> Path:
    """A flow config (``tmp_path/flow.json``) training TINY on a CSV dataset for one epoch."""
    ds = _csv_dir(tmp_path / "data")
    pairs = (p.split("=") for p in TINY[3::2])  # the --option KEY=VALUE pairs
    config = {"format": "ttfs.flow", "version": 1, "name": "mine", "dataset": ds, "epochs": 1,
              "train_options": {"baseline": {k: json.loads(v) for k, v in pairs}},
              "cosim_backend": "image"}
    (tmp_path / "flow.json").write_text(json.dumps(config))
    return tmp_path / "flow.json"


def test_cli_flow_config_takes_a_csv_dataset(tmp_path, capsys):
    flow = _csv_flow(tmp_path)
    run_dir = tmp_path / "run"
    assert main(["run", "--config", str(flow), "--out", str(run_dir), "--to", "compile",
                 "-q"]) == 0
    qnets = list(run_dir.rglob("*.json"))
    metas = [json.loads(p.read_text()).get("meta", {}) for p in qnets]
    assert {"kind": "minmax", "min": [0.0, 0.0], "max": [17.0, 9.0]} in [
        m.get("scaling") for m in metas]
    # the training file changes; the flow, run again, refuses the finished model with it
    _csv_dir(tmp_path / "data", top=20)
    assert main(["run", "--config", str(flow), "--out", str(run_dir), "--to", "quantize",
                 "--force", "-q"]) == 2
    assert "the training split's range of feature 0 is now [0, 18], the model was trained with " \
           "[0, 17]" in capsys.readouterr().err


def test_cli_run_force_with_from_is_refused_before_anything_is_deleted(tmp_path, capsys):
    flow = _csv_flow(tmp_path)
    run_dir = tmp_path / "run"
    args = ["run", "--config", str(flow), "--out", str(run_dir), "-q"]
    assert main([*args, "--to", "quantize"]) == 0
    manifest = (run_dir / "manifest.json").read_text()
    capsys.readouterr()
    assert main([*args, "--from", "quantize", "--to", "quantize", "--force"]) == 2
    assert capsys.readouterr().err == (
        "ttfs run: error: --force starts the run afresh and --from quantize keeps the steps "
        "before it; use one or the other (--from quantize alone redoes quantize and the steps "
        "after it)\n")
    assert (run_dir / "manifest.json").read_text() == manifest  # nothing forgotten
    # --from alone redoes the step on the kept training
    assert main([*args, "--from", "quantize", "--to", "quantize"]) == 0


def test_cli_interrupted_csv_run_resumed_on_a_changed_file_is_refused(tmp_path, capsys):
    import torch

    ds = _csv_dir(tmp_path / "data")
    m = tmp_path / "m"
    assert main(["train", "--dataset", ds, *TINY, "-o", str(m), "-q"]) == 0
    record = {"kind": "minmax", "min": [0.0, 0.0], "max": [17.0, 9.0]}
    for name in ("checkpoint.pt", "model.pt"):  # every checkpoint of the run holds the record
        assert torch.load(m / name, weights_only=False)["scaling"] == record
    (m / "model.pt").unlink()  # as if interrupted after the epoch's checkpoint
    _csv_dir(tmp_path / "data", top=20)
    assert main(["train", "--dataset", ds, *TINY, "-o", str(m)]) == 2
    assert capsys.readouterr().err == (
        f"ttfs train: error: dataset {ds!r}: the training split's range of feature 0 is now "
        "[0, 18], the model was trained with [0, 17]; its inputs would be scaled differently "
        "(train again, or restore the training file)\n")


def test_cli_compile_for_a_core_with_chunk_bounds(files, capsys):
    from ttfs.sim.core import CoreConfig, save_core

    d, rc = files
    core = CoreConfig.for_network(rc.qnet, lanes=rc.core.lanes, chunk_bounds=4)
    save_core(core, d / "core.json")
    img = d / "x.img"
    assert main(["compile", str(d / "qnet.json"), "--events", str(d / "events.json"),
                 "--core", str(d / "core.json"), "-o", str(img)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(" chunk-bounds 4")
    assert load_image(img).core == core
    assert main(["image", "info", str(img)]) == 0
    assert "; per-chunk bounds, 4 a cycle" in capsys.readouterr().out


def test_cli_cache_shows_and_clears_the_builds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TTFS_CACHE", str(tmp_path / "c"))
    assert main(["cache"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'c'}: empty\n"
    for kind, n in (("verilator", 2), ("cocotb", 1)):
        for i in range(n):
            entry = tmp_path / "c" / kind / f"key{i}"
            entry.mkdir(parents=True)
            (entry / "lib.so").write_bytes(b"x" * 2**20)
        (tmp_path / "c" / kind / "key0.lock").touch()  # a lock is not an entry
    assert main(["cache"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["cocotb", "1", "entries", "1.0", "MB"]
    assert lines[2].split() == ["verilator", "2", "entries", "2.0", "MB"]
    assert lines[3].split() == ["total", "3", "entries", "3.0", "MB"]
    assert main(["cache", "--clear"]) == 0
    assert capsys.readouterr().out == f"cleared {tmp_path / 'c'}: 3.0 MB freed\n"
    assert not list((tmp_path / "c").iterdir())
