"""The image model: runs a network straight from the words of its image, never looking at the
:class:`~sim.ir.QNet` (:func:`run_image`; the backend ``image``, :class:`ImageBackend`). It is
the second implementation of the integer semantics (``docs/semantics.md``) on the verification
ladder, reference == image model == RTL; ``docs/image.md`` ("The image model").
"""

from __future__ import annotations

import numpy as np

from ttfs.sim.image.decode import (
    NetworkMemories,
    decode_events,
    decode_network,
    event_positions,
    parse_network,
)
from ttfs.sim.image.format import Image
from ttfs.sim.protocol import event_fields
from ttfs.sim.reference import Activity, Counters, SampleResult

__all__ = ["run_image", "ImageBackend"]


def _queues(sample: np.ndarray, src: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample event queues: ``Q[s, k]`` is sample ``s``'s k-th source (-1 past its end).

    ``sample`` must be ascending and ``src`` in queue order within each sample.
    """
    counts = np.bincount(sample, minlength=n) if sample.size else np.zeros(n, dtype=np.int64)
    width = int(counts.max()) if n else 0
    Q = np.full((n, width), -1, dtype=np.int64)
    if sample.size:
        rank = np.arange(sample.size) - (np.cumsum(counts) - counts)[sample]
        Q[sample, rank] = src
    return Q, counts


def run_image(image: Image, trace: bool = False, block: int = 4096) -> list[SampleResult]:
    """Run every sample of ``image`` from its packed words.

    Returns one :class:`~sim.reference.SampleResult` per sample with the prediction, the
    semantic counters (``input_events``, ``spikes_per_layer``, ``sops``, ``saturations``),
    ``steps``, the activity and, with ``trace``, the spikes ``[layer, t, neuron]`` in emission
    order. Hardware counters and cycles are left ``None``. Samples run ``block`` at a time.

    The words are decoded into the memories the core holds (a weight memory of ``weight_rows``
    rows of ``P`` signed lanes, a descriptor per layer, threshold and kernel tables) and run
    event by event, reading the row at address ``weight_base_l + j * chunks_l + c`` for each
    chunk ``c`` of source ``j``::

        for t in 0 .. T-1:
            queue = input events of step t, in word order
            for l in 1 .. L:
                for j in queue, in order:                      # integrate
                    for c in 0 .. chunks_l-1:
                        row = wmem[weight_base_l + j * chunks_l + c]          # P lanes
                        for p in 0 .. P-1:  V[c*P+p] <- sat(V[c*P+p] + row[p] * K_l[t])
                unless l is a max_potential output layer:        # fire and leak, per chunk
                    for each neuron i < n_l not already fired (fire_once):
                        if V[i] >= Theta_l[t]: spike; fire_once: mark, zero: V <- 0,
                                               subtract: V <- V - Theta_l[t]
                        if s_l > 0: V[i] <- V[i] - (V[i] >> s_l)
                queue = spikes of layer l at step t, ascending
            early_exit: stop after the first step with an output spike

    Padding lanes (``c*P + p >= n_l``) hold weight 0, so their potential stays 0; they are never
    swept into a spike (thresholds are >= 1) and never take part in the readout's argmax.
    Samples are vectorised: the k-th event of every sample's queue is applied to all samples at
    once, with a saturating add per event, so saturation (which is not associative) is exact in
    every case and no fallback is needed. The chunks of one row never share a lane, so applying
    them in one vector operation equals applying them one per cycle.
    """
    if not isinstance(image, Image):
        raise TypeError(f"image must be an Image, not {type(image).__name__}")
    mem = decode_network(image.net_words)
    ev_w = image.event_words
    starts, counts, _ = decode_events(ev_w, mem.net_words, mem.time_steps, mem.n_inputs)
    out: list[SampleResult] = []
    for a in range(0, len(starts), block):
        b = min(a + block, len(starts))
        out.extend(_run_block(mem, ev_w, starts[a:b], counts[a:b], trace))
    return out


def _run_block(mem: NetworkMemories, ev_w, starts, counts, trace: bool) -> list[SampleResult]:
    N = len(starts)
    P, L, T = mem.lanes, mem.n_layers, mem.time_steps
    lo, hi = -(1 << (mem.potential_bits - 1)), (1 << (mem.potential_bits - 1)) - 1
    width = [c * P for c in mem.chunks]
    real = [np.arange(wd) < n for wd, n in zip(width, mem.n_out, strict=True)]
    V = [np.zeros((N, wd), dtype=np.int64) for wd in width]
    fired = [np.zeros((N, wd), dtype=bool) for wd in width]
    wmem = mem.wmem

    # the input event stream, decoded once: (sample, t, input) ordered by t, then sample, then
    # word order, so each step's slice lists every sample's queue in order
    ev_s, pos = event_positions(starts, counts)
    ev_t, ev_i = event_fields(ev_w[pos].astype(np.int64))
    order = np.argsort(ev_t, kind="stable")
    ev_s, ev_t, ev_i = ev_s[order], ev_t[order], ev_i[order]
    t_bounds = np.searchsorted(ev_t, np.arange(T + 1))

    active = np.ones(N, dtype=bool)
    steps = np.full(N, T, dtype=np.int64)
    first = np.full(N, -1, dtype=np.int64)
    sats = np.zeros(N, dtype=np.int64)
    events_in = np.zeros((N, T, L), dtype=np.int64)
    spikes = np.zeros((N, T, L), dtype=np.int64)
    spike_parts: list[np.ndarray] = []  # rows [sample, t, layer index, neuron]
    last_fires = mem.readout == "first_spike"

    for t in range(T):
        if not active.any():
            break
        s_t = ev_s[t_bounds[t]:t_bounds[t + 1]]
        i_t = ev_i[t_bounds[t]:t_bounds[t + 1]]
        keep = active[s_t]
        Q, qn = _queues(s_t[keep], i_t[keep], N)
        out_spk = None
        for li in range(L):
            events_in[:, t, li] = qn
            v = V[li]
            kern = int(mem.kernel[li, t])
            base, ch = mem.weight_base[li], mem.chunks[li]
            lane_rows = np.arange(ch)
            for k in range(Q.shape[1]):
                who = np.flatnonzero(Q[:, k] >= 0)
                # row address of (source j, chunk c): weight_base + j * chunks + c
                addr = base + Q[who, k][:, None] * ch + lane_rows[None, :]
                s = v[who] + wmem[addr].reshape(who.size, width[li]) * kern
                r = np.clip(s, lo, hi)
                sats[who] += np.count_nonzero(r != s, axis=1)
                v[who] = r
            if li == L - 1 and not last_fires:
                break
            th = int(mem.threshold[li, t])
            can = active[:, None] & real[li][None, :]
            if mem.reset[li] == "fire_once":
                can &= ~fired[li]
            spk = can & (v >= th)
            if mem.reset[li] == "fire_once":
                fired[li] |= spk
            elif mem.reset[li] == "zero":
                v[spk] = 0
            else:
                v[spk] -= th
            sh = mem.leak_shift[li]
            if sh:
                v[can] -= v[can] >> sh
            ss, nn = np.nonzero(spk)  # row-major: by sample, then ascending neuron
            spikes[:, t, li] = np.bincount(ss, minlength=N) if ss.size else 0
            if ss.size:
                spike_parts.append(np.stack(
                    [ss, np.full_like(ss, t), np.full_like(ss, li), nn], axis=1))
            Q, qn = _queues(ss, nn, N)
            out_spk = spk
        if last_fires and out_spk is not None:
            any_out = out_spk.any(axis=1)
            newly = any_out & (first < 0)
            first[newly] = np.argmax(out_spk[newly], axis=1)
            if mem.early_exit:
                steps[any_out & active] = t + 1
                active &= ~any_out

    # every sample's spikes, [t, layer index, neuron] in emission order: the parts come by
    # step and layer, each by sample and neuron, so a stable sort by sample keeps that order
    rows = (np.concatenate(spike_parts) if spike_parts
            else np.zeros((0, 4), dtype=np.int64))
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    bounds = np.searchsorted(rows[:, 0], np.arange(N + 1))
    spike_rows = np.ascontiguousarray(rows[:, 1:])
    spike_rows.setflags(write=False)
    if trace:  # rows [layer, t, neuron], layer 1-based
        trace_rows = np.stack([rows[:, 2] + 1, rows[:, 1], rows[:, 3]], axis=1)
    n_last = mem.n_out[-1]
    fallback = np.argmax(V[-1][:, :n_last], axis=1)
    n_out = np.array(mem.n_out, dtype=np.int64)
    results = []
    for n in range(N):
        s = int(steps[n])
        ei, sp = events_in[n, :s].copy(), spikes[n, :s].copy()
        results.append(SampleResult(
            prediction=int(first[n]) if first[n] >= 0 else int(fallback[n]),
            valid=True,
            counters=Counters(
                input_events=int(ei[:, 0].sum()),
                spikes_per_layer=tuple(int(x) for x in sp.sum(axis=0)),
                sops=int((ei.sum(axis=0) * n_out).sum()),
                saturations=int(sats[n]),
            ),
            steps=s,
            trace=trace_rows[bounds[n]:bounds[n + 1]].copy() if trace else None,
            activity=Activity(ei, sp, s, spike_rows[bounds[n]:bounds[n + 1]]),
        ))
    return results


class ImageBackend:
    """The image model as a :class:`~sim.backend.Backend`: runs from the packed words."""

    name = "image"

    def run(self, image: Image, *, trace: bool = False) -> list[SampleResult]:
        """The image model's results, with the hardware counters and cycles that the cycle-cost
        rule (:mod:`sim.costmodel`) gives for the activity the image model itself recorded."""
        from ttfs.sim.costmodel import cost_hook

        results = run_image(image, trace=trace)
        qnet, core = parse_network(image.net_words)
        hook = cost_hook(core)
        for r in results:
            hw, cycles = hook(qnet, r.activity)
            for k, v in hw.items():
                setattr(r.counters, k, v)
            r.cycles = cycles
        return results
