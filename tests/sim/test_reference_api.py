"""The batched reference model's arguments: types, block size, event validation."""

import numpy as np
import pytest

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import run

Q = QNet(2, 3, (Layer(np.array([[1, 2], [3, 4]]), 2),), 8, 16)


def test_wrong_types():
    ev = EventSet(([[0, 0]],))
    with pytest.raises(TypeError) as exc:
        run(Q.to_json(), ev)
    assert str(exc.value) == "qnet must be a QNet, not dict"
    with pytest.raises(TypeError) as exc:
        run(Q, [[0, 0]])
    assert str(exc.value) == "events must be an EventSet, not list"
    with pytest.raises(TypeError) as exc:
        run(Q, ev, block=2.0)
    assert str(exc.value) == "block must be an integer, not 2.0"


def test_block_must_be_positive():
    with pytest.raises(ConfigError) as exc:
        run(Q, EventSet(([[0, 0]],)), block=0)
    assert str(exc.value) == "block must be >= 1, not 0"


def test_bad_sample_is_named():
    ev = EventSet(([[0, 0]], [], [[1, 1], [1, 1]]))
    with pytest.raises(ConfigError) as exc:
        run(Q, ev)
    assert str(exc.value) == ("sample 2 event 1 [1, 1] does not come after [1, 1]; "
                              "events must be strictly increasing in (t, input)")
    with pytest.raises(ConfigError) as exc:
        run(Q, EventSet(([[3, 0]],)))
    assert str(exc.value) == "sample 0 event 0 has time 3; times must be in 0..2"


def test_no_samples():
    assert run(Q, EventSet(()), trace=True) == []


def test_empty_sample_with_trace():
    # nothing integrates: V = [0, 0], argmax -> 0; an empty (0, 3) trace
    (r,) = run(Q, EventSet((np.zeros((0, 2), dtype=np.int64),)), trace=True)
    assert (r.prediction, r.steps, r.trace.shape, r.counters.sops) == (0, 3, (0, 3), 0)
