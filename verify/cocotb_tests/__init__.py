"""cocotb test modules, run inside the simulator by ``cocotb_tools.runner`` (never by pytest).

``core_job`` runs a job file (``TTFS_JOB``) through :class:`verify.tb.TB` on ``ttfs_core``
and writes ``TTFS_RESULTS``; ``blocks`` holds the block-level tests.
"""
