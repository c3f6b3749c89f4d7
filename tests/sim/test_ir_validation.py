"""The IR refuses malformed qnet and events files with exact messages, and round-trips JSON."""

import copy
import json

import numpy as np
import pytest

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet, load_events, load_qnet, save_events, save_qnet

BASE = {
    "format": "ttfs.qnet", "version": 1, "n_inputs": 2, "time_steps": 4, "weight_bits": 8,
    "potential_bits": 16, "readout": "first_spike", "early_exit": False,
    "layers": [
        {"weights": [[1, -3, 7], [0, 2, -8]], "threshold": 5, "kernel": 1, "leak_shift": 0,
         "reset": "fire_once"},
        {"weights": [[1], [2], [3]], "threshold": [1, 2, 3, 4]},
    ],
}

ALLOWED = ("['early_exit', 'format', 'layers', 'meta', 'n_inputs', 'potential_bits', "
           "'readout', 'time_steps', 'version', 'weight_bits']")
LAYER_ALLOWED = "['kernel', 'leak_shift', 'reset', 'threshold', 'weights']"


def edited(path, value):
    """BASE with the value at ``path`` (a tuple of keys/indices) replaced; ``...`` deletes it."""
    obj = copy.deepcopy(BASE)
    target = obj
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


QNET_CASES = [
    (("format",), "ttfs.events", 'expected a file with "format": "ttfs.qnet", got \'ttfs.events\''),
    (("format",), ..., 'expected a file with "format": "ttfs.qnet", got None'),
    (("version",), 2, "unsupported ttfs.qnet version 2; this tool reads version 1"),
    (("version",), "1", "unsupported ttfs.qnet version '1'; this tool reads version 1"),
    (("colour",), "red", f"qnet has unknown field 'colour'; allowed: {ALLOWED}"),
    (("n_inputs",), ..., "qnet is missing the field 'n_inputs'"),
    (("layers", 0, "weight"), [[1]],
     f"layer 1 has unknown field 'weight'; allowed: {LAYER_ALLOWED}"),
    (("layers", 1, "threshold"), ..., "layer 2 is missing the field 'threshold'"),
    (("layers",), {}, "qnet 'layers' must be a list of layer objects"),
    (("layers",), [], "a network needs at least one layer"),
    (("layers", 0), [[1, 2]], "layer 1 must be a JSON object"),
    # shapes
    (("layers", 0, "weights"), [[1, 2, 3]], "layer 1 weights have 1 rows; expected 2 (n_inputs)"),
    (("layers", 1, "weights"), [[1], [2]],
     "layer 2 weights have 2 rows; expected 3 (layer 1's n_out)"),
    (("layers", 0, "weights"), [[1, 2, 3], [4, 5]],
     "layer 1 weights must be a rectangular 2-D list of integers, got 1-D data of shape (2,)"),
    (("layers", 0, "weights"), [1, 2],
     "layer 1 weights must be a rectangular 2-D list of integers, got 1-D data of shape (2,)"),
    (("layers", 0, "weights"), 3, "layer 1 weights must be a 2-D list of integers, not 3"),
    (("layers", 0, "weights"), [[], []], "layer 1 must have 1..65536 neurons, not 0"),
    # non-integer weights
    (("layers", 0, "weights"), [[1, 1.5, 0], [0, 0, 0]],
     "layer 1 weights[0][1] must be an integer, not 1.5"),
    (("layers", 0, "weights"), [[1, 2, 0], [0, "3", 0]],
     "layer 1 weights[1][1] must be an integer, not '3'"),
    (("layers", 0, "weights"), [[1, 2, True], [0, 0, 0]],
     "layer 1 weights[0][2] must be an integer, not True"),
    (("layers", 0, "weights"), [[1, 2, 3], [0, None, 0]],
     "layer 1 weights[1][1] must be an integer, not None"),
    # ranges
    (("layers", 0, "weights"), [[1, 128, 0], [0, 0, 0]],
     "layer 1 weight 128 does not fit weight_bits=8"),
    (("layers", 0, "weights"), [[1, 0, 0], [0, 0, -129]],
     "layer 1 weight -129 does not fit weight_bits=8"),
    (("layers", 0, "threshold"), 0, "layer 1 threshold 0 is outside 1..32767 (potential_bits=16)"),
    (("layers", 1, "threshold"), [1, 2, 32768, 4],
     "layer 2 threshold 32768 is outside 1..32767 (potential_bits=16)"),
    (("layers", 1, "threshold"), [1, 2, 3],
     "layer 2 threshold must be one integer or a list of time_steps=4 integers, got a list of 3"),
    (("layers", 0, "threshold"), 2.0,
     "layer 1 threshold must be one integer or a list of time_steps=4 integers, not 2.0"),
    (("layers", 0, "kernel"), -1, "layer 1 kernel entry -1 is outside 0..65535"),
    (("layers", 0, "leak_shift"), 16, "layer 1 leak_shift must be in 0..15, not 16"),
    (("layers", 0, "leak_shift"), -1, "layer 1 leak_shift must be in 0..15, not -1"),
    (("layers", 0, "leak_shift"), True, "layer 1: leak_shift must be an integer, not True"),
    (("layers", 0, "reset"), "hold",
     "layer 1: Reset mode must be one of 'fire_once', 'zero', 'subtract', not 'hold'"),
    # header values
    (("readout",), "vote", "readout must be one of 'first_spike', 'max_potential', not 'vote'"),
    (("early_exit",), 1, "early_exit must be true or false, not 1"),
    (("weight_bits",), 17, "weight_bits must be in 2..16, not 17"),
    (("potential_bits",), 33, "potential_bits must be in 2..32, not 33"),
    (("time_steps",), 0, "time_steps must be in 1..65536, not 0"),
    (("n_inputs",), 2.0, "n_inputs must be an integer, not 2.0"),
    (("meta",), [], "meta must be a JSON object, not list"),
]


@pytest.mark.parametrize("path, value, message", QNET_CASES)
def test_malformed_qnet_is_refused(path, value, message):
    with pytest.raises(ConfigError) as exc:
        QNet.from_json(edited(path, value))
    assert str(exc.value) == message


def test_early_exit_needs_first_spike_readout():
    obj = edited(("readout",), "max_potential")
    obj["early_exit"] = True
    with pytest.raises(ConfigError) as exc:
        QNet.from_json(obj)
    assert str(exc.value) == "early_exit needs readout 'first_spike', not 'max_potential'"


def test_qnet_file_must_hold_an_object():
    with pytest.raises(ConfigError) as exc:
        QNet.from_json([1, 2])
    assert str(exc.value) == "a qnet file must hold a JSON object, not list"


def test_bool_weight_array_is_refused():
    with pytest.raises(ConfigError) as exc:
        Layer(np.ones((2, 2), dtype=bool))
    assert str(exc.value) == "weights must be integers, not an array of dtype bool"


def test_qnet_files_round_trip(tmp_path):
    q = QNet.from_json(edited(("meta",), {"method": "spike-count", "lambda": 0.5}))
    path = tmp_path / "qnet.json"
    save_qnet(q, path)
    back = load_qnet(path)
    assert back.equals(q)
    assert back.meta == {"method": "spike-count", "lambda": 0.5}
    assert back.layers[1].threshold.tolist() == [1, 2, 3, 4]
    assert back.layers[0].kernel.tolist() == [1, 1, 1, 1]
    # a constant table is written as one integer, a varying one as a list
    obj = json.loads(path.read_text())
    assert obj["layers"][0]["threshold"] == 5
    assert obj["layers"][1]["threshold"] == [1, 2, 3, 4]
    assert QNet.from_json(back.to_json()).to_json() == obj


def test_defaults_fill_optional_fields():
    obj = edited(("readout",), ...)
    del obj["early_exit"]
    q = QNet.from_json(obj)
    assert (q.readout, q.early_exit) == ("first_spike", False)
    layer = q.layers[1]
    assert (layer.kernel.tolist(), layer.leak_shift, layer.reset) == ([1, 1, 1, 1], 0, "fire_once")


def test_unreadable_files(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as exc:
        load_qnet(missing)
    assert str(exc.value) == f"qnet file {str(missing)!r} does not exist"
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_events(bad)
    assert str(exc.value) == (
        f"events file {str(bad)!r} is not valid JSON: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


# -- events ---------------------------------------------------------------------------------


def events_obj(samples, **extra):
    return {"format": "ttfs.events", "version": 1, "samples": samples, **extra}


EVENT_CASES = [
    (events_obj([[[0, 1]]], foo=1),
     "events file has unknown field 'foo'; allowed: ['format', 'labels', 'samples', 'version']"),
    ({"format": "ttfs.events", "version": 1}, "events file is missing the field 'samples'"),
    ({"format": "ttfs.qnet", "version": 1, "samples": []},
     'expected a file with "format": "ttfs.events", got \'ttfs.qnet\''),
    ({"format": "ttfs.events", "version": 3, "samples": []},
     "unsupported ttfs.events version 3; this tool reads version 1"),
    (events_obj({}), "events 'samples' must be a list of samples"),
    (events_obj([[[0, 1], [2]]]),
     "sample 0 events must be a rectangular 2-D list of integers, got 1-D data of shape (2,)"),
    (events_obj([[], [[0, 1, 2]]]), "sample 1 must be a list of [t, input] pairs, got rows of 3"),
    (events_obj([5]), "sample 0 events must be a 2-D list of integers, not 5"),
    (events_obj([[[0.5, 1]]]), "sample 0 events[0][0] must be an integer, not 0.5"),
    (events_obj([[[0, "1"]]]), "sample 0 events[0][1] must be an integer, not '1'"),
    (events_obj([[[0, True]]]), "sample 0 events[0][1] must be an integer, not True"),
    (events_obj([[[0, 1]]], labels=[0, 1]), "labels has 2 entries for 1 samples"),
    (events_obj([[[0, 1]]], labels=[-1]), "labels must be >= 0, got -1"),
    (events_obj([[[0, 1]]], labels=[0.5]), "labels[0] must be an integer, not 0.5"),
    (events_obj([[[0, 1]]], labels=5), "labels must be a 1-D list of integers, not 5"),
    ([1], "an events file must hold a JSON object, not list"),
]


@pytest.mark.parametrize("obj, message", EVENT_CASES)
def test_malformed_events_are_refused(obj, message):
    with pytest.raises(ConfigError) as exc:
        EventSet.from_json(obj)
    assert str(exc.value) == message


CHECK_CASES = [
    ([[0, 0], [4, 1]], "sample 1 event 1 has time 4; times must be in 0..3"),
    ([[-1, 0]], "sample 1 event 0 has time -1; times must be in 0..3"),
    ([[0, 0], [1, 2]], "sample 1 event 1 has input 2; inputs must be in 0..1"),
    ([[0, -1]], "sample 1 event 0 has input -1; inputs must be in 0..1"),
    ([[1, 0], [0, 1]], "sample 1 event 1 [0, 1] does not come after [1, 0]; "
                       "events must be strictly increasing in (t, input)"),
    ([[1, 1], [1, 0]], "sample 1 event 1 [1, 0] does not come after [1, 1]; "
                       "events must be strictly increasing in (t, input)"),
    ([[0, 1], [2, 0], [2, 0]], "sample 1 event 2 [2, 0] does not come after [2, 0]; "
                               "events must be strictly increasing in (t, input)"),
]


@pytest.mark.parametrize("bad, message", CHECK_CASES)
def test_events_are_checked_against_the_network(tmp_path, bad, message):
    q = QNet.from_json(BASE)  # T = 4, n_inputs = 2
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events_obj([[[0, 0]], bad])), encoding="utf-8")
    load_events(path)  # well-formed without a network to check against
    with pytest.raises(ConfigError) as exc:
        load_events(path, q)
    assert str(exc.value) == message


def test_labels_outside_the_network_outputs_are_refused_against_it(tmp_path):
    q = QNet.from_json(BASE)  # one output neuron: labels 0..0
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events_obj([[[0, 0]], [], [[1, 1]]], labels=[0, 0, 3])),
                    encoding="utf-8")
    assert load_events(path).labels.tolist() == [0, 0, 3]  # no network, no range to check
    with pytest.raises(ConfigError) as exc:
        load_events(path, q)
    assert str(exc.value) == "sample 2 has label 3, outside the network's 1 outputs (labels 0..0)"
    ev = EventSet(([], [], []), labels=[0, 2, 5])
    with pytest.raises(ConfigError) as exc:
        ev.check(4, 2, 3)
    assert str(exc.value) == "sample 2 has label 5, outside the network's 3 outputs (labels 0..2)"
    ev.check(4, 2)  # without n_outputs: times and inputs only, as before
    EventSet(([],)).check(4, 2, 1)  # unlabelled: nothing to check


def test_events_round_trip(tmp_path):
    ev = EventSet(
        (np.array([[0, 1], [2, 0]]), np.zeros((0, 2), dtype=np.int64), [[3, 1]]),
        labels=[2, 0, 1],
    )
    path = tmp_path / "events.json"
    save_events(ev, path)
    three_out = edited(("layers", 1, "weights"), [[1, 0, 0], [2, 0, 0], [3, 0, 0]])
    back = load_events(path, QNet.from_json(three_out))
    assert [s.tolist() for s in back.samples] == [[[0, 1], [2, 0]], [], [[3, 1]]]
    assert back.labels.tolist() == [2, 0, 1]
    assert json.loads(path.read_text()) == {
        "format": "ttfs.events", "version": 1,
        "samples": [[[0, 1], [2, 0]], [], [[3, 1]]], "labels": [2, 0, 1],
    }
    unlabelled = EventSet((np.array([[0, 0]]),))
    assert "labels" not in unlabelled.to_json()
    assert EventSet.from_json(unlabelled.to_json()).labels is None


def test_event_arrays_are_read_only():
    ev = EventSet(([[0, 1]],))
    with pytest.raises(ValueError):
        ev.samples[0][0, 0] = 3
