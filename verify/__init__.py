"""The benches: every execution target of an image behind one registry
(:mod:`ttfs.verify.backends`), the cocotb testbench, the native Verilator harness, the Amaranth
simulator backend, and lockstep differential testing against the reference model.

``verify`` imports ``sim`` and ``hw`` only (``docs/architecture.md``); how each rung of the
verification ladder is checked: ``docs/verification.md``; the harness: ``docs/harness.md``.
"""
