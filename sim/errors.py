"""The error families of the flow.

Callers catch these; the command line maps each family to an exit code (see ``flows.cli``):

========================  ====  =========================================================
family                    exit  raised for
========================  ====  =========================================================
:class:`ConfigError`      2     a bad network, events file, core configuration or flow config
:class:`ImageError`       2     a malformed, truncated or corrupted image
:class:`FitError`         2     a network that does not fit the core it is compiled for
:class:`ToolchainError`   3     a missing or failing external tool (Verilator, yosys, ...)
:class:`MismatchError`    4     two backends disagree (verification failure)
========================  ====  =========================================================

``ConfigError``, ``ImageError`` and ``FitError`` are also ``ValueError``s, so code that only knows
the standard library can still catch them.
"""

__all__ = ["TTFSError", "ConfigError", "ImageError", "FitError", "ToolchainError", "MismatchError"]


class TTFSError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1


class ConfigError(TTFSError, ValueError):
    """A network, events file, core configuration or flow configuration is invalid."""

    exit_code = 2


class ImageError(TTFSError, ValueError):
    """An image is malformed: bad magic or version, truncated, too long, or fails its checksum."""

    exit_code = 2


class FitError(ConfigError):
    """A network or image does not fit the core configuration it is meant to run on."""

    exit_code = 2


class ToolchainError(TTFSError, RuntimeError):
    """An external tool (Verilator, yosys, nextpnr, a C++ compiler) is missing or failed."""

    exit_code = 3


class MismatchError(TTFSError, AssertionError):
    """Two models of the same computation disagree; the message names the first divergence."""

    exit_code = 4
