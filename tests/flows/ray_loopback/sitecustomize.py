"""Test shim for the loopback cluster of tests/flows/test_sweep.py (never installed).

On Linux, Ray replaces a node address of 127.0.0.1 by the machine's network address, and its
single-machine switch refuses worker nodes. The processes of the test cluster (and the client
that joins it) run with this folder on ``PYTHONPATH``, so Python imports this module at start-up;
it makes Ray's node-address lookup answer 127.0.0.1, so every node listens on and talks to the
loopback address only.
"""

import builtins
import sys

_import = builtins.__import__


def _loopback(*args, **kwargs) -> str:
    return "127.0.0.1"


def _import_then_patch(name, *args, **kwargs):
    module = _import(name, *args, **kwargs)
    services = sys.modules.get("ray._private.services")
    if services is not None and getattr(services, "node_ip_address_from_perspective",
                                        None) is not _loopback:
        services.node_ip_address_from_perspective = _loopback
    return module


builtins.__import__ = _import_then_patch
