"""``ttfs sweep``: points as Ray tasks, resume, failures, bad sweep files (flows/sweep.py).

One small sweep (2 methods x 2 seeds, one epoch, 8 hidden neurons, 48 test samples, the image
backend) runs once for the module on a local Ray instance with 2 CPUs; the other tests compare
with its table.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ttfs.flows.cli import main
from ttfs.flows.sweep import LOOPBACK_ENV, TABLE_VOLATILE, load_sweep, ray_session, run_sweep
from ttfs.sim.errors import ConfigError

BASE = """
[base]
epochs = 1
test_samples = 48
cosim_backend = "image"
train_options = {baseline = {hidden = [8]}, count = {hidden = [8]}}
"""
SWEEP = 'to = "cosim"\n' + BASE + """
[axes]
method = ["baseline", "count"]
seed = [0, 1]
"""
NAMES = ["baseline_seed-0", "baseline_seed-1", "count_seed-0", "count_seed-1"]


def table(root) -> list[dict]:
    rows = json.loads((root / "results.json").read_text())["points"]
    return [{k: v for k, v in r.items() if k not in TABLE_VOLATILE} for r in rows]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    (d / "s.toml").write_text(SWEEP)
    lines: list[str] = []
    code = run_sweep(d / "s.toml", out=d / "out", workers=2, echo=lines.append)
    return d, code, lines


@pytest.mark.train
@pytest.mark.slow
def test_sweep_runs_every_point_as_a_run_directory(sweep):
    d, code, lines = sweep
    out = d / "out"
    assert code == 0
    assert lines[0] == f"ttfs sweep: s: 4 points to cosim in {out}"
    assert lines[1] == "  on local Ray, 2 CPUs"
    assert sorted(line.split()[1] for line in lines if line.startswith("  done ")) == NAMES
    assert lines[-1] == f"ttfs sweep: 4 of 4 points done; results in {out / 'results.csv'}"
    rows = json.loads((out / "results.json").read_text())["points"]
    assert [r["point"] for r in rows] == NAMES
    for r in rows:
        assert r["status"] == "done" and r["error"] is None
        assert r["rtl_accuracy"] == r["integer_accuracy"] is not None
        assert len(r["spikes_per_layer"]) == 2 and r["cycles_per_sample"] > 0
        assert r["energy_pj"] > 0 and r["membrane_accesses_per_sample"] > 0
        cfg = json.loads((out / "points" / r["point"] / "flow.json").read_text())
        assert cfg["methods"] == [r["method"]] and cfg["seed"] == r["seed"]
        assert cfg["synth_targets"] == [] and cfg["name"] == r["point"]
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("point,method,seed,status,float_accuracy,")
    assert [line.split(",")[0] for line in csv_lines[1:]] == NAMES
    assert (out / "pareto.png").stat().st_size > 0
    # any point continues alone as a normal run: every step up to cosim is done
    p = out / "points" / NAMES[0]
    r = subprocess.run([sys.executable, "-m", "ttfs.flows.cli", "run", "--config",
                        str(p / "flow.json"), "--out", str(p), "--to", "cosim"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("done earlier, skipped") == 5


@pytest.mark.train
@pytest.mark.slow
def test_interrupted_sweep_resumes_only_unfinished_points(sweep, tmp_path):
    d, _, _ = sweep
    out = tmp_path / "out"
    shutil.copytree(d / "out", out)
    # as an interruption leaves it: one point never started, one stopped during cosim
    shutil.rmtree(out / "points" / "baseline_seed-1")
    m = out / "points" / "count_seed-1" / "manifest.json"
    manifest = json.loads(m.read_text())
    trained = manifest["steps"]["train"]
    del manifest["steps"]["cosim"]
    m.write_text(json.dumps(manifest))
    (out / "points" / "count_seed-1" / "report.json").unlink()
    untouched = {n: (out / "points" / n / "manifest.json").stat().st_mtime_ns
                 for n in ("baseline_seed-0", "count_seed-0")}
    assert main(["sweep", str(d / "s.toml"), "--out", str(out), "-q"]) == 2  # needs --resume
    lines: list[str] = []
    assert run_sweep(d / "s.toml", out=out, workers=2, resume=True, echo=lines.append) == 0
    assert lines[0].endswith(", 2 done earlier")
    assert sorted(line.split()[1] for line in lines if line.startswith("  done ")) == [
        "baseline_seed-1", "count_seed-1"]
    for n, mtime in untouched.items():
        assert (out / "points" / n / "manifest.json").stat().st_mtime_ns == mtime
    assert json.loads(m.read_text())["steps"]["train"] == trained  # not trained again
    assert table(out) == table(d / "out")


@pytest.mark.train
@pytest.mark.slow
def test_failed_point_is_reported_and_the_others_finish(tmp_path, capsys):
    (tmp_path / "s.toml").write_text('to = "quantize"\n' + BASE + f"""
[axes]
dataset = ["yinyang", "npz:{tmp_path}/missing.npz"]
method = ["baseline"]
""")
    assert main(["sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "2"]) == 2
    err = capsys.readouterr().err.splitlines()
    bad = "dataset-npz__" + str(tmp_path).strip("/").replace("/", "_") + "_missing.npz_baseline"
    failed = [line for line in err if line.startswith(f"  FAILED {bad} ")]
    assert len(failed) == 1 and "missing.npz" in failed[0]
    assert any(line.startswith("  done dataset-yinyang_baseline ") for line in err)
    assert err[-1] == f"ttfs sweep: failed: {bad}"
    rows = {r["point"]: r for r in json.loads((tmp_path / "out/results.json").read_text())[
        "points"]}
    assert rows["dataset-yinyang_baseline"]["status"] == "done"
    assert rows["dataset-yinyang_baseline"]["integer_accuracy"] is not None
    assert rows[bad]["status"] == "failed" and "missing.npz" in rows[bad]["error"]
    assert not (tmp_path / "out" / "pareto.png").exists()  # no energy before cosim


@pytest.mark.parametrize("text, message", [
    ("[axes]\nfoo = [1]\n", "unknown axis 'foo': neither a flow config field ("),
    ('to = "simulate"\n[axes]\nseed = [1]\n', "unknown step 'simulate' in 'to'; steps: train, "),
    ("[axes]\nseed = []\n", "axis 'seed' must be a non-empty list of values"),
    ('base = "nowhere.json"\n[axes]\nseed = [1]\n', "the base flow config "),
    ("to = 3\n", "unknown step 3 in 'to'"),
    ("[axes]\n", "the sweep file needs an [axes] table with at least one axis"),
    ("step = 1\n", "unknown key 'step' in the sweep file; keys: name, base, to, synth, axes"),
    ("[axes\n", "is not valid TOML"),
    ('[axes]\nmethod = ["magic"]\n', "magic"),
])
def test_bad_sweep_files_are_one_line_errors(tmp_path, capsys, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    assert main(["sweep", str(f), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttfs sweep: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_option_axes_apply_only_to_methods_that_have_them(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[axes]\nmethod = ["baseline", "kernel"]\nwindow = [4, 8]\nlanes = [4]\n')
    s = load_sweep(f)
    assert [p.name for p in s.points] == ["baseline_lanes-4", "kernel_window-4_lanes-4",
                                          "kernel_window-8_lanes-4"]
    assert s.points[0].values == {"method": "baseline", "window": None, "lanes": 4}
    assert s.points[1].config.train_options == {"kernel": {"window": 4}}
    assert s.points[1].config.lanes == 4 and s.points[1].config.synth_targets == ()


# -- a cluster of three Ray nodes on the loopback interface ---------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_processes(marks: tuple[str, ...]) -> list[tuple[int, str]]:
    """Live processes whose command line names our temp dir or our head's port."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        if cmd and any(m in cmd for m in marks):
            found.append((int(pid), cmd[:120]))
    return found


@pytest.fixture
def loopback_cluster():
    """A head and two worker nodes (``ray start --block``, one CPU each) on 127.0.0.1, as
    separate process groups; all stopped afterwards, and none of their processes may remain."""
    ray = str(Path(sys.executable).with_name("ray"))
    tmp = tempfile.mkdtemp(prefix="ttfsray", dir="/tmp")  # short: Ray's socket paths
    logs = Path(tempfile.mkdtemp(prefix="ttfsraylogs"))
    # loopback only: the shim makes every node's address 127.0.0.1 (checked below)
    shim = str(Path(__file__).with_name("ray_loopback"))
    path = os.pathsep.join(p for p in (shim, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", LOOPBACK_ENV: "1", "PYTHONPATH": path}
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []

    def start(args: list[str]) -> Path:
        log = logs / f"node{len(procs)}.log"
        with open(log, "w") as f:
            procs.append(subprocess.Popen(
                [ray, "start", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                 "--disable-usage-stats", *args],
                stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        return log

    def wait_started(log: Path, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "a Ray node did not start in 120 s"
            time.sleep(0.5)
        assert "Local node IP: 127.0.0.1" in log.read_text(errors="replace")

    marks = (tmp, f":{port} ", f":{port}\n", f"={addr}", f"127.0.0.1:{port}")
    try:
        # the workers take the head's temp dir (their own --temp-dir would clash with it)
        wait_started(start(["--head", "--port", str(port), "--include-dashboard", "false",
                            "--temp-dir", tmp]), procs[0])
        for _ in range(2):
            wait_started(start(["--address", addr]), procs[-1])
        yield addr, env
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=20)
        for p in procs:  # what a node left in its process group
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        while _ray_processes(marks) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _ray_processes(marks)
        for pid, _ in left:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
        assert left == [], f"Ray processes left running: {left}"


@pytest.mark.train
@pytest.mark.slow
def test_sweep_on_an_existing_cluster_equals_a_local_sweep(sweep, loopback_cluster, tmp_path):
    d, _, _ = sweep
    addr, env = loopback_cluster
    f = tmp_path / "s.toml"
    f.write_text(SWEEP.replace("seed = [0, 1]", "seed = [0]"))
    r = subprocess.run([sys.executable, "-m", "ttfs.flows.cli", "sweep", str(f), "--out",
                        str(tmp_path / "out"), "--address", addr], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"  on Ray cluster at {addr}: 3 nodes, 3 CPUs\n" in r.stderr
    local = [row for row in table(d / "out") if row["seed"] == 0]
    assert table(tmp_path / "out") == local


def test_a_method_scoped_option_axis_applies_to_that_method_only(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[axes]\nmethod = ["baseline", "count"]\n"count.lam" = [0.5, 2.0]\n')
    s = load_sweep(f)
    assert [p.name for p in s.points] == ["baseline", "count_lam-0.5", "count_lam-2.0"]
    assert s.points[0].config.train_options == {}
    assert s.points[2].config.train_options == {"count": {"lam": 2.0}}
    f.write_text('[axes]\nmethod = ["baseline"]\n"count.lam" = [0.5]\n')
    with pytest.raises(ConfigError, match="unknown axis 'count.lam'"):
        load_sweep(f)


def test_a_point_counts_as_finished_only_with_its_own_config(tmp_path):
    from ttfs.flows.sweep import finished

    f = tmp_path / "s.toml"
    f.write_text('to = "cosim"\n[axes]\nseed = [1, 2]\n')
    one, two = load_sweep(f).points
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"config": one.config.to_json(), "steps": {"train": {"status": "done"},
                                                   "cosim": {"status": "done"}}}))
    assert finished(tmp_path, one, "cosim")
    assert not finished(tmp_path, one, "report")
    assert not finished(tmp_path, two, "cosim")  # another config: submitted, and refused


def test_the_example_sweep_files_load():
    root = Path(__file__).resolve().parents[2] / "sweeps"
    files = sorted(root.rglob("*.toml"), key=lambda f: f.relative_to(root).as_posix())
    assert [f.relative_to(root).as_posix() for f in files] == [
        "evidence/digits_count_sop.toml", "evidence/fontanini_fire_once.toml",
        "evidence/fontanini_one.toml", "evidence/fontanini_two.toml",
        "evidence/mnist1d_multispike.toml", "evidence/park_yoon.toml",
        "evidence/park_yoon_project.toml", "evidence/park_yoon_window.toml",
        "evidence/yinyang_multispike.toml", "penalties.toml", "penalties/fire_once.toml",
        "penalties/subtract.toml", "smoke.toml"]
    assert [len(load_sweep(f).points) for f in files] == [45, 3, 18, 45, 39, 24, 3, 6, 33, 21, 14,
                                                          9, 4]


def test_an_unreachable_cluster_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "s.toml").write_text("[axes]\nseed = [1]\n")
    port = _free_port()  # nothing listens there
    assert main(["sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "out"), "--address",
                 f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ttfs sweep: error: cannot reach the Ray cluster at 127.0.0.1:{port} ")
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


SEARCH = 'to = "cosim"\n' + BASE.replace("[base]\n", '[base]\nmethods = ["count"]\n') + """
[search]
trials = 2
objective = {rtl_accuracy = 1.0, energy_pj = -1e-5}
seed = 1

[search.space]
lam = {loguniform = [0.01, 1.0]}
seed = {choice = [0, 1]}
"""


@pytest.mark.train
@pytest.mark.slow
def test_search_draws_trials_with_ray_tune_and_resumes_them(tmp_path):
    (tmp_path / "s.toml").write_text(SEARCH)
    out = tmp_path / "out"
    lines: list[str] = []
    assert run_sweep(tmp_path / "s.toml", out=out, workers=2, echo=lines.append) == 0
    rows = json.loads((out / "results.json").read_text())["points"]
    assert len(rows) == 2 and all(r["status"] == "done" for r in rows)
    for r in rows:
        assert 0.01 <= r["lam"] <= 1.0 and r["seed"] in (0, 1)
        assert r["point"] == f"lam-{r['lam']:.4g}_seed-{r['seed']}"
        assert r["objective"] == pytest.approx(r["rtl_accuracy"] - 1e-5 * r["energy_pj"])
    best = max(rows, key=lambda r: r["objective"])
    assert f"ttfs sweep: best {best['point']}, objective {best['objective']:.6g}" in lines
    mtimes = {r["point"]: (out / "points" / r["point"] / "manifest.json").stat().st_mtime_ns
              for r in rows}
    lines.clear()
    # the same seed draws the same points: found finished, not run again
    assert run_sweep(tmp_path / "s.toml", out=out, workers=2, resume=True,
                     echo=lines.append) == 0
    assert sum(" in 0.0 s, objective " in line for line in lines) == 2
    assert {n: (out / "points" / n / "manifest.json").stat().st_mtime_ns for n in mtimes} == mtimes
    assert table(out) == [{k: v for k, v in r.items() if k not in TABLE_VOLATILE} for r in rows]


@pytest.mark.parametrize("search, message", [
    ("trials = 0\nobjective = 'energy_pj'\n[search.space]\nlam = {uniform = [0, 1]}\n",
     "search trials must be a positive integer, not 0"),
    ("trials = 2\nobjective = 'speed'\n[search.space]\nlam = {uniform = [0, 1]}\n",
     "search objective must be a results column or a table of weights by column"),
    ("trials = 2\nobjective = 'energy_pj'\n[search.space]\nlam = {normal = [0, 1]}\n",
     "search axis 'lam' must be one of {uniform = [low, high]}"),
    ("trials = 2\nobjective = 'energy_pj'\n[search.space]\nfoo = {uniform = [0, 1]}\n",
     "unknown axis 'foo'"),
    ("trials = 2\nobjective = 'energy_pj'\nmode = 'best'\n[search.space]\nlam = {choice = [1]}\n",
     "search mode must be 'max' or 'min', not 'best'"),
])
def test_bad_search_tables_are_one_line_errors(tmp_path, capsys, search, message):
    f = tmp_path / "bad.toml"
    f.write_text("[search]\n" + search)
    assert main(["sweep", str(f), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ttfs sweep: error: ") and message in err and err.count("\n") == 1
    f.write_text("[axes]\nseed = [1]\n[search]\n" + search)
    assert main(["sweep", str(f)]) == 2
    assert "give [axes] (a grid) or [search] (Ray Tune trials), not both" in capsys.readouterr().err


@pytest.mark.slow
def test_a_local_ray_instance_stays_on_the_loopback_address():
    before = os.environ.get(LOOPBACK_ENV)
    with ray_session(None, 1) as ray:
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    assert os.environ.get(LOOPBACK_ENV) == before  # restored for whatever runs next
