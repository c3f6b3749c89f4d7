"""The C++ source of the native Verilator harness (``harness.cpp``), package data of
:mod:`ttfs.verify.verilator`, which builds it with the Verilated core (``docs/harness.md``)."""
