"""The case families of ``sim.random``: each one produces the property it is there for.

Every property is measured by :func:`probe`, a transcription of ``docs/semantics.md`` that also
records what happens inside a step (the potential after each event, clipped adds, the
threshold at each sweep). ``test_probe_is_the_specification`` holds its spikes equal to
``sim.reference.run_sample``, so the other tests measure the semantics, not a copy of it.
"""

import dataclasses
import hashlib
from collections import Counter

import numpy as np
import pytest

from ttfs.sim.ir import RESET_MODES
from ttfs.sim.numeric import leak, smax, smin
from ttfs.sim.random import DEFAULT_MIX, FAMILIES, pick_family, random_case
from ttfs.sim.reference import run_sample
from ttfs.verify.differential import COSIM_CORES

P8 = COSIM_CORES["p8"]  # no leak, no subtract


def probe(qnet, events) -> dict:
    """One sample by the rules, with counts of what the families aim at.

    ``at_theta``: (sweep, neuron) pairs with ``V == Theta[t]`` for a neuron that may fire;
    ``at_theta_quiet``: the same at a step where the layer had no input event; ``max_fell``:
    (step, layer) pairs where a neuron that may fire reached the threshold after some event of
    the step but none is at or above it at the sweep; ``sat_hi`` / ``sat_lo``: integrate adds
    clipped at the top / bottom; ``sat_at_theta``: ``V == Theta[t] == smax`` at a sweep;
    ``quiet_run3``: subtract-reset neurons that fired at 3 consecutive steps without input
    events to their layer; ``once_above``: fire_once neurons, already fired, at or above the
    threshold at a sweep. ``trace``, ``steps``: as ``run_sample``; ``fired`` / ``pushed_up``:
    per layer, which neurons ever fired / ever received a positive contribution.
    """
    pb = qnet.potential_bits
    hi, lo = smax(pb), smin(pb)
    L = len(qnet.layers)
    V = [np.zeros(layer.n_out, dtype=np.int64) for layer in qnet.layers]
    done = [np.zeros(layer.n_out, dtype=bool) for layer in qnet.layers]
    fired = [np.zeros(layer.n_out, dtype=bool) for layer in qnet.layers]
    pushed_up = [np.zeros(layer.n_out, dtype=bool) for layer in qnet.layers]
    run = [np.zeros(layer.n_out, dtype=np.int64) for layer in qnet.layers]
    p = dict.fromkeys(("at_theta", "at_theta_quiet", "max_fell", "sat_hi", "sat_lo",
                       "sat_at_theta", "quiet_run3", "once_above"), 0)
    p["steps"] = qnet.time_steps
    by_t: dict[int, list[int]] = {}
    for t, i in events.tolist():
        by_t.setdefault(t, []).append(i)
    trace = []
    for t in range(qnet.time_steps):
        queue = by_t.get(t, [])
        for li, layer in enumerate(qnet.layers):
            th, k, v = int(layer.threshold[t]), int(layer.kernel[t]), V[li]
            may = ~done[li] if layer.reset == "fire_once" else np.ones(layer.n_out, dtype=bool)
            reached = False
            for j in queue:
                x = layer.weights[j].astype(np.int64) * k
                pushed_up[li] |= x > 0
                s = v + x
                p["sat_hi"] += int((s > hi).sum())
                p["sat_lo"] += int((s < lo).sum())
                v[:] = np.clip(s, lo, hi)
                reached |= bool(((v >= th) & may).any())
            emitted = []
            if not (li == L - 1 and qnet.readout == "max_potential"):
                at = (v == th) & may
                p["at_theta"] += int(at.sum())
                p["at_theta_quiet"] += 0 if queue else int(at.sum())
                p["sat_at_theta"] += int((at & (v == hi)).sum())
                fire = (v >= th) & may
                p["max_fell"] += int(reached and not fire.any())
                if layer.reset == "fire_once":
                    p["once_above"] += int((done[li] & (v >= th)).sum())
                    done[li] |= fire
                elif layer.reset == "zero":
                    v[fire] = 0
                else:
                    v[fire] -= th
                    run[li] = np.where(fire & (not queue), run[li] + 1, 0)
                    p["quiet_run3"] += int((run[li] == 3).sum())
                fired[li] |= fire
                v[may] = leak(v[may], layer.leak_shift)  # fired fire_once neurons: no leak
                emitted = np.flatnonzero(fire).tolist()
            trace += [(li + 1, t, i) for i in emitted]
            queue = emitted
        if qnet.early_exit and any(lay == L and tt == t for lay, tt, _ in trace):
            p["steps"] = t + 1
            break
    p["trace"] = np.array(trace, dtype=np.int64).reshape(-1, 3)
    p["fired"], p["pushed_up"] = fired, pushed_up
    return p


def case_probes(case) -> list[dict]:
    return [probe(case.qnet, s) for s in case.events.samples]


def rate(family, key, n=40, core=None, lanes=None) -> float:
    """The share of ``n`` cases of ``family`` in which some sample has ``key > 0``."""
    hits = 0
    for seed in range(n):
        case = random_case(seed, n_samples=4, family=family, core=core, lanes=lanes)
        hits += any(p[key] > 0 for p in case_probes(case))
    return hits / n


def digest(cases) -> str:
    h = hashlib.sha256()
    for c in cases:
        q = c.qnet
        h.update(repr((q.n_inputs, q.time_steps, q.weight_bits, q.potential_bits, q.readout,
                       q.early_exit, c.core.lanes)).encode())
        for layer in q.layers:
            h.update(repr((layer.reset, layer.leak_shift)).encode())
            for a in (layer.weights, layer.threshold, layer.kernel):
                h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        for s in c.events.samples:
            h.update(np.ascontiguousarray(s, dtype=np.int64).tobytes() + b"|")
    return h.hexdigest()[:16]


# -- the generator's contract --------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_probe_is_the_specification(family):
    for seed in range(6):
        case = random_case(seed, n_samples=4, family=family)
        for s in case.events.samples:
            spec, p = run_sample(case.qnet, s), probe(case.qnet, s)
            assert np.array_equal(spec.trace, p["trace"]), (family, seed)
            assert spec.steps == p["steps"], (family, seed)
            assert spec.counters.saturations == p["sat_hi"] + p["sat_lo"], (family, seed)


def test_classic_family_is_the_pre_family_generator():
    # digests of the cases the generator drew before the families existed (commit cde30a4)
    assert digest([random_case(s, n_samples=3, family="classic")
                   for s in range(25)]) == "23d7b20a8173c12e"
    # (P8 before it lost its spiking output layer: the draws are the same)
    with_out = dataclasses.replace(P8, spiking_output=True)
    assert digest([random_case(s, n_samples=3, core=with_out, family="classic")
                   for s in range(25)]) == "eaa0b1d5c7f5260d"


def test_a_core_without_a_spiking_output_layer_gets_the_same_networks_read_by_potential():
    with_out = dataclasses.replace(P8, spiking_output=True)
    for s in range(25):
        a = random_case(s, n_samples=3, core=with_out, family="classic")
        b = random_case(s, n_samples=3, core=P8, family="classic")
        assert b.qnet.readout == "max_potential" and not b.qnet.early_exit
        assert P8.fits(b.qnet)
        assert [x.weights.tolist() for x in a.qnet.layers] == [
            x.weights.tolist() for x in b.qnet.layers]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_is_seeded_and_fits_the_cosim_cores(family):
    assert digest([random_case(s, n_samples=3, family=family) for s in range(5)]) == digest(
        [random_case(s, n_samples=3, family=family) for s in range(5)])
    assert digest([random_case(1, family=family)]) != digest([random_case(2, family=family)])
    for core in COSIM_CORES.values():
        if "leak" in FAMILIES[family].needs and not core.leak:
            continue
        for seed in range(8):
            case = random_case(seed, n_samples=2, core=core, family=family)
            assert case.family == family and case.core is core and core.fits(case.qnet)
            case.events.check(case.qnet.time_steps, case.qnet.n_inputs)


def test_default_mix_holds_every_family_in_its_proportions():
    assert set(DEFAULT_MIX) == set(FAMILIES)
    assert sum(DEFAULT_MIX.values()) == pytest.approx(1.0)
    n = 20000
    seen = Counter(pick_family(s) for s in range(n))
    for name, share in DEFAULT_MIX.items():
        assert abs(seen[name] / n - share) < 0.015, (name, seen[name] / n, share)
    # random_case without a family draws it so, with or without a core
    for s in range(30):
        assert random_case(s, n_samples=1).family == pick_family(s)
        assert random_case(s, n_samples=1, core=COSIM_CORES["p3"]).family == pick_family(s)


def test_mix_leaves_out_what_the_core_cannot_run():
    assert "leaky" not in {pick_family(s, leak=False) for s in range(2000)}
    families = Counter(random_case(s, n_samples=1, core=P8).family for s in range(300))
    assert "leaky" not in families and len(families) == len(FAMILIES) - 1
    assert Counter(pick_family(s, {"tables": 1.0, "classic": 0.0})
                   for s in range(50)) == {"tables": 50}
    with pytest.raises(ValueError, match="unknown case family"):
        random_case(1, family="hot")
    with pytest.raises(ValueError, match="no family"):
        pick_family(1, {"leaky": 1.0}, leak=False)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_draws_every_mode(family):
    resets, readouts, exits, leaks = set(), set(), 0, 0
    for seed in range(60):
        q = random_case(seed, n_samples=1, family=family).qnet
        resets |= {layer.reset for layer in q.layers}
        readouts.add(q.readout)
        exits += q.early_exit
        leaks += any(layer.leak_shift for layer in q.layers)
    assert resets == set(RESET_MODES) and readouts == {"first_spike", "max_potential"}
    assert exits >= 5 and leaks >= 3


def test_early_exit_ends_samples_early_in_the_default_mix():
    early = 0
    for seed in range(80):
        case = random_case(seed, n_samples=4)
        early += any(p["steps"] < case.qnet.time_steps for p in case_probes(case))
    assert early >= 8


# -- each family's property ----------------------------------------------------------------


def test_at_threshold_lands_potentials_on_the_threshold():
    assert rate("at_threshold", "at_theta") >= 0.7
    # a stored potential meets a falling threshold at a step without input events
    assert rate("at_threshold", "at_theta_quiet") >= 0.4
    assert rate("at_threshold", "at_theta_quiet", n=25, core=COSIM_CORES["p1"]) >= 0.4


def test_push_back_lowers_the_maximum_below_the_threshold_within_a_step():
    assert rate("push_back", "max_fell") >= 0.5
    assert rate("push_back", "max_fell", n=25, core=P8) >= 0.4


def _shape(th: np.ndarray, top: int) -> str:
    d = np.diff(th)
    if not d.any():
        return "constant"
    if th[0] == top and th[-1] < top:
        k = int(np.argmax(th < top))
        if (np.diff(th[k:]) <= 0).all():
            return "prefix"
    falls = np.flatnonzero(d < 0)
    if len(falls) and (d[falls[0]:] > 0).any():
        return "falls then rises"
    return "other"


def test_tables_family_draws_constant_prefix_and_non_monotone_tables():
    shapes = Counter()
    for seed in range(80):
        q = random_case(seed, n_samples=1, family="tables").qnet
        shapes.update(_shape(layer.threshold, smax(q.potential_bits)) for layer in q.layers)
    total = sum(shapes.values())
    for shape in ("constant", "prefix", "falls then rises"):
        assert shapes[shape] >= 0.15 * total, shapes
    assert rate("tables", "at_theta_quiet") >= 0.25


def test_tables_prefix_layers_fire_after_the_prefix_without_input():
    hits = layers = 0
    for seed in range(60):
        case = random_case(seed, n_samples=4, family="tables")
        q = case.qnet
        top = smax(q.potential_bits)
        for li, layer in enumerate(q.layers):
            if _shape(layer.threshold, top) != "prefix":
                continue
            layers += 1
            k = int(np.argmax(layer.threshold < top))
            for s in case.events.samples:
                tr = probe(q, s)["trace"]
                quiet = set(s[:, 0].tolist()) if li == 0 else set(tr[tr[:, 0] == li, 1].tolist())
                if any(t >= k and t not in quiet for t in tr[tr[:, 0] == li + 1, 1].tolist()):
                    hits += 1
                    break
    assert layers >= 20 and hits >= 0.2 * layers, (hits, layers)


def test_saturate_clips_at_both_ends_and_fires_at_the_top():
    for core, least in ((None, 0.8), (COSIM_CORES["p1"], 0.8), (COSIM_CORES["p3"], 0.6),
                        (P8, 0.3)):
        hits = at_top = 0
        for seed in range(25):
            case = random_case(seed, n_samples=4, family="saturate", core=core)
            ps = case_probes(case)
            hits += sum(p["sat_hi"] for p in ps) > 0 and sum(p["sat_lo"] for p in ps) > 0
            at_top += any(p["sat_at_theta"] for p in ps)
        assert hits >= least * 25, (core, hits)
        assert at_top >= 0.15 * 25, (core, at_top)


@pytest.mark.parametrize("lanes", [1, 3, 4, 8])
def test_chunks_family_sizes_layers_around_the_lanes_and_leaves_chunks_dead(lanes):
    sizes, multi, dead_beside_live = Counter(), 0, 0
    for seed in range(30):
        case = random_case(seed, n_samples=4, family="chunks", lanes=lanes)
        assert case.core.lanes == lanes
        ps = case_probes(case)
        for li, layer in enumerate(case.qnet.layers):
            n = layer.n_out
            sizes["1" if n == 1 else "P" if n == lanes else
                  "multiple" if n % lanes == 0 else "other"] += 1
            n_chunks = -(-n // lanes)
            if n_chunks < 2:
                continue
            multi += 1
            fired = np.any([p["fired"][li] for p in ps], axis=0)
            up = np.any([p["pushed_up"][li] for p in ps], axis=0)
            chunk = [slice(c * lanes, (c + 1) * lanes) for c in range(n_chunks)]
            dead = [not fired[c].any() and not up[c].any() for c in chunk]
            live = [fired[c].any() for c in chunk]
            dead_beside_live += any(dead) and any(live)
    assert sizes["1"] >= 3
    if lanes > 1:
        assert sizes["P"] >= 3 and sizes["other"] >= 10, sizes
    assert multi >= 15 and dead_beside_live >= 0.3 * multi, (multi, dead_beside_live)


def test_far_above_keeps_firing_without_input():
    assert rate("far_above", "quiet_run3") >= 0.4
    # a core without the subtract reset: fired fire_once neurons stay above the threshold
    cases = [random_case(s, n_samples=4, family="far_above", core=P8) for s in range(25)]
    assert all(layer.reset != "subtract" for c in cases for layer in c.qnet.layers)
    assert sum(any(p["once_above"] for p in case_probes(c)) for c in cases) >= 0.4 * 25


def test_leaky_family_leaks_in_every_layer_and_spikes():
    spiking = 0
    for seed in range(30):
        case = random_case(seed, n_samples=4, family="leaky")
        assert all(layer.leak_shift > 0 for layer in case.qnet.layers)
        spiking += any(len(p["trace"]) for p in case_probes(case))
    assert spiking >= 0.5 * 30


def reach_decisions(qnet, events, weight_bits: int) -> Counter:
    """What the reach test (docs/microarchitecture.md) decides after each input step of a
    sample, transcribed from the doc: ``R`` grows by ``2**(weight_bits-1) * K_1[t]`` per event
    (saturating at ``2**(PB-1)``); ``rises``: the first layer's table rises after ``t``;
    ``below`` / ``equal`` / ``above``: ``R`` against the lowest threshold up to the next
    event's step."""
    layer, T = qnet.layers[0], qnet.time_steps
    th, kern = layer.threshold, layer.kernel
    up = np.flatnonzero(np.diff(th) > 0)
    rise = int(up[-1]) + 1 if up.size else 0
    cap, r, out = 1 << (qnet.potential_bits - 1), 0, Counter()
    steps = sorted(set(events[:, 0].tolist()))
    for i, t in enumerate(steps):
        r = min(r + int((events[:, 0] == t).sum()) * (int(kern[t]) << (weight_bits - 1)), cap)
        g = int(th[steps[i + 1] - 1 if i + 1 < len(steps) else T - 1])
        out["rises" if rise > t else "below" if r < g else "equal" if r == g else "above"] += 1
    return out


@pytest.mark.parametrize("core", [None, COSIM_CORES["p3"], COSIM_CORES["p4"]])
def test_reach_family_puts_the_reach_bound_below_on_and_above_the_thresholds(core):
    seen = Counter()
    for seed in range(60):
        case = random_case(seed, n_samples=4, family="reach", core=core)
        assert case.qnet.weight_bits == min(case.qnet.potential_bits, case.core.weight_bits)
        found = Counter()
        for s in case.events.samples:
            found += reach_decisions(case.qnet, s, case.core.weight_bits)
        seen.update(found.keys())
    assert seen["below"] >= 0.3 * 60 and seen["above"] >= 0.3 * 60, seen
    assert seen["equal"] >= 3 and seen["rises"] >= 3, seen
