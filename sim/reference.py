"""The reference model: the integer semantics of ``docs/semantics.md``, executable. Every other
stage must equal it exactly.

Semantics (integers throughout; ``sat`` clamps to the ``potential_bits`` signed range)::

    for t in 0 .. T-1:
        events = input events at step t, in (t, input) order
        for l in 1 .. L:
            # 1. integrate, in queue order
            for j in events:
                for i in 0 .. n_l-1:   V_l[i] <- sat(V_l[i] + W_l[j, i] * K_l[t])
            # 2. fire and leak (skipped entirely for a max_potential output layer)
            for i in 0 .. n_l-1, skipping neurons that already fired when reset == fire_once:
                if V_l[i] >= Theta_l[t]:
                    emit spike (l, t, i)
                    fire_once: mark i fired;  zero: V <- 0;  subtract: V <- V - Theta_l[t]
                if s_l > 0:  V_l[i] <- V_l[i] - (V_l[i] >> s_l)
            events = spikes of layer l at step t, ascending neuron index
        if early_exit and the last layer spiked at t: stop after step t

    first_spike readout: the earliest output spike, ties -> lowest index; no output spike ->
                         argmax of the final V (ties -> lowest index)
    max_potential:       argmax of the final V of the (non-spiking) output layer

Two implementations live here. :func:`run_sample` is the literal, one-sample transcription of the
rules above: it is the specification. :func:`run` is the batched model the flow uses: it steps
all samples at once with matrix products, which is exact whenever no partial sum of a step's
events can leave the potential range (checked per sample and step from the positive and negative
parts of the contributions); any sample and step where saturation is possible falls back to the
event-by-event loop. A property test holds the two equal.

Counters (per sample, semantic; hardware counters and cycles come from :mod:`sim.costmodel`):
``input_events`` (events integrated, i.e. with ``t`` no later than the last step run),
``spikes_per_layer``, ``sops`` (one weight applied to one neuron: each event into layer ``l``
adds ``n_l``) and ``saturations`` (integrate adds whose exact sum left the range).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, QNet
from ttfs.sim.numeric import leak, sat, smax, smin

__all__ = ["Activity", "Counters", "SampleResult", "run", "run_sample", "TRACE_FIELDS"]

TRACE_FIELDS = ("layer", "t", "neuron")


@dataclass(frozen=True, eq=False)
class Activity:
    """What happened in one sample, per step and layer: the input of the cycle-cost rule.

    ``events_in[t, l-1]`` counts the events integrated by layer ``l`` at step ``t`` and
    ``spikes[t, l-1]`` the spikes layer ``l`` emitted; both cover steps ``0 .. steps-1``.
    ``spike_rows`` says which neurons fired (the cost model needs which chunks fire): an
    ``int64`` array of shape ``(n, 3)``, a row ``[t, l-1, neuron]`` for every spike of steps
    ``0 .. steps-1``, sorted by ``(t, l, neuron)`` (the order the spikes are emitted in);
    ``spikes[t, l-1]`` of its rows begin ``[t, l-1]``. It is read-only and may share memory
    with other samples' rows.
    """

    events_in: np.ndarray
    spikes: np.ndarray
    steps: int
    spike_rows: np.ndarray


@dataclass(eq=False)
class Counters:
    """Per-sample counters, identical in every model and in the RTL.

    The four semantic counters are always set. The hardware counters (``weight_reads``,
    ``membrane_reads``, ``membrane_writes``, ``sweeps``) depend on the core's lanes and are set
    by :mod:`sim.costmodel` when a core configuration is given, else left ``None``.
    """

    input_events: int
    spikes_per_layer: tuple
    sops: int
    saturations: int
    weight_reads: int | None = None
    membrane_reads: int | None = None
    membrane_writes: int | None = None
    sweeps: int | None = None

    def to_json(self) -> dict:
        return {
            "input_events": self.input_events,
            "spikes_per_layer": list(self.spikes_per_layer),
            "sops": self.sops,
            "saturations": self.saturations,
            "weight_reads": self.weight_reads,
            "membrane_reads": self.membrane_reads,
            "membrane_writes": self.membrane_writes,
            "sweeps": self.sweeps,
        }

    def as_tuple(self) -> tuple:
        return tuple(self.to_json()[k] if k != "spikes_per_layer" else tuple(self.spikes_per_layer)
                     for k in self.to_json())

    def __eq__(self, other) -> bool:
        return isinstance(other, Counters) and self.as_tuple() == other.as_tuple()


@dataclass(eq=False)
class SampleResult:
    """The outcome of one sample.

    ``trace`` (only when asked for) is an ``int64`` array of shape ``(k, 3)`` with rows
    ``[layer, t, neuron]`` (layer 1-based) in emission order: by step, then layer, then neuron.
    ``cycles`` is set when a cost model ran (a core configuration was given).
    """

    prediction: int
    valid: bool
    counters: Counters
    steps: int
    cycles: int | None = None
    trace: np.ndarray | None = None
    activity: Activity | None = field(default=None, repr=False)
    status: int = 0

    def to_json(self, with_trace: bool = False) -> dict:
        obj = {
            "prediction": self.prediction,
            "valid": self.valid,
            "cycles": self.cycles,
            "steps": self.steps,
            "counters": self.counters.to_json(),
        }
        if with_trace:
            obj["trace"] = [] if self.trace is None else self.trace.tolist()
        return obj


#: Signature of the cost hook: ``(qnet, activity) -> (hardware counter dict, cycles)``.
CostHook = Callable[[QNet, Activity], tuple[dict, int]]


# -- the specification: one sample, event by event -------------------------------------------


def run_sample(qnet: QNet, events: np.ndarray, trace: bool = True) -> SampleResult:
    """Run one sample exactly as the rules read (slow; the specification :func:`run` must equal).

    ``events`` must be valid for ``qnet`` (see :func:`sim.ir.check_events`).
    """
    pb = qnet.potential_bits
    L = len(qnet.layers)
    V = [[0] * layer.n_out for layer in qnet.layers]
    fired = [[False] * layer.n_out for layer in qnet.layers]
    by_t: dict[int, list[int]] = {}
    for t, i in events.tolist():
        by_t.setdefault(t, []).append(i)
    spikes_out: list[tuple[int, int, int]] = []
    sops = sats = n_in_events = 0
    spk_count = [0] * L
    act_in = np.zeros((qnet.time_steps, L), dtype=np.int64)
    act_spk = np.zeros((qnet.time_steps, L), dtype=np.int64)
    first = None
    steps = qnet.time_steps
    for t in range(qnet.time_steps):
        queue = by_t.get(t, [])
        n_in_events += len(queue)
        for li, layer in enumerate(qnet.layers):
            w = layer.weights
            k = int(layer.kernel[t])
            th = int(layer.threshold[t])
            v = V[li]
            act_in[t, li] = len(queue)
            for j in queue:
                for i in range(layer.n_out):
                    s = v[i] + int(w[j, i]) * k
                    r = sat(s, pb)
                    sats += r != s
                    v[i] = r
                sops += layer.n_out
            emitted = []
            if not (li == L - 1 and qnet.readout == "max_potential"):
                for i in range(layer.n_out):
                    if layer.reset == "fire_once" and fired[li][i]:
                        continue
                    if v[i] >= th:
                        emitted.append(i)
                        if layer.reset == "fire_once":
                            fired[li][i] = True
                        elif layer.reset == "zero":
                            v[i] = 0
                        else:
                            v[i] = v[i] - th
                    v[i] = leak(v[i], layer.leak_shift)
            for i in emitted:
                spikes_out.append((li + 1, t, i))
            spk_count[li] += len(emitted)
            act_spk[t, li] = len(emitted)
            queue = emitted
        if first is None and qnet.readout == "first_spike" and act_spk[t, L - 1]:
            first = next(i for (lay, tt, i) in spikes_out if lay == L and tt == t)
        if qnet.early_exit and act_spk[t, L - 1]:
            steps = t + 1
            break
    if first is not None:
        pred = first
    else:
        vl = V[L - 1]
        pred = int(np.argmax(vl))
    emitted_rows = np.array(spikes_out, dtype=np.int64).reshape(-1, 3)  # [layer, t, neuron]
    spike_rows = np.stack([emitted_rows[:, 1], emitted_rows[:, 0] - 1, emitted_rows[:, 2]],
                          axis=1)
    spike_rows.setflags(write=False)
    return SampleResult(
        prediction=int(pred),
        valid=True,
        counters=Counters(n_in_events, tuple(spk_count), sops, sats),
        steps=steps,
        trace=emitted_rows if trace else None,
        activity=Activity(act_in[:steps], act_spk[:steps], steps, spike_rows),
    )


# -- the batched model ------------------------------------------------------------------------


class _StepInputs:
    """All samples' input events grouped by step: ``at(t)`` is the ``(N, n_in)`` 0/1 matrix of
    step ``t`` (built on demand, so memory does not grow with ``T x N x n_in``) and
    ``counts[t, n]`` the number of events of sample ``n`` at ``t``."""

    def __init__(self, events: EventSet, T: int, n_in: int):
        N = len(events)
        self.N, self.n_in = N, n_in
        lens = [len(s) for s in events.samples]
        if sum(lens):
            cat = np.concatenate([s for s in events.samples if len(s)])
            who = np.repeat(np.arange(N), lens)
            order = np.argsort(cat[:, 0], kind="stable")
            self.t, self.who, self.i = cat[order, 0], who[order], cat[order, 1]
        else:
            self.t = self.who = self.i = np.zeros(0, dtype=np.int64)
        self.bounds = np.searchsorted(self.t, np.arange(T + 1))
        self.counts = np.bincount(self.t * N + self.who, minlength=T * N).reshape(T, N)

    def at(self, t: int) -> np.ndarray:
        x = np.zeros((self.N, self.n_in), dtype=bool)
        a, b = self.bounds[t], self.bounds[t + 1]
        x[self.who[a:b], self.i[a:b]] = True
        return x


#: Integrate paths (all exact; chosen for speed): a step whose ``busy x sources x neurons``
#: product is at most ``SMALL_WORK`` uses an int64 matrix product; a larger one gathers the
#: weight rows of its events when they fill at most ``SPARSE_DENSITY`` of the ``busy x sources``
#: matrix, else uses a float64 (BLAS) matrix product.
SMALL_WORK = 1 << 22
SPARSE_DENSITY = 1 / 32


def _event_sums(xb: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """For each ``(int64 matrix, float64 copy)`` in ``pairs``, the per-row sums of the matrix
    rows selected by the 0/1 matrix ``xb`` (``(busy, n_src)``, at least one event a row).

    Every path is exact: int64 sums, or float64 sums of integers whose partial sums all have
    magnitude below ``2**47`` (``|W * K| < 2**31``, at most ``2**16`` sources), and float64
    holds every integer below ``2**53``.
    """
    n_out = pairs[0][0].shape[1]
    if xb.size * n_out <= SMALL_WORK:
        xi = xb.astype(np.int64)
        return [xi @ m for m, _ in pairs]
    nnz = int(np.count_nonzero(xb))
    if nnz <= SPARSE_DENSITY * xb.size:
        rows, src = np.nonzero(xb)
        starts = np.searchsorted(rows, np.arange(xb.shape[0]))
        return [np.add.reduceat(m[src], starts, axis=0) for m, _ in pairs]
    xf = xb.astype(np.float64)
    return [(xf @ f).astype(np.int64) for _, f in pairs]


def run(
    qnet: QNet,
    events: EventSet,
    trace: bool = False,
    cost: CostHook | None = None,
    check: bool = True,
    block: int = 4096,
) -> list[SampleResult]:
    """Run every sample of ``events`` through ``qnet``; returns one :class:`SampleResult` each.

    ``cost`` (usually from :func:`sim.costmodel.cost_hook`) fills in the hardware counters and
    cycles. With ``check`` (the default) the events are validated first and a bad sample raises
    :class:`ConfigError` naming it. Samples are processed ``block`` at a time to bound memory.
    """
    if not isinstance(qnet, QNet):
        raise TypeError(f"qnet must be a QNet, not {type(qnet).__name__}")
    if not isinstance(events, EventSet):
        raise TypeError(f"events must be an EventSet, not {type(events).__name__}")
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
        raise TypeError(f"block must be an integer, not {block!r}")
    if block < 1:
        raise ConfigError(f"block must be >= 1, not {int(block)}")
    if check and not _events_ok(events, qnet.time_steps, qnet.n_inputs):
        events.check(qnet.time_steps, qnet.n_inputs)  # raises, naming the first bad sample
    if len(events) <= block:
        return _run_block(qnet, events, trace, cost)
    out: list[SampleResult] = []
    for start in range(0, len(events), block):
        sub = events.subset(range(start, min(start + block, len(events))))
        out.extend(_run_block(qnet, sub, trace, cost))
    return out


def _events_ok(events: EventSet, time_steps: int, n_inputs: int) -> bool:
    """Whether every sample is valid (one vectorised pass; :meth:`EventSet.check` names the
    first problem when not)."""
    lens = np.fromiter((len(s) for s in events.samples), dtype=np.int64, count=len(events))
    if not lens.sum():
        return True
    cat = np.concatenate([s for s in events.samples if len(s)])
    t, i = cat[:, 0], cat[:, 1]
    if t.min() < 0 or t.max() >= time_steps or i.min() < 0 or i.max() >= n_inputs:
        return False
    key = t * n_inputs + i
    starts = np.cumsum(lens)[:-1]
    rising = np.diff(key) > 0
    # a new sample may start anywhere: the diff across a sample boundary does not count
    rising[starts[(starts > 0) & (starts < key.size)] - 1] = True
    return bool(rising.all())


def _run_block(qnet: QNet, events: EventSet, trace: bool, cost: CostHook | None):
    N = len(events)
    T = qnet.time_steps
    L = len(qnet.layers)
    pb = qnet.potential_bits
    lo, hi = smin(pb), smax(pb)
    inputs = _StepInputs(events, T, qnet.n_inputs)
    n_ev_in = inputs.counts
    V = [np.zeros((N, layer.n_out), dtype=np.int64) for layer in qnet.layers]
    fired = [np.zeros((N, layer.n_out), dtype=bool) for layer in qnet.layers]
    active = np.ones(N, dtype=bool)
    steps = np.full(N, T, dtype=np.int64)
    act_in = np.zeros((N, T, L), dtype=np.int64)
    sats = np.zeros(N, dtype=np.int64)
    first = np.full(N, -1, dtype=np.int64)
    # per-layer precomputation: W*K for each distinct kernel value, with its sign split
    wk_cache: list[dict[int, tuple[np.ndarray, ...]]] = [{} for _ in range(L)]

    def wk(li: int, k: int):
        c = wk_cache[li].get(k)
        if c is None:
            m = qnet.layers[li].weights * k
            mpos, mneg = np.maximum(m, 0), np.minimum(m, 0)
            c = ((m, m.astype(np.float64)), (mpos, mpos.astype(np.float64)),
                 (mneg, mneg.astype(np.float64)), int(mpos.max()), int(mneg.min()))
            wk_cache[li][k] = c
        return c

    # the spikes of each (t, layer) that has any: (t, layer index, flat indices into spk)
    spike_parts: list[tuple[int, int, np.ndarray]] = []
    spiking_last = qnet.readout == "first_spike"
    # with no leak, constant thresholds and no subtract reset, a step without input events
    # changes nothing (docs/microarchitecture.md, "The sequencer"): skip it
    static = all(layer.leak_shift == 0 and layer.threshold_constant
                 and layer.reset != "subtract" for layer in qnet.layers)
    for t in range(T):
        if not active.any():
            break
        if static and not inputs.counts[t][active].any():
            continue
        x = inputs.at(t) & active[:, None]
        for li, layer in enumerate(qnet.layers):
            n_ev = x.sum(axis=1)
            act_in[:, t, li] = n_ev
            v = V[li]
            busy = np.flatnonzero(n_ev)
            if busy.size:
                mm, pp, nn, top, bottom = wk(li, int(layer.kernel[t]))
                m = mm[0]
                xb = x[busy]
                vb = v[busy]
                cnt = n_ev[busy]
                # no partial sum can leave the range when even the largest positive (negative)
                # entry added cnt times cannot: a cheap per-sample bound first
                safe = ((vb.max(axis=1) + cnt * top <= hi)
                        & (vb.min(axis=1) + cnt * bottom >= lo))
                (total,) = _event_sums(xb, [mm])
                if not safe.all():
                    # the exact bound from the positive and negative parts of the contributions
                    doubt = np.flatnonzero(~safe)
                    pos, neg = _event_sums(xb[doubt], [pp, nn])
                    safe[doubt] = (((vb[doubt] + pos).max(axis=1) <= hi)
                                   & ((vb[doubt] + neg).min(axis=1) >= lo))
                if safe.all():
                    v[busy] = vb + total
                else:
                    v[busy[safe]] = (vb + total)[safe]
                    for n in busy[~safe]:
                        row = v[n]
                        for j in np.flatnonzero(x[n]):
                            s = row + m[j]
                            r = np.clip(s, lo, hi)
                            sats[n] += int(np.count_nonzero(r != s))
                            row = r
                        v[n] = row
            if li == L - 1 and not spiking_last:
                break
            th = int(layer.threshold[t])
            can = active[:, None] & ~fired[li] if layer.reset == "fire_once" else (
                np.broadcast_to(active[:, None], v.shape)
            )
            spk = can & (v >= th)
            if layer.reset == "fire_once":
                fired[li] |= spk
            elif layer.reset == "zero":
                v[spk] = 0
            else:
                v[spk] -= th
            if layer.leak_shift:
                v[can] = leak(v[can], layer.leak_shift)
            flat = np.flatnonzero(spk)  # by sample, then neuron
            if flat.size:
                spike_parts.append((t, li, flat))
            x = spk
        if spiking_last:
            out_spk = x.any(axis=1) if L else np.zeros(N, dtype=bool)
            newly = out_spk & (first < 0)
            if newly.any():
                first[newly] = np.argmax(x[newly], axis=1)
            if qnet.early_exit and out_spk.any():
                steps[out_spk & active] = t + 1
                active &= ~out_spk
    spike_rows, act_spk = _spike_rows(qnet, spike_parts, N)
    bounds = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(act_spk.sum(axis=(1, 2)), out=bounds[1:])
    bounds_l = bounds.tolist()
    if trace:  # rows [layer, t, neuron], layer 1-based
        trace_rows = spike_rows[:, [1, 0, 2]]
        trace_rows[:, 0] += 1
    vlast = V[L - 1]
    argmax_v = np.argmax(vlast, axis=1)
    ran = np.arange(T)[None, :] < steps[:, None]  # (N, T): steps each sample ran
    in_events = (n_ev_in.T * ran).sum(axis=1).tolist()
    spikes = (act_spk * ran[:, :, None]).sum(axis=1)
    sizes = np.array([layer.n_out for layer in qnet.layers], dtype=np.int64)
    sops = ((act_in * ran[:, :, None]).sum(axis=1) @ sizes).tolist()
    spikes_l = spikes.tolist()
    sats_l = sats.tolist()
    steps_l = steps.tolist()
    preds = np.where(first >= 0, first, argmax_v).tolist()
    results = []
    for n in range(N):
        s = steps_l[n]
        counters = Counters(
            input_events=in_events[n],
            spikes_per_layer=tuple(spikes_l[n]),
            sops=sops[n],
            saturations=sats_l[n],
        )
        a, b = bounds_l[n], bounds_l[n + 1]
        activity = Activity(act_in[n, :s], act_spk[n, :s], s, spike_rows[a:b])
        res = SampleResult(
            prediction=preds[n],
            valid=True,
            counters=counters,
            steps=s,
            trace=trace_rows[a:b].copy() if trace else None,
            activity=activity,
        )
        if cost is not None:
            hw, cycles = cost(qnet, activity)
            for k, v in hw.items():
                setattr(res.counters, k, v)
            res.cycles = cycles
        results.append(res)
    return results


def _spike_rows(qnet: QNet, parts: list[tuple[int, int, np.ndarray]], N: int):
    """The spikes of a block, from the flat indices into ``spk`` that :func:`_run_block`
    collected per ``(t, layer)``: ``(rows, counts)``. ``rows`` (read-only) holds
    ``[t, l-1, neuron]`` by sample, and within a sample in emission order; ``counts`` is the
    ``(N, T, L)`` number of spikes per sample, step and layer."""
    T, L = qnet.time_steps, len(qnet.layers)
    TL = T * L
    if not parts:
        rows = np.zeros((0, 3), dtype=np.int64)
        rows.setflags(write=False)
        return rows, np.zeros((N, T, L), dtype=np.int64)
    # 32-bit arithmetic where every value fits (half the memory traffic of int64)
    wide = N * max(max(layer.n_out for layer in qnet.layers), TL) >= 1 << 31
    dt = np.int64 if wide else np.int32
    sizes = [flat.size for _, _, flat in parts]
    flat = np.concatenate([f for _, _, f in parts]).astype(dt, copy=False)
    tl = np.repeat(np.array([t * L + li for t, li, _ in parts], dtype=dt), sizes)
    n_out = np.repeat(np.array([qnet.layers[li].n_out for _, li, _ in parts], dtype=dt), sizes)
    who = flat // n_out
    neuron = flat - who * n_out
    counts = np.bincount(who * TL + tl, minlength=N * TL).reshape(N, T, L)
    # each part is ascending in the sample, so a stable sort by sample keeps emission order
    # (16-bit keys sort by radix)
    key = who.astype(np.int16) if N <= np.iinfo(np.int16).max else who
    order = np.argsort(key, kind="stable")
    tl = tl.take(order)
    rows = np.empty((flat.size, 3), dtype=np.int64)
    rows[:, 0] = tl // L
    rows[:, 1] = tl - rows[:, 0] * L
    rows[:, 2] = neuron.take(order)
    rows.setflags(write=False)
    return rows, counts


def check_event_rows(events, time_steps: int, n_inputs: int) -> str | None:
    """The first problem of a raw event list as the core sees it, or ``None`` (for benches)."""
    from ttfs.sim.ir import check_events

    try:
        check_events(np.asarray(events, dtype=np.int64).reshape(-1, 2), time_steps, n_inputs)
    except ConfigError as exc:
        return str(exc)
    return None
