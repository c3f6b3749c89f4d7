"""benchmarks/penalties.py on made-up sweep tables: the lambda choice on validation, the stage-2
sweep files it writes, and the report (no training)."""

import json

import pytest
from bench_scripts import load_script

from ttfs.flows.sweep import load_sweep


@pytest.fixture(scope="module")
def pen():
    return load_script("penalties")


def _point(method, seed, val, test, spikes, lam=None, two_phase=None):
    p = {"point": f"{method}_{lam}_{two_phase}_{seed}", "method": method, "seed": seed,
         "status": "done", "validation_accuracy": val, "integer_accuracy": test,
         "hidden_spikes_per_sample": spikes, "spikes_per_sample": spikes + 1.0,
         "sops_per_sample": 600 + spikes, "never_firing_hidden": 0.5,
         "cycles_per_sample": 200 + 5 * spikes, "membrane_accesses_per_sample": 100 + 4 * spikes,
         "energy_pj": 1000 + 50 * spikes, "seconds": 30.0}
    if method != "baseline":
        p[f"{method}.lam"] = lam
    if method == "excess":
        p["excess.two_phase"] = two_phase
    return p


def _write(root, stage, points):
    (root / stage).mkdir(parents=True)
    (root / stage / "results.json").write_text(json.dumps({"points": points}))


def _stage1(root):
    _write(root, "fire_once", [
        _point("baseline", 0, 0.980, 0.985, 30.0),
        # validation within 1 point of 0.980 up to lambda 2 (0.970 is exactly on the edge)
        *[_point("count", 0, v, v, s, lam) for lam, v, s in
          ((0.5, 0.979, 20.0), (1.0, 0.975, 12.0), (2.0, 0.970, 9.0), (5.0, 0.950, 4.0))],
        # no lambda within the band: the smallest is chosen
        *[_point("sop", 0, v, v, s, lam) for lam, v, s in ((0.1, 0.96, 8.0), (1.0, 0.90, 3.0))],
        {**_point("count", 0, 0.99, 0.99, 1.0, 0.3), "status": "failed"},  # ignored
    ])
    _write(root, "subtract", [
        _point("baseline", 0, 0.975, 0.980, 40.0),
        *[_point("excess", 0, v, v, s, lam, tp) for tp in (True, False) for lam, v, s in
          ((0.3, 0.974, 60.0 if tp else 15.0), (1.0, 0.966, 70.0 if tp else 12.0),
           (10.0, 0.93, 60.0 if tp else 6.0))],
    ])


def test_the_lambda_is_chosen_on_validation(pen, tmp_path):
    _stage1(tmp_path)
    runs = pen.load(tmp_path)
    assert pen.swept(runs, "count") == [0.5, 1.0, 2.0, 5.0]  # the failed point is not a point
    assert pen.choose(runs, "count") == 2.0 and pen.lower(runs, "count") == 1.0
    assert pen.choose(runs, "sop") == 0.1 and pen.lower(runs, "sop") is None
    assert pen.choose(runs, "excess-2phase") == 1.0 and pen.choose(runs, "excess-1phase") == 1.0
    assert pen.stage2_lambdas(runs, "excess-1phase") == [1.0, 10.0]  # chosen and highest


def test_stage_two_is_a_sweep_file_of_seeds_1_and_2(pen, tmp_path):
    _stage1(tmp_path)
    pen.write_stage2(tmp_path)
    fire = load_sweep(tmp_path / "seeds_fire_once.toml")
    names = sorted(p.name for p in fire.points)
    assert names == sorted(["baseline_seed-1", "baseline_seed-2", "count_lam-1.0_seed-1",
                            "count_lam-1.0_seed-2", "count_lam-2.0_seed-1",
                            "count_lam-2.0_seed-2", "sop_lam-0.1_seed-1", "sop_lam-0.1_seed-2"])
    sub = load_sweep(tmp_path / "seeds_subtract.toml")
    assert len(sub.points) == 2 + 2 * 2 * 2
    for p in sub.points:  # the baseline resets by subtraction too
        assert p.config.train_options[p.config.methods[0]]["reset"] == "subtract"
        assert p.config.epochs is None and p.config.synth_targets == ()


def test_stage_two_refuses_an_unfinished_stage_one(pen, tmp_path):
    _write(tmp_path, "fire_once", [_point("baseline", 0, 0.98, 0.98, 30.0)])
    with pytest.raises(SystemExit, match="stage 1 of count, sop has not finished"):
        pen.write_stage2(tmp_path)


def test_the_report_pairs_seeds_with_their_baseline(pen, tmp_path, capsys):
    _stage1(tmp_path)
    seeds = [_point("baseline", s, 0.98, 0.98 + s / 1000, 30.0 + s) for s in (1, 2)]
    seeds += [_point("count", s, 0.97, 0.97, 10.0 + s, 2.0) for s in (1, 2)]
    _write(tmp_path, "seeds_fire_once", seeds)
    md = tmp_path / "t.md"
    pen.report(tmp_path, md, tmp_path / "fig")
    text = md.read_text()
    assert "| count | baseline | 2 (chosen) | 97.0% | 97.0% | 9.0 | -70% |" in text
    # count at lambda 2 over seeds 0-2: hidden spikes 9, 11, 12 against 30, 31, 32
    cut = [100 * (c / b - 1) for c, b in ((9, 30), (11, 31), (12, 32))]
    mean = sum(cut) / 3
    assert "| count | baseline | 2 | 97.0 ± 0.0% | " in text and f"{mean:+.0f} ± " in text
    assert (tmp_path / "fig" / "train_pareto.png").stat().st_size > 0
    assert (tmp_path / "fig" / "train_silent.png").stat().st_size > 0
    comparison = text.split("#### Comparison")[1].split("####")[0]
    assert [ln.split(" | ")[-1] for ln in comparison.splitlines() if ln.startswith("| sop")] \
        == ["1 |"]  # the seeds that ran: stage 2 of sop has not
