"""The TTFS neuron core in Amaranth 0.5 (``docs/microarchitecture.md``).

* :mod:`hw.core` - :class:`~hw.core.NeuronCore`, the top ``wiring.Component``: its counters,
  sequencer and result record;
* :mod:`hw.blocks`, :mod:`hw.loader` - its sub-blocks (neuron array, memories, event fetch and
  queue, result serializer, image loader);
* :mod:`hw.params` - the widths and counter bounds of a build (the stream words, record layout
  and status flags are :mod:`sim.protocol`'s);
* :mod:`hw.emit` - Verilog for the core (``ttfs_core``), its blocks, and a synthesis wrapper;
* :mod:`hw.synth` - FPGA synthesis reports (resources, Fmax); :mod:`hw.depth` - the logic depth
  of a synthesized netlist.

The simulation backends that run the core live in ``verify`` (``verify.amaranth``: Amaranth's
simulator driving the streams). Ports: ``docs/core-interface.md``; design and cycle-cost rule:
``docs/microarchitecture.md`` and :mod:`sim.costmodel`. ``hw`` depends on ``sim`` (never on
``train`` or ``verify``).
"""
