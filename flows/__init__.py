"""The ``ttfs`` command line (:mod:`ttfs.flows.cli`, which only parses and prints), the resumable
end-to-end flow and its steps, and the report. The top layer: it may import every package below
it (``docs/architecture.md``).
"""
