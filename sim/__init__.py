"""The executable specification: number formats, the quantized-network IR, the reference model,
the image, and the energy model. Depends on numpy only (a test holds it to that)."""

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import (
    ConfigError,
    FitError,
    ImageError,
    MismatchError,
    ToolchainError,
    TTFSError,
)
from ttfs.sim.ir import EventSet, Layer, QNet, load_events, load_qnet, save_events, save_qnet

__all__ = [
    "ConfigError", "CoreConfig", "EventSet", "FitError", "ImageError", "Layer", "MismatchError",
    "QNet", "TTFSError", "ToolchainError", "load_events", "load_qnet", "save_events", "save_qnet",
]
