"""The cycle-cost rule of the ``hw`` neuron core: hardware counters and cycles from activity.

The core's cycle count depends only on the per-step, per-layer activity of a sample
(:class:`sim.reference.Activity`: events integrated and spikes emitted by each layer at each step,
and the steps run) and on the static network and core configuration. This module walks the
core's sequencer exactly as the RTL does (``hw/core.py``, ``docs/microarchitecture.md``).

Notation: ``C_l = ceil(n_l / P)`` chunks of layer ``l``; ``E[t,l]`` events into layer ``l`` at step
``t``; ``S[t,l]`` spikes of layer ``l`` at ``t``; ``W = 6`` (the neuron array's drain wait);
``Z = 8`` (the settle wait of a layer's bound).

A layer is *sweepable* unless it is the ``max_potential`` output layer; it is *leaky* when
``s_l > 0``. **The skip rule** (``docs/microarchitecture.md``): the core keeps, per layer, an
exact bound of the potentials of the neurons that may still fire (the largest, clamped at 0),
rebuilt by every pass over the layer's chunks (a sweep, or the last event of an event phase:
both write every chunk). A sweepable layer without a leak is **swept** at step ``t`` exactly when
its bound reaches ``Theta_l[t]``, that is, when one of its neurons fires there: ``S[t,l] > 0``. A
leaky layer is swept at every step. So a layer's cost follows its spikes, whatever its threshold
table does.

Visited steps: every step when a sweepable layer leaks or has a time-varying threshold table
(each step the core compares the bounds with the step's thresholds); otherwise the next step
with input events, or ``t+1`` when a layer's bound reaches its (constant) threshold, which only a
``subtract`` reset can leave (in activity terms: some layer spikes at ``t+1`` without events).
Steps in between cost nothing.

Cycles (counted from the cycle after the first event word is accepted to the cycle word 0 of the
result is presented, excluding cycles stalled on an empty event stream or a full trace stream,
and the cycles that consume the end word and any events after an early exit). Nothing clears
the membranes (the lazy clear, ``docs/microarchitecture.md``): the ops of a layer's first pass
in a sample read no word and take 0, and a readout of a layer that had no op reads none::

    cycles = 1 + F                                        STEP: pick the first step, once the
                                                            first event word has come through
                                                            the fetch (F = FILL_CYCLES = 3; 0
                                                            with a leaky layer: step 0 then)
           + sum over visited steps of
               sum over active layers l of                (active: E[t,l] > 0 or swept)
                 1                                        NEXT: pick the layer and load its
                                                            descriptor (+ 1, ENTER, with chunk
                                                            bounds when a layer without a leak
                                                            is picked without events: the
                                                            scan's first read)
               + E[t,l] * C_l                             event phase: one row chunk a cycle
               + Q[t,l]         if l > 1, E > 0           the waits of an event phase from the
                                                            queue for entries not yet written
                                                            (the overlapped emission, below)
               + 1              if l = 1, E > 0, not leaky  (the stream's phase-end cycle)
               + Z' + 1         if E > 0, sweepable,      the bound settles; DECIDE (which
                                  not leaky, not swept      also issues the sweep's first chunk
               + Z'             if E > 0, sweepable,        when the layer fires); Z' = Z - 1
                                  not leaky, swept          for layer 1 (its phase-end cycle
                                                            is the first of the Z), Z else
                                                            (a layer-1 phase that passes the
                                                            reach test, below: 2 instead)
               + C_l            if swept                  sweep one chunk a cycle (with chunk
                                                            bounds and no leak: G_l + K[t,l],
                                                            and DECIDE issues no sweep op: + 1
                                                            if E > 0)
               + W              if swept, leaky or l = L  drain (a layer without a leak that
                                                            feeds another goes straight on:
                                                            its emission overlaps)
               + S[t,l] + 2     if swept, S[t,l] > 0,     emit spikes one a cycle, the fill and
                                  l = L (the last layer)    the last spike's first stage
             + 1                                          the NEXT that finds no more layers
                                                            (it picks the next step or ends
                                                            the sample)
           + 2 C_L + n_L        if the output is read by potential (max_potential, or no
                                  output spike): a read and a load a chunk, one compare a
                                  neuron

A layer phase that does not sweep (the ``max_potential`` output layer, or a layer whose bound
stays below the threshold) ends without a drain: integrate ops need none (the array forwards
membrane words), and the readout waits, uncounted, for the last write-back. A leaky layer sweeps
straight after its events: for layer 1 the phase-end decision (the next event word is at a later
step) is made in the cycle that issues the sweep's first chunk. Consecutive integrate ops follow
each other back to back, so the event phase is exactly ``sum E * C`` cycles.

**The overlapped emission** (``docs/microarchitecture.md``): a layer's spikes go to the queue as
the next layer's first weight rows, and that layer's event phase issues each entry once it is
written, so the waits ``Q[t,l+1]`` depend on when each spike of layer ``l`` is emitted. Count
cycles from the sweep's last op (0). A layer without a leak that feeds another fires whenever it
sweeps, and runs its emission from its sweep's first op: the op on the ``i``-th swept chunk is
issued at ``i - (n - 1)`` (``n`` ops; with chunk bounds the chunks that fire, in order), and a
chunk that fires pushes its fire mask into the emitter 5 cycles later. A leaky layer drains first:
its emitter runs from ``W + 1``. A mask moves into the emitter's head at ``max(push, free)``
(``free``: the emitter's first cycle, then the cycle the last spike of the mask before leaves), its
``k`` spikes leave one a cycle after that, and each entry can be taken ``EMIT_PIPE = 4`` cycles
after its spike leaves. Layer ``l+1``'s phase (``NEXT`` at 1, or ``W + 1`` after a drain) issues
its ops from ``q0 = 2`` (``W + 2``), never before ``GAP_CYCLES = 4`` (the array's
one write port), entry by entry, each at the earliest when it can be taken, ``C_{l+1}`` ops an
entry. The phase ends with its last op if that is at or after ``TAIL_CYCLES = 9``, else at 9 (the
emission is final then: every mask is in, and layer ``l``'s bound is final before the step's choice
reads it). ``Q`` is the phase's cycles less its ops.

**Partial sweeps** (a core with ``chunk_bounds = SW > 0``, ``docs/microarchitecture.md``,
"Partial sweeps"): the core also keeps the bound of every chunk, and a swept layer without a
leak first scans its chunk bounds against ``Theta_l[t]``, ``SW`` a cycle (``SCAN``,
``G_l = ceil(C_l / SW)`` cycles), then sweeps only the ``K[t,l]`` chunks that fire, one a cycle
(``SWEEP_M``; ``K[t,l]``: the chunks of layer ``l`` with a spike at ``t``, from the sample's
spike rows). After an event phase, ``DECIDE`` then costs its own cycle whether or not the layer
fires. Every other term is as above; a leaky layer still sweeps every chunk.

**The reach test** (``docs/microarchitecture.md``, "The reach test"): the core keeps ``R``, an
upper bound of the first layer's potentials, raised by ``2**(B_w - 1) * K_1[t]`` per input event
(the most one event can add; ``B_w`` the core's weight bits) and saturating at ``2**(B_V - 1)``.
After an input event phase of the first layer (sweepable, without a leak) at step ``t``, when
its table does not rise after ``t`` and ``R < Theta_1[e - 1]`` (``e`` the next input event's
step; ``Theta_1[T - 1]`` when there is none), no neuron of the layer can fire before its next
events: the phase ends ``REACH_CYCLES = 2`` cycles after its end cycle instead of ``Z' + 1``
(no settle, no ``DECIDE``). Every bound compare made before the bound settles is then against a
threshold above ``R``, so it decides as the settled bound would.

Hardware counters::

    weight_reads    = sum E[t,l] * C_l                    one row chunk per integrate op
    membrane_reads  = weight_reads + sum_swept C_l - sum of C_l over the layers with an op
                      + (C_L if read by potential and the output layer had an op)
                      (the lazy clear: a layer's first pass, and a readout of a layer
                      without ops, read no word)
    membrane_writes = weight_reads + sum_swept C_l
    sweeps          = number of (t, l) swept

(with chunk bounds, ``K[t,l]`` in place of ``C_l`` for a swept layer without a leak).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ttfs.sim.core import CoreConfig, chunks
from ttfs.sim.ir import QNet
from ttfs.sim.reference import Activity

__all__ = ["WAIT_CYCLES", "SETTLE_CYCLES", "REACH_CYCLES", "FILL_CYCLES", "TAIL_CYCLES",
           "GAP_CYCLES", "EMIT_TAIL", "EMIT_PIPE", "cost_hook", "cost", "breakdown", "Breakdown",
           "summarize", "event_floor"]

#: cycles the sequencer waits after the last op of a layer phase (the RTL's drain, which
#: ``hw.core`` takes from here): the last fire mask leaves the neuron array 5 cycles after its
#: issue and the FIFO level shows it one cycle later, when the sweep write-back (6 cycles after
#: issue) is done too
WAIT_CYCLES = 6
#: cycles the sequencer waits after the event phase of a layer that sweeps only where it fires
#: (``hw.core``'s settle): the layer's bound is final 9 cycles after the phase's last op is
#: issued (``hw.blocks.BOUND_STAGES`` after ``d_``, and the fold), where ``DECIDE`` reads it
SETTLE_CYCLES = 8
#: cycles the reach test takes after an input event phase's end cycle: the threshold
#: lookahead's reads at the next event's time are current two cycles after the fetch moved to it
#: (``hw.core``'s settle ``WAIT`` tests then); they are two of the settle's cycles when the test
#: fails
REACH_CYCLES = 2
#: cycles ``STEP`` waits, beyond its own, for the sample's first event word (accepted in the idle
#: cycle before) to reach the sequencer through the event fetch, and for the lookahead's reads at
#: its time: a fixed latency, counted (a wait on an empty stream later in the sample is not)
FILL_CYCLES = 3
#: cycles from a sweep op to its chunk's fire mask entering the emitter (the array's pipeline)
MASK_CYCLES = 5
#: cycles from a sweep op to the end of the emission that overlaps it (``hw.core``'s
#: ``em_final``): the op's fire mask enters the emitter 5 cycles after the op, and the swept
#: layer's bound, which the next step's choice reads, is final 9 cycles after it
TAIL_CYCLES = 9
#: the fewest cycles from a sweep op to an integrate op of the next layer: the array has one
#: membrane write port, and a sweep op writes back up to 7 cycles after its issue, an integrate
#: op 4 at the earliest
GAP_CYCLES = 4
#: cycles from a spike leaving the emitter's head to the first integrate op that can take its
#: queue entry (the row's multiply, the add and write, then the row from the write's register)
EMIT_PIPE = 4
#: cycles ``EMIT`` takes for the last layer beyond one per spike (the head's first load, and the
#: cycle the last spike leaves the emitter's first stage)
EMIT_TAIL = 2


@dataclass(frozen=True)
class Breakdown:
    """Where one sample's cycles go (they sum to ``cycles``).

    ``event_phase``: integrate ops (``sum E * C``); ``sweep``: sweep ops; ``drain``: the wait
    after each layer phase; ``emit``: spike emission; ``sequencing``: STEP/NEXT and the
    phase-end cycle of an unswept stream phase; ``readout``; ``scan``: the chunk-bound scans of
    partial sweeps (a core with ``chunk_bounds``). (Nothing clears the membranes: the lazy
    clear costs no cycle.)
    """

    event_phase: int
    sweep: int
    drain: int
    emit: int
    sequencing: int
    readout: int
    events_x_chunks: int
    scan: int = 0

    @property
    def cycles(self) -> int:
        return (self.event_phase + self.sweep + self.drain + self.emit + self.sequencing
                + self.readout + self.scan)

    def to_json(self) -> dict:
        return {
            "event_phase": self.event_phase, "sweep": self.sweep, "drain": self.drain,
            "emit": self.emit, "sequencing": self.sequencing,
            "readout": self.readout, "scan": self.scan, "events_x_chunks": self.events_x_chunks,
            "cycles": self.cycles,
        }


def breakdown(core: CoreConfig, qnet: QNet, activity: Activity) -> tuple[dict, Breakdown]:
    """The hardware counters and the cycle breakdown of one sample (see the module docstring)."""
    if not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig, not {type(core).__name__}")
    P = core.lanes
    layers = qnet.layers
    L = len(layers)
    C = [chunks(layer.n_out, P) for layer in layers]
    mp = qnet.readout == "max_potential"
    sweepable = [not (k == L - 1 and mp) for k in range(L)]
    always = [sweepable[k] and layers[k].leak_shift > 0 for k in range(L)]
    any_leak = any(always)
    # the last step at which a table rises (0 if none): non-increasing from there on
    rise = [_rise(layer.threshold) for layer in layers]
    E = np.asarray(activity.events_in, dtype=np.int64)
    S = np.asarray(activity.spikes, dtype=np.int64)
    SW = core.chunk_bounds
    # the spikes of each (step, layer) by chunk, for the emission's timing
    fired = _chunk_spikes(activity, P)
    if SW:
        # a layer without a leak sweeps the chunks that fire: K[t, l] of them, after a scan of
        # ceil(C_l / SW) cycles
        G = [-(-c // SW) for c in C]
    steps = int(activity.steps)
    T = qnet.time_steps
    # the reach test: an upper bound of the first layer's potentials, raised by every input
    # event by the most it can add (2**(weight_bits - 1) * K_1[t]), saturated at 2**(PB - 1)
    reach_on = sweepable[0] and not always[0]
    reach = 0
    if reach_on:
        r_inc = np.broadcast_to(np.asarray(layers[0].kernel, dtype=np.int64), (T,)) << (
            core.weight_bits - 1)
        r_cap = 1 << (core.potential_bits - 1)
        r_th = np.broadcast_to(np.asarray(layers[0].threshold, dtype=np.int64), (T,))

    ev_phase = sweep = drain = emit = seq = scan = 0
    # the emission the next layer's event phase reads: when its entries can be read, and when
    # that phase's first cycle comes, in cycles after the sweep's last op
    em_avail: list[int] = []
    em_q0 = 0
    # the layers with an op in the sample (the lazy clear: their first pass reads no word)
    touched = [False] * L
    n_sweeps = weight_reads = sweep_chunks = 0
    # (plain lists for the walk's scalar reads; per step, the next input event's step and the
    # next step with a spike, T when there is none)
    n_rows = E.shape[0]
    ev_at = (E[:, 0] > 0).tolist() if E.size else []
    spk_at = S.any(axis=1).tolist() if S.size else []
    next_ev = [T] * (n_rows + 1)
    next_spk = [T] * (n_rows + 1)
    for i in range(n_rows - 1, -1, -1):
        next_ev[i] = i if ev_at[i] else next_ev[i + 1]
        next_spk[i] = i if spk_at[i] else next_spk[i + 1]
    Et = E.tolist()
    St = S.tolist()
    # a sweepable layer's table rises after t + 1 exactly when t + 1 < rise_max
    rise_max = max([rise[k] for k in range(L) if sweepable[k]], default=0)
    started = False
    t = 0
    out_spiked = False
    while True:
        if not started:
            # STEP, after the first word's fill when it jumps to it (with a leaky layer it
            # visits step 0 whatever the events; later steps are chosen by the NEXT that finds
            # no more layers)
            seq += 1 + (0 if any_leak else FILL_CYCLES)
        if started and ((qnet.early_exit and out_spiked) or t == T - 1):
            break
        if any_leak:
            t = t + 1 if started else 0
        else:
            first = t + 1 if started else 0
            t_ev = next_ev[first] if first < n_rows else T
            # jump to the next event's step (or end) unless a layer can fire before it: its
            # table may rise after t + 1, or (no rise) its bound reaches the gap's lowest
            # threshold, that is, it fires in the gap
            if started and t_ev > t + 1 and (
                    rise_max > t + 1
                    or (t + 1 < n_rows and next_spk[t + 1] < t_ev)):
                t += 1
            elif t_ev == T:
                break
            else:
                t = t_ev
        if t >= steps:  # the reference stopped earlier: cannot happen for a consistent activity
            raise ValueError(f"activity covers {steps} steps; the core visits step {t}")
        started = True
        out_spiked = False
        # a layer without events fires at t exactly when its bound reaches Theta_l[t]
        need = [sweepable[k] and not always[k] and St[t][k] > 0 and Et[t][k] == 0
                for k in range(L)]
        lc = 0
        while True:
            seq += 1  # NEXT
            has_ev = lc < L and (Et[t][0] > 0 if lc == 0 else St[t][lc - 1] > 0)
            sel = None
            for k in range(lc, L):
                if (k == lc and has_ev) or (sweepable[k] and (always[k] or need[k])):
                    sel = k
                    break
            if sel is None:
                break
            if SW and not always[sel] and not (sel == lc and has_ev):
                seq += 1  # ENTER: a scan's first read, at a step reached without events
            e = Et[t][sel] if (sel == lc and has_ev) else 0
            swept = sweepable[sel] and (always[sel] or St[t][sel] > 0)
            ev_phase += e * C[sel]
            if sel > 0 and e > 0:
                # the queue's entries, each once written: the phase ends with its last op,
                # or when the emission is final (TAIL_CYCLES after the sweep's last op)
                if len(em_avail) != e:
                    raise ValueError(f"step {t}: layer {sel + 1} has {e} events, "
                                     f"its queue {len(em_avail)}")
                y = max(em_q0, GAP_CYCLES)
                for a in em_avail:
                    y = max(y, a) + C[sel]
                emit += max(y - 1, TAIL_CYCLES) - em_q0 + 1 - e * C[sel]
            weight_reads += e * C[sel]
            touched[sel] = True  # a picked layer has events or sweeps
            if sel == 0 and e > 0 and not always[sel]:
                seq += 1  # the stream phase's end: the cycle that sees a later event word
            passes = False
            if sel == 0 and e > 0 and reach_on:
                reach = min(reach + e * int(r_inc[t]), r_cap)
                nxt = next_ev[t + 1] if t + 1 < n_rows else T
                gap_t = nxt - 1 if nxt < T else T - 1
                # the reach test: the table does not rise after t and the bound cannot reach
                # the lowest threshold up to the next event's step (or the last step): the
                # layer fires nowhere before its next events, and its bound need not settle
                passes = rise[0] <= t and reach < int(r_th[gap_t])
            if passes:
                if swept:
                    raise ValueError(f"layer 1 fires at step {t} above the reach test's bound")
                drain += REACH_CYCLES
            elif e > 0 and sweepable[sel] and not always[sel]:
                # the bound settles (for layer 1 the phase's end is its first cycle); DECIDE
                # sweeps or moves on
                drain += SETTLE_CYCLES - (sel == 0)
                if not swept or SW:
                    seq += 1  # DECIDE (with chunk bounds it never issues a sweep op)
            s = St[t][sel]
            if swept:
                counts = fired.get((t, sel), {})
                if SW and not always[sel]:
                    order = sorted(counts)  # the chunks that fire, in chunk order
                    scan += G[sel]
                else:
                    order = range(C[sel])
                sweep += len(order)
                sweep_chunks += len(order)
                n_sweeps += 1
                overlapped = not always[sel] and sel < L - 1
                if not always[sel] and s == 0:
                    raise ValueError(f"layer {sel + 1} sweeps at step {t} and does not fire")
                if not overlapped:
                    drain += WAIT_CYCLES
                if s > 0 and sel == L - 1:
                    emit += s + EMIT_TAIL
                    out_spiked = True
                elif s > 0:
                    # the emission: from the sweep's first op (overlapped) or after the wait;
                    # the next layer's phase starts after its NEXT
                    last = len(order) - 1
                    pushes = [(i - last + MASK_CYCLES, counts[c]) for i, c in enumerate(order)
                              if counts.get(c, 0)]
                    run_from = -last + 1 if overlapped else WAIT_CYCLES + 1
                    em_avail = _emission(pushes, run_from)
                    em_q0 = 2 if overlapped else WAIT_CYCLES + 2
            lc = sel + 1
    by_potential = mp or int(S[:, L - 1].sum()) == 0
    readout = (2 * C[L - 1] + layers[L - 1].n_out) if by_potential else 0
    # the lazy clear: each touched layer's first pass (all its chunks) reads no word, nor does
    # a readout of an untouched output layer
    first_pass = sum(C[k] for k in range(L) if touched[k])
    readout_reads = C[L - 1] if by_potential and touched[L - 1] else 0
    hw = {
        "weight_reads": weight_reads,
        "membrane_reads": weight_reads + sweep_chunks + readout_reads - first_pass,
        "membrane_writes": weight_reads + sweep_chunks,
        "sweeps": n_sweeps,
    }
    exc = int(sum(int(E[:, k].sum()) * C[k] for k in range(L)))
    return hw, Breakdown(ev_phase, sweep, drain, emit, seq, readout, exc, scan)


def _chunk_spikes(activity: Activity, lanes: int) -> dict:
    """``{(t, l): {chunk: spikes}}``: the spikes of layer ``l`` at step ``t`` by chunk
    (``lanes`` neurons each), from the sample's spike rows."""
    out: dict = {}
    rows = np.asarray(activity.spike_rows, dtype=np.int64).reshape(-1, 3)
    for t, layer, n in rows.tolist():
        d = out.setdefault((t, layer), {})
        d[n // lanes] = d.get(n // lanes, 0) + 1
    return out


def _emission(pushes: list, run_from: int) -> list:
    """When each queue entry of an emission can be read: ``pushes`` are the fire masks'
    ``(cycle, spikes)`` in order and ``run_from`` the emitter's first cycle. A mask moves into
    the head in the cycle of its push at the earliest (into an empty FIFO's free head; a mask
    that waits in the FIFO moves in as the last bit of the one before leaves); its spikes leave
    one a cycle after that, each readable ``EMIT_PIPE`` cycles later."""
    avail = []
    free = run_from
    for cyc, n in pushes:
        load = max(cyc, free)
        avail += [load + 1 + i + EMIT_PIPE for i in range(n)]
        free = load + n
    return avail


def _rise(table: np.ndarray) -> int:
    """The last step ``t`` at which ``table[t] > table[t - 1]`` (0 if none)."""
    up = np.flatnonzero(np.diff(np.asarray(table, dtype=np.int64)) > 0)
    return int(up[-1]) + 1 if up.size else 0


def event_floor(core: CoreConfig, qnet: QNet, counters) -> int:
    """The cycles a sample's events themselves set, whatever the sequencing: one cycle per
    integrate op (``weight_reads``), one per spike and the readout when the output is read by
    potential (the membranes need no clear: the lazy clear). ``counters`` is a
    :class:`sim.reference.Counters` with the hardware counters set (from the cost model or
    read back from the RTL); the measured ``cycles`` divided by this is the core's overhead
    factor on that sample."""
    if not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig, not {type(core).__name__}")
    if counters.weight_reads is None:
        raise ValueError("event_floor needs the hardware counters (weight_reads is None)")
    layers = qnet.layers
    L = len(layers)
    by_potential = qnet.readout == "max_potential" or counters.spikes_per_layer[L - 1] == 0
    readout = 2 * chunks(layers[L - 1].n_out, core.lanes) + layers[L - 1].n_out
    return (int(counters.weight_reads) + int(sum(counters.spikes_per_layer))
            + (readout if by_potential else 0))


def cost(core: CoreConfig, qnet: QNet, activity: Activity) -> tuple[dict, int]:
    """``(hardware counters, cycles)`` of one sample on ``core``."""
    hw, b = breakdown(core, qnet, activity)
    return hw, b.cycles


def cost_hook(core: CoreConfig) -> Callable[[QNet, Activity], tuple[dict, int]]:
    """The hook :func:`sim.reference.run` takes as ``cost=``: the cycle-cost rule of ``core``."""
    if not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig, not {type(core).__name__}")

    def hook(qnet: QNet, activity: Activity) -> tuple[dict, int]:
        return cost(core, qnet, activity)

    return hook


def summarize(core: CoreConfig, qnet: QNet, activities) -> dict:
    """Mean cycles per sample by phase over ``activities`` (e.g. ``r.activity`` of
    :func:`sim.reference.run` results), and the event-phase efficiency
    ``event_phase / (events x chunks)`` (1.0 means no fill/drain cycles in event phases) and the
    all-in ratio ``cycles / (events x chunks)``."""
    totals: dict[str, int] = {}
    n = 0
    for act in activities:
        _, b = breakdown(core, qnet, act)
        for k, v in b.to_json().items():
            totals[k] = totals.get(k, 0) + v
        n += 1
    if n == 0:
        raise ValueError("summarize needs at least one sample's activity")
    out: dict = {k: v / n for k, v in totals.items()}
    exc = totals["events_x_chunks"]
    out["event_efficiency"] = totals["event_phase"] / exc if exc else None
    out["cycles_per_event_chunk"] = totals["cycles"] / exc if exc else None
    out["samples"] = n
    return out
