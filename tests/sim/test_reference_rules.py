"""Hand-computed cases for every rule of docs/semantics.md.

Each case is run through both the literal specification (``run_sample``) and the batched model
(``run``), and each expected value is worked out by hand in the comment above it. Potentials are
not part of a result, so every case makes the potential it tests observable: through a spike (a
threshold equal to the value fires, one above it does not), the ``saturations`` counter, or the
argmax readout.
"""

import numpy as np
import pytest

from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import run, run_sample


def net(weights, threshold=1, kernel=1, leak_shift=0, reset="fire_once", T=4, pb=8, wb=8,
        readout="first_spike", early_exit=False, more=()):
    """A network whose first layer has ``weights`` (and whose later layers are ``more``)."""
    w = np.array(weights, dtype=np.int64)
    layers = (Layer(w, threshold, kernel, leak_shift, reset),) + tuple(more)
    return QNet(w.shape[0], T, layers, wb, pb, readout, early_exit)


def both(qnet, *samples):
    """Results of ``run_sample`` and ``run`` for each sample: ``[(spec, batched), ...]``."""
    ev = EventSet(tuple(np.array(s, dtype=np.int64).reshape(-1, 2) for s in samples))
    batched = run(qnet, ev, trace=True)
    return [(run_sample(qnet, s, trace=True), b) for s, b in zip(ev.samples, batched, strict=True)]


def expect(pair, prediction, trace, sops, saturations=0, steps=None, input_events=None):
    """Check one ``(spec, batched)`` pair against hand-computed values, model by model."""
    for res in pair:
        assert res.prediction == prediction
        assert res.trace.tolist() == trace
        L = res.activity.spikes.shape[1]
        per_layer = tuple(sum(1 for row in trace if row[0] == layer) for layer in range(1, L + 1))
        assert res.counters.spikes_per_layer == per_layer
        assert res.counters.sops == sops
        assert res.counters.saturations == saturations
        if steps is not None:
            assert res.steps == steps
        if input_events is not None:
            assert res.counters.input_events == input_events
        assert res.valid is True


# -- fire: threshold equality ---------------------------------------------------------------


def test_potential_equal_to_threshold_fires():
    # W = [5, 4], Theta = 5; one event at t=0: V = [5, 4]; 5 >= 5 fires, 4 < 5 does not
    q = net([[5, 4]], threshold=5, T=2)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0]], sops=2)


def test_potential_one_below_threshold_does_not_fire():
    # W = [5, 4], Theta = 6: V = [5, 4], no spike; readout argmax V = neuron 0
    q = net([[5, 4]], threshold=6, T=2)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[], sops=2)


# -- saturation at both ends, in queue order ----------------------------------------------------


def test_saturation_at_the_top_depends_on_event_order():
    # potential_bits 8: V in [-128, 127]. W = [+100, +127, -100], Theta = 127
    q = net([[100], [127], [-100]], threshold=127, T=2)
    a, b = both(q, [[0, 0], [0, 1], [0, 2]], [[0, 0], [0, 2], [1, 1]])
    # A, t=0 in input order: 0+100 = 100; 100+127 = 227 -> 127 (1 saturation); 127-100 = 27;
    #   27 < 127: no spike. Readout: argmax V of the one neuron = 0.
    expect(a, prediction=0, trace=[], sops=3, saturations=1)
    # B: t=0: 100, 100-100 = 0; t=1: 0+127 = 127 >= 127 fires at t=1, no saturation
    expect(b, prediction=0, trace=[[1, 1, 0]], sops=3, saturations=0)


def test_saturation_at_the_bottom_depends_on_event_order():
    # W = [-100, -100, +100, +127], Theta = 99
    q = net([[-100], [-100], [100], [127]], threshold=99, T=2)
    a, b = both(q, [[0, 0], [0, 1], [0, 2], [1, 3]], [[0, 0], [0, 2], [1, 1], [1, 3]])
    # A: t=0: -100; -100-100 = -200 -> -128 (1 saturation); -128+100 = -28
    #    t=1: -28+127 = 99 >= 99 fires at t=1
    expect(a, prediction=0, trace=[[1, 1, 0]], sops=4, saturations=1)
    # B: t=0: -100+100 = 0; t=1: 0-100 = -100; -100+127 = 27 < 99: no spike, no saturation
    expect(b, prediction=0, trace=[], sops=4, saturations=0)


def test_weight_times_kernel_is_exact_before_one_saturating_add():
    # W = 100, K = 3: 0 + 300 -> 127 is ONE saturation (not three adds of 100)
    # Theta = 127: fires at t=0
    q = net([[100]], threshold=127, kernel=3, T=1)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0]], sops=1, saturations=1)


# -- reset modes --------------------------------------------------------------------------------


def test_fire_once_fires_once_but_keeps_integrating():
    # W = 100, Theta = 100, events at t = 0, 1, 2:
    # t=0: V = 100 >= 100 fires (marked fired)
    # t=1: 100+100 = 200 -> 127 (saturation 1), no second spike although V >= Theta
    # t=2: 127+100 = 227 -> 127 (saturation 2): the events still integrate
    q = net([[100]], threshold=100, T=4)
    (pair,) = both(q, [[0, 0], [1, 0], [2, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0]], sops=3, saturations=2)


def test_zero_reset_forgets_the_excess():
    # W = 25, Theta = 10, zero reset, one event at t=0: 25 fires at t=0, V <- 0; nothing more
    q = net([[25]], threshold=10, reset="zero", T=4)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0]], sops=1)


def test_subtract_reset_remainder_fires_again_without_new_events():
    # W = 25, Theta = 10, subtract: t=0: 25 fires, V = 15; t=1 (no event): 15 fires, V = 5;
    # t=2, t=3: 5 < 10, no spike
    q = net([[25]], threshold=10, reset="subtract", T=4)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0], [1, 1, 0]], sops=1)


def test_zero_reset_fires_again_on_new_events():
    # W = 6, Theta = 10, zero reset, events at every step:
    # t0: 6; t1: 12 fires -> 0; t2: 6; t3: 12 fires -> 0
    q = net([[6]], threshold=10, reset="zero", T=4)
    (pair,) = both(q, [[0, 0], [1, 0], [2, 0], [3, 0]])
    expect(pair, prediction=0, trace=[[1, 1, 0], [1, 3, 0]], sops=4)


# -- leak -----------------------------------------------------------------------------------------


def test_leak_of_a_negative_potential_is_an_arithmetic_shift():
    # W = [-5, +3], s = 1, Theta = 1, zero reset
    # t=0: V = -5, no spike; leak: -5 >> 1 = -3 (toward minus infinity), V = -5 - (-3) = -2
    # t=1: -2 + 3 = 1 >= 1 fires. (Truncation toward zero would give -3 and then 0: no spike;
    # no leak would give -2: no spike.)
    q = net([[-5], [3]], threshold=1, leak_shift=1, reset="zero", T=2)
    (pair,) = both(q, [[0, 0], [1, 1]])
    expect(pair, prediction=0, trace=[[1, 1, 0]], sops=2)


@pytest.mark.parametrize("theta1, fires", [(10, True), (11, False)])
def test_leak_of_a_positive_potential(theta1, fires):
    # W = 13, s = 2, Theta = [100, theta1]: t=0: 13 < 100; leak 13 - (13 >> 2 = 3) = 10
    # t=1 (no event; the leak makes the layer sweep): 10 >= 10 fires, 10 >= 11 does not
    q = net([[13]], threshold=[100, theta1], leak_shift=2, T=2)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 1, 0]] if fires else [], sops=1)


def test_fire_happens_before_leak():
    # W = 10, Theta = 10, s = 1: V = 10 fires at t=0 (a leak first would leave 5 < 10)
    q = net([[10]], threshold=10, leak_shift=1, T=1)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0]], sops=1)


def test_leak_is_applied_after_the_subtract_reset():
    # W = 30, Theta = 10, s = 1, subtract:
    # t=0: 30 fires -> 20; leak 20 - 10 = 10.  t=1: 10 fires -> 0; leak 0.  t=2, t=3: 0.
    # (Leak before the reset would give 30 -> 15 -> 5 at t=0 and no spike at t=1.)
    q = net([[30]], threshold=10, leak_shift=1, reset="subtract", T=4)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0], [1, 1, 0]], sops=1)


# -- readout ------------------------------------------------------------------------------------


def test_simultaneous_output_spikes_resolve_to_the_lowest_index():
    # W = [4, 5, 5], Theta = 5: V = [4, 5, 5]; neurons 1 and 2 fire at t=0 -> class 1
    q = net([[4, 5, 5]], threshold=5, T=2)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=1, trace=[[1, 0, 1], [1, 0, 2]], sops=3)


def test_earliest_output_spike_wins_over_a_lower_index():
    # W = [3, 0, 6], Theta = 6, events t=0 and t=1:
    # t0: V = [3, 0, 6]: neuron 2 fires; t1: V = [6, 0, 12]: neuron 0 fires -> class 2
    q = net([[3, 0, 6]], threshold=6, T=2)
    (pair,) = both(q, [[0, 0], [1, 0]])
    expect(pair, prediction=2, trace=[[1, 0, 2], [1, 1, 0]], sops=6)


def test_no_output_spike_reads_the_largest_potential_ties_to_lowest():
    # W = [3, 7, 7], Theta = 100: no spike; final V = [3, 7, 7]; argmax with tie -> class 1
    q = net([[3, 7, 7]], threshold=100, T=2)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=1, trace=[], sops=3)


def test_no_output_spike_with_active_hidden_layer():
    # hidden W = [5, 5], Theta = 5: both fire at t=0. Output W2 = [[2, 1], [1, 2]], Theta = 50:
    # V = [3, 3], no output spike; tie -> class 0. sops = 1 event x 2 + 2 spikes x 2 = 6
    out = Layer(np.array([[2, 1], [1, 2]]), 50)
    q = net([[5, 5]], threshold=5, T=2, more=(out,))
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0], [1, 0, 1]], sops=6)


def test_empty_sample():
    # no events: nothing integrates, no spike; V = [0, 0] -> class 0
    q = net([[3, 7]], threshold=1, T=3)
    (pair,) = both(q, [])
    expect(pair, prediction=0, trace=[], sops=0, steps=3, input_events=0)


def test_max_potential_output_never_fires_resets_or_leaks():
    # max_potential, Theta = 1, zero reset, s = 1 on the output layer; W = [[60, 0], [0, 35]]
    # events (0, 0) and (1, 1). As specified (integrate only): V = [60, 35] -> class 0, no spike.
    # (With leak: t0: 60 -> 30; t1: 30 -> 15 and 35 -> 18 -> class 1. With fire/reset: spikes.)
    q = net([[60, 0], [0, 35]], threshold=1, leak_shift=1, reset="zero", T=2,
            readout="max_potential")
    (pair,) = both(q, [[0, 0], [1, 1]])
    expect(pair, prediction=0, trace=[], sops=4)


def test_max_potential_output_still_saturates():
    # W = [[100, 90], [100, 0]], max_potential: events (0,0), (0,1):
    # neuron 0: 100 + 100 = 200 -> 127 (1 saturation); neuron 1: 90 + 0 = 90 -> class 0
    q = net([[100, 90], [100, 0]], threshold=1, T=1, readout="max_potential")
    (pair,) = both(q, [[0, 0], [0, 1]])
    expect(pair, prediction=0, trace=[], sops=4, saturations=1)


# -- early exit ---------------------------------------------------------------------------------


def test_early_exit_stops_after_the_first_output_spike():
    # W = [3, 2], Theta = 6, events at t = 0..3, T = 6:
    # t0: V = [3, 2]; t1: V = [6, 4]: neuron 0 fires -> stop after t=1: steps 2,
    # input_events 2 (the events at t=2, 3 are never integrated), sops = 2 events x 2 = 4
    q = net([[3, 2]], threshold=6, T=6, early_exit=True)
    (pair,) = both(q, [[0, 0], [1, 0], [2, 0], [3, 0]])
    expect(pair, prediction=0, trace=[[1, 1, 0]], sops=4, steps=2, input_events=2)
    for res in pair:
        assert res.activity.steps == 2
        assert res.activity.events_in.tolist() == [[1], [1]]
        assert res.activity.spikes.tolist() == [[0], [1]]


def test_without_early_exit_the_same_sample_runs_all_steps():
    # as above without early exit: t2: V = [9, 6]: neuron 1 fires; t3: [12, 8];
    # steps 6, input_events 4, sops 8; class 0 (earliest spike)
    q = net([[3, 2]], threshold=6, T=6)
    (pair,) = both(q, [[0, 0], [1, 0], [2, 0], [3, 0]])
    expect(pair, prediction=0, trace=[[1, 1, 0], [1, 2, 1]], sops=8, steps=6, input_events=4)


def test_early_exit_stops_hidden_counters_too():
    # hidden W = [[4, 2]], Theta = 4, zero reset; output W2 = [[1], [3]], Theta = 4; T = 5
    # events input 0 at t = 0..4.
    # t0: hidden V = [4, 2]: h0 fires -> 0; output +1 = 1
    # t1: hidden [4, 4]: h0, h1 fire -> 0, 0; output 1 + 1 + 3 = 5 >= 4 fires -> exit, steps 2
    # spikes (3, 1); sops: 2 events x 2 + 3 hidden spikes x 1 = 7
    out = Layer(np.array([[1], [3]]), 4)
    q = net([[4, 2]], threshold=4, reset="zero", T=5, early_exit=True, more=(out,))
    (pair,) = both(q, [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 1, 0]], sops=7,
           steps=2, input_events=2)


def test_early_exit_without_output_spike_runs_to_the_end():
    # W = [1], Theta = 100: never fires, so all T = 3 steps run
    q = net([[1]], threshold=100, T=3, early_exit=True)
    (pair,) = both(q, [[0, 0], [2, 0]])
    expect(pair, prediction=0, trace=[], sops=2, steps=3, input_events=2)


# -- time-varying tables ------------------------------------------------------------------------


@pytest.mark.parametrize("theta1, fires", [(14, True), (15, False)])
def test_kernel_zero_integrates_nothing_and_two_doubles(theta1, fires):
    # W = 7, K = [0, 2, 1], Theta = [1, theta1, 100], events at t=0, 1:
    # t0: 0 + 7*0 = 0 < 1, no spike; t1: 0 + 7*2 = 14: fires against 14, not against 15
    # sops count the weight applications, K=0 included: 2
    q = net([[7]], threshold=[1, theta1, 100], kernel=[0, 2, 1], T=3)
    (pair,) = both(q, [[0, 0], [1, 0]])
    expect(pair, prediction=0, trace=[[1, 1, 0]] if fires else [], sops=2)


def test_threshold_table_is_read_at_each_step():
    # W = 10, Theta = [20, 15, 10], one event at t=0: V = 10 fails 20 and 15, fires at t=2
    q = net([[10]], threshold=[20, 15, 10], T=3)
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 2, 0]], sops=1)


# -- propagation --------------------------------------------------------------------------------


def test_spikes_propagate_through_layers_in_the_same_step():
    # hidden W = [5, 5], Theta = 5: h0, h1 fire at t=0; output W2 = [[3, 1], [3, 1]], Theta = 6:
    # V = [6, 2] at t=0 -> output 0 fires at t=0. sops = 1 x 2 + 2 x 2 = 6
    out = Layer(np.array([[3, 1], [3, 1]]), 6)
    q = net([[5, 5]], threshold=5, T=2, more=(out,))
    (pair,) = both(q, [[0, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0], [1, 0, 1], [2, 0, 0]], sops=6)


def test_emitted_spikes_are_integrated_in_ascending_neuron_order():
    # hidden W1 = [[0, 0, 5], [5, 5, 0]], Theta = 5; output W2 = [[127], [-100], [100]],
    # Theta = 127, potential_bits 8.
    # t0: input 0 -> h2 fires; output 0 + 100 = 100 < 127
    # t1: input 1 -> h0, h1 fire; output queue [h0, h1]: 100 + 127 = 227 -> 127 (saturation),
    #     127 - 100 = 27 < 127: no output spike. (h1 first would give 0, then 127: a spike.)
    # sops = 2 input events x 3 + 3 hidden spikes x 1 = 9; class = argmax V = 0
    out = Layer(np.array([[127], [-100], [100]]), 127)
    q = net([[0, 0, 5], [5, 5, 0]], threshold=5, T=2, more=(out,))
    (pair,) = both(q, [[0, 0], [1, 1]])
    expect(pair, prediction=0, trace=[[1, 0, 2], [1, 1, 0], [1, 1, 1]], sops=9, saturations=1)


def test_counters_and_activity_per_step_and_layer():
    # hidden W = [[2, 1, 1], [2, 1, 1]], Theta = 2; output W2 = [[1], [1], [1]], Theta = 3; T = 3
    # events (0, 0), (0, 1), (2, 0):
    # t0: hidden V = [4, 2, 2]: all three fire; output 0+1+1+1 = 3 >= 3 fires
    # t1: nothing; t2: one event into the hidden layer (all fired), no more spikes
    # events_in per step [layer1, layer2] = [[2, 3], [0, 0], [1, 0]]
    # spikes = [[3, 1], [0, 0], [0, 0]]; sops = 3 events x 3 + 3 spikes x 1 = 12
    out = Layer(np.array([[1], [1], [1]]), 3)
    q = net([[2, 1, 1], [2, 1, 1]], threshold=2, T=3, more=(out,))
    (pair,) = both(q, [[0, 0], [0, 1], [2, 0]])
    expect(pair, prediction=0, trace=[[1, 0, 0], [1, 0, 1], [1, 0, 2], [2, 0, 0]], sops=12,
           steps=3, input_events=3)
    for res in pair:
        assert res.activity.events_in.tolist() == [[2, 3], [0, 0], [1, 0]]
        assert res.activity.spikes.tolist() == [[3, 1], [0, 0], [0, 0]]
