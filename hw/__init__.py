"""The TTFS neuron core in Amaranth 0.5 (DESIGN section 4).

* :mod:`hw.core` - :class:`~hw.core.NeuronCore`, the top ``wiring.Component`` and its sequencer;
* :mod:`hw.blocks`, :mod:`hw.loader` - its sub-blocks (neuron array, memories, event fetch and
  queue, result serializer, image loader);
* :mod:`hw.params` - widths, record layout and status flags of a build;
* :mod:`hw.emit` - Verilog for the core (``ttfs_core``), its blocks, and a synthesis wrapper;
* :mod:`hw.simulate` - the ``amaranth`` backend (Amaranth's simulator driving the streams);
* :mod:`hw.synth` - FPGA synthesis reports (resources, Fmax).

Ports: ``docs/core-interface.md``; design and cycle-cost rule: ``docs/microarchitecture.md`` and
:mod:`sim.costmodel`. ``hw`` depends on ``sim`` (never on ``train``).
"""
