"""Training: TTFS spiking networks with spike penalties, quantized spike-exact to the core.

Entry points are in :mod:`ttfs.train.api` (``train_model``, ``quantize_model``, ``load_split``,
``encode_for``); the methods are in the registry :mod:`ttfs.train.methods`. See
``docs/training.md``.
"""
