"""Training: TTFS spiking networks with spike penalties, quantized spike-exact to the core.

Entry points are in :mod:`train.api` (``train_model``, ``quantize_model``, ``load_split``,
``encode_for``); see ``docs/training.md``.
"""
