"""train.penalties and train.methods: the penalty formulas, their schedules, and the method
registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ttfs.sim.errors import ConfigError
from ttfs.train.method import Method
from ttfs.train.methods import get_method, method_names, register
from ttfs.train.penalties import PENALTY_DEFAULTS, make_penalty

pytestmark = pytest.mark.train

COUNTS = [torch.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 1.0]]), torch.tensor([[1.0, 4.0], [0.0, 2.0]])]
FAN_OUTS = [2, 3]


def test_baseline_is_zero():
    assert float(make_penalty("baseline", {})(COUNTS, FAN_OUTS, 3, 10)) == 0.0


def test_excess_two_phase_schedule_and_formula():
    p = make_penalty("excess", {"lam": 2.0, "phase1": 0.3, "mu": 1.0, "r_min": 0.75})
    assert p.phase1_epochs(10) == 3
    assert [p.weight(e, 10) for e in range(5)] == [0.0, 0.0, 0.0, 2.0, 2.0]
    # per-neuron batch means: 1, 0.5, 2, 0.5, 3 -> silence term mean(max(0, 0.75 - m)) = 0.1
    silence = (0.25 + 0.25) / 5
    assert float(p(COUNTS, FAN_OUTS, 0, 10)) == pytest.approx(silence)
    # excess: max(0, N - 1) over both layers: (0+0+2+1+0+0 + 0+3+0+1) / 10 = 0.7
    assert float(p(COUNTS, FAN_OUTS, 5, 10)) == pytest.approx(2.0 * 0.7 + silence)


def test_excess_single_phase_has_no_silence_term():
    p = make_penalty("excess", {"lam": 2.0, "two_phase": False, "r_min": 0.75})
    assert p.weight(0, 10) == 2.0
    assert float(p(COUNTS, FAN_OUTS, 0, 10)) == pytest.approx(1.4)


def test_count_weight_anneals_upward():
    p = make_penalty("count", {"lam": 0.9})
    w = [p.weight(e, 10) for e in range(10)]
    assert w[0] == 0.0 and w[-1] == pytest.approx(0.9)
    assert all(b > a for a, b in zip(w, w[1:], strict=False))
    # mean spikes per hidden neuron and sample: (7 + 7) / (2 samples * 5 neurons)
    assert float(p(COUNTS, FAN_OUTS, 9, 10)) == pytest.approx(0.9 * 1.4)


def test_sop_penalty_weights_spikes_by_fan_out():
    p = make_penalty("sop", {"lam": 1.0})
    # sample 0: 2*4 + 3*5 = 23; sample 1: 2*3 + 3*2 = 12; most = 2*3 + 3*2 = 12
    assert float(p(COUNTS, FAN_OUTS, 0, 10)) == pytest.approx((23 / 12 + 12 / 12) / 2)


def test_penalties_are_differentiable():
    for name in ("excess", "count", "sop"):
        c = [x.clone().requires_grad_(True) for x in COUNTS]
        make_penalty(name, {"lam": 1.0})(c, FAN_OUTS, 9, 10).backward()
        assert any(float(x.grad.abs().sum()) > 0 for x in c), name


def test_registry_lists_builtin_methods_and_accepts_plugins():
    names = method_names()
    assert {"baseline", "excess", "count", "sop"} <= set(names)

    def train(req):
        return Path(req.out) / "model.pt"

    register(Method("dummy-test", "a test method", train, lambda ck, **kw: None, {"a": 1}))
    m = get_method("dummy-test")
    assert m.defaults == {"a": 1} and m.summary == "a test method"
    with pytest.raises(ConfigError) as exc:
        get_method("nope")
    assert str(exc.value).startswith("method must be one of ")
    assert str(exc.value).endswith(", not 'nope'")
    with pytest.raises(ConfigError, match="penalty must be one of"):
        make_penalty("kernel", {})


def test_registry_lists_methods_without_loading_them():
    code = ("import sys; from ttfs.train.methods import METHODS, method_names; "
            "print(method_names(), list(METHODS), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "['baseline', 'convert', 'count', 'excess', 'kernel', 'sop'] "
        "['baseline', 'excess', 'count', 'sop', 'kernel', 'convert'] False")


def test_builtin_methods_train_export_and_predict_and_share_penalty_defaults():
    for name in ("baseline", "excess", "count", "sop", "kernel", "convert"):
        m = get_method(name)
        assert m.name == name and callable(m.train) and callable(m.quantize)
        assert callable(m.predict), name
    for name in ("baseline", "excess", "count", "sop"):
        d = get_method(name).defaults
        assert {k: d[k] for k in PENALTY_DEFAULTS if k != "lam"} == {
            k: v for k, v in PENALTY_DEFAULTS.items() if k != "lam"}
    assert get_method("baseline").defaults["lam"] == PENALTY_DEFAULTS["lam"]
    assert make_penalty("excess", {}) == make_penalty("excess", PENALTY_DEFAULTS)


def test_excess_silence_term_placement():
    # the same counts as above: silence term 0.1, excess 0.7; phase 1 is epochs 0-2 of 10
    silence = (0.25 + 0.25) / 5
    opts = {"lam": 2.0, "phase1": 0.3, "mu": 1.0, "r_min": 0.75}
    both, phase1, none = (make_penalty("excess", {**opts, "silence": s})
                          for s in ("both", "phase1", "none"))
    assert both == make_penalty("excess", opts)  # the default
    for e in (0, 2):  # phase 1: no penalty; the silence term unless "none"
        assert float(phase1(COUNTS, FAN_OUTS, e, 10)) == pytest.approx(silence)
        assert float(none(COUNTS, FAN_OUTS, e, 10)) == 0.0
    for e in (3, 9):  # phase 2: the penalty; the silence term only with "both"
        assert float(both(COUNTS, FAN_OUTS, e, 10)) == pytest.approx(1.4 + silence)
        assert float(phase1(COUNTS, FAN_OUTS, e, 10)) == pytest.approx(1.4)
        assert float(none(COUNTS, FAN_OUTS, e, 10)) == pytest.approx(1.4)


def test_count_constant_schedule():
    p = make_penalty("count", {"lam": 0.9, "schedule": "constant"})
    assert [p.weight(e, 10) for e in (0, 5, 9)] == [0.9, 0.9, 0.9]
    assert float(p(COUNTS, FAN_OUTS, 0, 10)) == pytest.approx(0.9 * 1.4)


def test_bad_silence_and_schedule_are_refused():
    with pytest.raises(ConfigError, match=r"^silence must be one of .*, not 'sometimes'$"):
        make_penalty("excess", {"silence": "sometimes"})
    with pytest.raises(ConfigError, match=r"^schedule must be one of .*, not 'cosine'$"):
        make_penalty("count", {"schedule": "cosine"})
    with pytest.raises(ConfigError, match="but two_phase is false"):
        make_penalty("excess", {"two_phase": False, "silence": "phase1"})
