"""The sub-blocks of :class:`hw.core.NeuronCore`, each a ``wiring.Component``.

Pipeline stage prefixes (used in :class:`NeuronArray`): ``a_`` the issue register (weight and
table read addresses), ``b_`` weight row, kernel and threshold registered, ``m_`` ``W*K`` and
the membrane read, ``c_`` forwarding, saturating add, or fire compare, ``d_`` integrate
write-back, reset and fire mask, ``e_`` the leak's shift, ``f_`` the leak's subtract
and sweep write-back. In
:class:`EventQueue`: ``e1_`` a spike leaving the mask FIFO (trace), ``e2_``/``e3_`` its queue
row and write.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ttfs.hw.params import Widths

__all__ = ["WeightMemory", "ParameterTables", "ThresholdLookahead", "NeuronArray", "EventFetch",
           "EventQueue", "ResultSerializer", "INTEG", "SWEEP"]

#: registered stages of the layer bounds' max tree after ``d_`` (then the fold): the bounds are
#: final ``5 + BOUND_STAGES + 1`` cycles after an op's issue (``sim.costmodel.SETTLE_CYCLES``
#: waits for them)
BOUND_STAGES = 3

#: op kinds of the neuron array
SWEEP = 0
INTEG = 1

#: reset mode codes (docs/image.md, descriptor d1)
FIRE_ONCE, ZERO, SUBTRACT = 0, 1, 2


def small_mul(a, b):
    """``a * b`` (unsigned) as a sum of shifted copies of ``a``, one per bit of ``b``.

    For the index arithmetic (row = input * chunks and the like), where ``b`` is a few bits wide:
    spelt out so synthesis builds it from LUTs and leaves the DSP blocks to the lanes' ``W * K``.
    """
    terms = [Mux(b[i], a << i, 0) for i in range(len(b))] or [Const(0, 1)]
    while len(terms) > 1:  # a balanced adder tree: depth log2(len(b))
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


#: the memories' attribute telling synthesis that a read in the cycle of a write to the same
#: address may return anything (see docs/microarchitecture.md, "Read during write")
NO_RW_CHECK = {"no_rw_check": 1}

#: the threshold lookahead's memories (ThresholdLookahead): LUT RAM where the part has it (ECP5;
#: a block RAM's slow clock-to-output would start the skip decisions' compares), block RAM on the
#: iCE40, which has no LUT RAM (``hw.synth`` drops the style there)
LOOKAHEAD_RAM = {**NO_RW_CHECK, "ram_style": "distributed"}

#: membrane memories up to this depth are read without an output register (see NeuronArray)
MEMB_LUTRAM_DEPTH = 32


def _at_most(bits, k: int):
    """Whether at most ``k`` of ``bits`` are set, as a balanced tree of saturating counts (per
    node the flags "at least 1 .. k+1 set"): plain logic, where ``(x & (x - 1)) == 0`` and the
    like would put a carry chain in the path."""
    nodes = [[bits[i]] + [Const(0)] * k for i in range(len(bits))]
    while len(nodes) > 1:
        pairs = []
        for i in range(0, len(nodes), 2):
            if i + 1 < len(nodes):
                a, b = [Const(1)] + nodes[i], [Const(1)] + nodes[i + 1]
                # at least n set: at least j on the left and n - j on the right, for some j
                pairs.append([_any(a[j] & b[n - j] for j in range(n + 1))
                              for n in range(1, k + 2)])
            else:
                pairs.append(nodes[i])
        nodes = pairs
    return ~nodes[0][k]


def _any(terms):
    out = Const(0)
    for t in terms:
        out = out | t
    return out


def _ring_next(ptr, depth: int):
    """The next slot of a ring of ``depth`` slots after ``ptr`` (a FIFO's pointer)."""
    return Mux(ptr == depth - 1, 0, ptr + 1)


def guarded_read(m, w: Widths, wp, rp, name: str):
    """``rp.data`` as the design may use it.

    The memories are marked :data:`NO_RW_CHECK`: synthesis may build them so that a read in the
    cycle of a write to the same address returns anything, and the design must never use such a
    word (it forwards the value instead, or the word is unused then). Simulation keeps one
    behaviour (the old word, or the new one through a transparent port), so on a ``poison``
    build, the one every simulation backend runs, such a read returns its bits inverted: a
    result that depended on it would then differ from the reference model.
    """
    if not w.poison:
        return rp.data
    hit = Signal(name=f"{name}_rw_hit")
    # (a write port with lane enables writes when any lane is enabled)
    m.d.sync += hit.eq((wp.en != 0) & (wp.addr == rp.addr))
    return rp.data ^ Mux(hit, Const((1 << len(rp.data)) - 1, len(rp.data)), 0)


def vmax(a, b):
    """The larger of two unsigned values: one compare and one multiplexer."""
    return Mux(a >= b, a, b)


def max_levels(vals: list, levels: int) -> list:
    """``levels`` levels of a max tree over ``vals`` (pairs from the front, an odd last value
    passed on), or fewer once one value is left."""
    for _ in range(levels):
        if len(vals) == 1:
            break
        vals = [vmax(vals[k], vals[k + 1]) if k + 1 < len(vals) else vals[k]
                for k in range(0, len(vals), 2)]
    return vals


def _addr_bits(depth: int) -> int:
    return max(0, (depth - 1).bit_length())


def _cb_addr_bits(w: Widths) -> int:
    """Address width of the chunk-bound memory (``Cat(group, layer)``; at least one bit, so a
    one-layer, one-group build has no zero-width address)."""
    return max(1, _addr_bits(w.ML << w.group_bits))


class WeightMemory(wiring.Component):
    """The weight memory: ``weight_depth`` rows of ``lanes`` weights (``weight_bits`` each, lane
    ``p`` at bits ``p*WB``), one block RAM with a write port (the loader) and a synchronous read
    port (the neuron array). Counterpart: the packed rows of :func:`sim.image.pack`.

    Latency 1 (address in cycle k, row in cycle k+1); one read and one write per cycle.

    Members: ``w_en``, ``w_addr``, ``w_data`` (write); ``r_addr``, ``r_data`` (read).
    """

    def __init__(self, widths: Widths):
        self._w = widths
        ab = _addr_bits(widths.WD)
        super().__init__({
            "w_en": In(1), "w_addr": In(widths.row), "w_data": In(widths.P * widths.WB),
            "r_addr": In(widths.row), "r_data": Out(widths.P * widths.WB),
        })
        self._ab = ab

    def elaborate(self, platform):
        m = Module()
        w = self._w
        m.submodules.mem = mem = Memory(shape=unsigned(w.P * w.WB), depth=w.WD, init=[],
                                          attrs=NO_RW_CHECK)
        wp = mem.write_port()
        rp = mem.read_port()
        m.d.comb += [
            wp.en.eq(self.w_en), wp.addr.eq(self.w_addr[:self._ab]), wp.data.eq(self.w_data),
            rp.addr.eq(self.r_addr[:self._ab]),
            self.r_data.eq(guarded_read(m, w, wp, rp, "weights")),
        ]
        return m


class ParameterTables(wiring.Component):
    """The threshold and kernel tables ``Theta_l[t]`` and ``K_l[t]``, at address
    ``Cat(t, layer)``: two block RAMs written by the loader and read by the neuron array for
    every op (so ops of different layers and steps can follow each other without a bubble).

    Latency 1; one read and one write per table per cycle, and a second read port on the
    kernel table for the sequencer's reach test (``K_1[t]``: ``k0_addr``, ``k0``).

    Members: ``th_en/th_addr/th_data``, ``k_en/k_addr/k_data`` (writes); ``r_addr``, ``th``, ``k``;
    ``k0_addr``, ``k0``.
    """

    def __init__(self, widths: Widths):
        self._w = widths
        ab = _addr_bits(widths.table_depth)
        self._ab = ab
        super().__init__({
            "th_en": In(1), "th_addr": In(ab), "th_data": In(widths.PB - 1 or 1),
            "k_en": In(1), "k_addr": In(ab), "k_data": In(widths.KB),
            "r_addr": In(ab), "th": Out(widths.PB - 1 or 1), "k": Out(widths.KB),
            "k0_addr": In(ab), "k0": Out(widths.KB),
        })

    def elaborate(self, platform):
        m = Module()
        w = self._w
        m.submodules.th_mem = th = Memory(shape=unsigned(w.PB - 1 or 1), depth=w.table_depth,
                                          init=[], attrs=NO_RW_CHECK)
        m.submodules.k_mem = km = Memory(shape=unsigned(w.KB), depth=w.table_depth, init=[],
                                         attrs=NO_RW_CHECK)
        for name, mem, en, addr, data, out in (
                ("th", th, self.th_en, self.th_addr, self.th_data, self.th),
                ("k", km, self.k_en, self.k_addr, self.k_data, self.k)):
            wp = mem.write_port()
            rp = mem.read_port()
            m.d.comb += [wp.en.eq(en), wp.addr.eq(addr), wp.data.eq(data),
                         rp.addr.eq(self.r_addr), out.eq(guarded_read(m, w, wp, rp, name))]
            if name == "k":
                rp0 = mem.read_port()
                m.d.comb += [rp0.addr.eq(self.k0_addr),
                             self.k0.eq(guarded_read(m, w, wp, rp0, "k0"))]
        return m


class ThresholdLookahead(wiring.Component):
    """The thresholds the sequencer's skip decisions compare the layer bounds with, for all
    layers at once: ``Theta_l[t + 1]`` (``th_next``, in every cycle, also right after ``t``
    moved to ``t + 1``), ``Theta_l[e]`` and ``Theta_l[e - 1]`` for the time ``e`` of the next
    input event (``th_ev``, ``th_gap``), ``Theta_l[T - 1]`` (``th_last``), and ``rise_l``, the
    last step at which the table rises (``Theta_l[t] > Theta_l[t - 1]``; 0 if it never does), so
    the table is non-increasing from ``rise_l`` on.

    Per layer, four small RAMs, copies of its threshold table written with the shared one by
    the loader (which writes each layer's table in step order): two read at ``t + 1`` and
    ``t + 2`` (``th_next`` takes the second when ``t`` moved by one at the last edge, ``inc``
    the cycle before, else the first), one read at ``ev_time`` and one at ``ev_time - 1`` (the
    subtract on the read side: the write side starts at the loader, whose paths are long).
    Reads have a cycle's latency: a value is for the ``t`` / ``ev_time`` of the cycle before.
    ``rise_l`` and ``th_last`` are computed from the writes as they pass.

    Members: ``th_en/th_addr/th_data`` (the loader's table writes, address ``Cat(t, layer)``),
    ``t``, ``inc``, ``ev_time``; per layer ``l`` at bits ``l * (PB - 1)`` (``l * t_idx`` for
    ``rise``): ``th_next``, ``th_ev``, ``th_gap``, ``th_last``, ``rise``.
    """

    def __init__(self, widths: Widths):
        self._w = widths
        vb = widths.PB - 1 or 1
        ML, ti = widths.ML, max(1, widths.t_idx)
        super().__init__({
            "th_en": In(1), "th_addr": In(_addr_bits(widths.table_depth)), "th_data": In(vb),
            "t": In(widths.t_idx), "inc": In(1), "ev_time": In(widths.t_idx),
            "th_next": Out(ML * vb), "th_ev": Out(ML * vb), "th_gap": Out(ML * vb),
            "th_last": Out(ML * vb), "rise": Out(ML * ti),
        })

    def elaborate(self, platform):
        m = Module()
        w = self._w
        vb = w.PB - 1 or 1
        ti = w.t_idx
        rb = max(1, ti)
        layer = self.th_addr[ti:]
        tt = self.th_addr[:ti]
        inc_r = Signal()
        m.d.sync += inc_r.eq(self.inc)
        # the last value written (the loader writes a layer's table in step order, so at a
        # layer's entry t > 0 it is entry t - 1), for the rise
        prev = Signal(vb)
        with m.If(self.th_en):
            m.d.sync += prev.eq(self.th_data)
        # (a slot that never fires, the top one on a build without a spiking output layer, has
        # no tables: its outputs stay 0 and are never used)
        for k in range(w.fire_layers):
            sl = slice(k * vb, (k + 1) * vb)
            wen = self.th_en & (layer == k)

            def copy(name, waddr, raddr, k=k, wen=wen):
                mem = Memory(shape=unsigned(vb), depth=1 << ti, init=[], attrs=LOOKAHEAD_RAM)
                m.submodules[f"{name}{k}"] = mem
                wp = mem.write_port()
                rp = mem.read_port()
                m.d.comb += [wp.en.eq(wen), wp.addr.eq(waddr), wp.data.eq(self.th_data),
                             rp.addr.eq(raddr)]
                return guarded_read(m, w, wp, rp, f"{name}{k}")

            n1 = copy("th_next1_", tt, (self.t + 1)[:ti])
            n2 = copy("th_next2_", tt, (self.t + 2)[:ti])
            m.d.comb += [self.th_next[sl].eq(Mux(inc_r, n2, n1)),
                         self.th_ev[sl].eq(copy("th_ev", tt, self.ev_time)),
                         self.th_gap[sl].eq(copy("th_gap", tt, (self.ev_time - 1)[:ti]))]
            last = Signal(vb, name=f"th_last{k}")
            rise = Signal(rb, name=f"rise{k}")
            with m.If(wen):
                m.d.sync += last.eq(self.th_data)
                with m.If(tt == 0):
                    m.d.sync += rise.eq(0)
                with m.Elif(self.th_data > prev):
                    m.d.sync += rise.eq(tt)
            m.d.comb += [self.th_last[sl].eq(last), self.rise[k * rb:(k + 1) * rb].eq(rise)]
        return m


class NeuronArray(wiring.Component):
    """P neurons updated per cycle: the integrate and fire/leak datapath with the membrane memory.

    Each issued op names a layer, a chunk (P neurons) and, for an integrate op, a weight row:

    * integrate (``sim.reference`` step 1): ``V[p] <- sat(V[p] + W[row][p] * K_l[t])``;
    * sweep (step 2): for lanes that may fire (not ``fire_once``-fired), ``V >= Theta_l[t]``
      fires: reset (``zero`` 0, ``subtract`` ``V - Theta``, ``fire_once`` marks fired), then leak
      ``V - (V >> s)``; the fire mask of a chunk with any spike is pushed to the spike FIFO.

    Throughput one op per cycle, any mix, no bubbles. The weight and table RAMs' outputs are
    registered before they are used (``b_`` -> ``m_``); the membrane word is read at the end of
    ``m_`` and used in ``c_`` straight from the RAM's read register (a memory deeper than
    :data:`MEMB_LUTRAM_DEPTH` is read at the end of ``b_`` and registered, and its integrate ops
    write back from ``c_``; described here for the shallow one). An integrate op writes its
    registered result at the end of ``d_``: the op one ahead writes an edge after this op's
    read and the op two ahead at the edge of it, so both results are forwarded into ``c_``
    (from ``d_`` and ``d2_``, registered selects): consecutive ops on the same chunk see each
    other's result. A read in the cycle of a write to its address is never used
    (:func:`guarded_read`). Sweep ops write back in ``f_`` (in ``d_`` on a build without the
    leak). The sequencer issues no integrate op within :data:`sim.costmodel.GAP_CYCLES` of a
    sweep op (the one write port), and the next op on a swept layer comes at a later step, so
    no op ever reads a word a sweep op still holds. Latency (issue = the cycle ``i_valid`` is
    high): integrate write-back 5 cycles (4 on a deep membrane), fire-mask push 5 cycles,
    sweep write-back 7 cycles (5 on a build without the leak).

    Stages: ``a_`` issue register (RAM addresses); ``b_`` weights, kernel, threshold registered
    (a sweep op's kernel is forced to 0, so its sum is its potential); ``m_`` ``W*K``, membrane
    read; ``c_`` forwarding, saturating add, fire compare; ``d_`` integrate write-back, reset and
    fire mask; ``e_`` the leak's shift ``V >> s``; ``f_`` ``V - (V >> s)`` and sweep
    write-back.

    Members: ``i_valid/i_integ/i_layer/i_chunk/i_t/i_row/i_reset/i_leak`` (the issued op);
    ``i_fresh`` (the op's word is taken as 0, not read: an op of its layer's first pass in a
    sample, the lazy clear of docs/microarchitecture.md); ``w_addr``/``w_data`` and
    ``t_addr``/``th``/``k`` (memory ports); ``rd_en/rd_addr/rd_data`` (readout reads while
    idle);
    ``sat_count`` (saturated lanes of the integrate op that was in ``d_`` the cycle before),
    ``fire_valid/fire_chunk/fire_mask`` (a sweep chunk's nonzero fire mask), ``busy``.
    """

    def __init__(self, widths: Widths):
        w = self._w = widths
        self._mab = _addr_bits(w.memb_depth)
        self._tab = _addr_bits(w.table_depth)
        super().__init__({
            "i_valid": In(1), "i_integ": In(1), "i_layer": In(w.layer_idx),
            "i_chunk": In(w.chunk_idx), "i_t": In(w.t_idx), "i_row": In(w.row),
            "i_reset": In(2), "i_leak": In(5), "i_fresh": In(1),
            "w_addr": Out(w.row), "w_data": In(w.P * w.WB),
            "t_addr": Out(self._tab), "th": In(w.PB - 1 or 1), "k": In(w.KB),
            "rd_en": In(1), "rd_addr": In(self._mab), "rd_data": Out(w.memb_width),
            "sat_count": Out(_addr_bits(w.P + 1) or 1),
            "fire_valid": Out(1), "fire_chunk": Out(w.chunk_idx), "fire_mask": Out(w.P),
            "busy": Out(1),
            "bound_clear": In(1),
            "bound": Out(w.ML * (w.PB - 1 or 1)), "fire_now": Out(w.ML),
            **({
                "i_raise": In(1),
                "cb_raddr": In(_cb_addr_bits(w)), "cb_rdata": Out(w.SW * (w.PB - 1 or 1)),
                "bound_set": In(1), "bound_set_layer": In(w.layer_idx),
                "bound_set_value": In(w.PB - 1 or 1), "th_q": Out(w.PB - 1 or 1),
            } if w.SW else {}),
        })

    def elaborate(self, platform):
        m = Module()
        w = self._w
        P, PB, WB, KB = w.P, w.PB, w.WB, w.KB
        lo, hi = -(1 << (PB - 1)), (1 << (PB - 1)) - 1
        ci, li = w.chunk_idx, w.layer_idx

        def lane(word, p):
            return word[p * PB:(p + 1) * PB].as_signed()

        def fired(word):
            return word[P * PB:]

        m.submodules.mem = mem = Memory(shape=unsigned(w.memb_width), depth=w.memb_depth, init=[],
                                     attrs=NO_RW_CHECK)
        wp = mem.write_port()
        rp = mem.read_port()

        def maddr(chunk, layer):
            return Cat(chunk, layer)[:self._mab]

        # a_: the issue register
        a_valid = Signal()
        a_integ = Signal()
        a_layer = Signal(li)
        a_chunk = Signal(ci)
        a_t = Signal(w.t_idx)
        a_row = Signal(w.row)
        a_reset = Signal(2)
        a_leak = Signal(5)
        a_fresh = Signal()
        m.d.sync += [
            a_valid.eq(self.i_valid), a_integ.eq(self.i_integ), a_layer.eq(self.i_layer),
            a_chunk.eq(self.i_chunk), a_t.eq(self.i_t), a_row.eq(self.i_row),
            a_reset.eq(self.i_reset), a_leak.eq(self.i_leak), a_fresh.eq(self.i_fresh),
        ]
        m.d.comb += [self.w_addr.eq(a_row), self.t_addr.eq(Cat(a_t, a_layer)[:self._tab])]

        # b_: weights, kernel, threshold leave the block RAMs and are registered straight away
        # (the registers can sit in the RAMs' outputs or the multipliers' inputs); the membrane
        # word is addressed
        def follow(prefix, src: dict):
            regs = {}
            for name, sig in src.items():
                r = Signal.like(sig, name=f"{prefix}_{name}")
                m.d.sync += r.eq(sig)
                regs[name] = r
            return regs

        a = {"valid": a_valid, "integ": a_integ, "chunk": a_chunk, "reset": a_reset,
             "leak": a_leak, "fresh": a_fresh}
        if w.SW:
            # a sweep op of a partial sweep raises its layer's bound, never restarts it
            a_raise = Signal()
            m.d.sync += a_raise.eq(self.i_raise)
            a["raise"] = a_raise
        bst = follow("b", a)
        b_maddr = Signal(self._mab)
        m.d.sync += b_maddr.eq(maddr(a_chunk, a_layer))
        m_w = Signal(P * WB)
        m_k = Signal(KB)
        m_th = Signal(PB - 1 or 1)
        # a sweep op multiplies by 0, so its "sum" is its potential and one path serves both
        m.d.sync += [m_w.eq(self.w_data), m_k.eq(Mux(bst["integ"], self.k, 0)), m_th.eq(self.th)]
        if w.SW:
            # the threshold table's entry for the layer and step i_layer / i_t named three
            # cycles before (for the sequencer's scan after an event phase)
            m.d.comb += self.th_q.eq(m_th)
        mst = follow("m", bst)
        m_maddr = Signal(self._mab)
        m.d.sync += m_maddr.eq(b_maddr)
        # A shallow membrane memory (at most MEMB_LUTRAM_DEPTH words: LUT RAM on ECP5) is read at
        # the end of m_ and used in c_ straight from its read register. A deeper one becomes a
        # block RAM there, whose clock-to-output would start the c_ path: it is read a stage
        # earlier (end of b_) and its output registered (c_mem), which costs a second
        # forwarding source. Either way the op in c_ sees the same word.
        reg_memb = w.memb_depth > MEMB_LUTRAM_DEPTH
        m.d.comb += rp.addr.eq(Mux(self.rd_en, self.rd_addr, b_maddr if reg_memb else m_maddr))
        rdata = guarded_read(m, w, wp, rp, "memb")
        m.d.comb += self.rd_data.eq(rdata)

        # m_: W*K; the membrane word is read
        pw = WB + KB + 1
        c_prod = [Signal(signed(pw), name=f"c_prod{p}") for p in range(P)]
        for p in range(P):
            wv = m_w[p * WB:(p + 1) * WB].as_signed()
            m.d.sync += c_prod[p].eq(wv * m_k)
        cst = follow("c", mst)
        c_valid, c_integ, c_chunk = cst["valid"], cst["integ"], cst["chunk"]
        c_reset, c_leak = cst["reset"], cst["leak"]
        c_maddr = Signal(self._mab)
        c_th = Signal(PB - 1 or 1)
        m.d.sync += [c_maddr.eq(m_maddr), c_th.eq(m_th)]

        # c_: forward, saturating add (a sweep op adds 0), fire compare (and the integrate
        # write-back on a deep membrane)
        d_valid = Signal()
        d_integ = Signal()
        d_maddr = Signal(self._mab)
        d_word = Signal(w.memb_width)
        # the op one ahead is in d_ when this op is in c_: whether it is an integrate op on the
        # same word, compared a stage early and registered
        fwd1 = Signal()
        vin = Signal(w.memb_width)
        # the op one ahead (in c_) / two ahead (in d_) integrates into the word the op in m_ reads
        hit1 = c_valid & c_integ & (c_maddr == m_maddr)
        hit2 = d_valid & d_integ & (d_maddr == m_maddr)
        m.d.sync += fwd1.eq(hit1)
        if reg_memb:
            # read at the end of b_ and registered (c_mem); integrate ops write back from c_:
            # the op one ahead writes after this op's read and the op two ahead at it, so both
            # are forwarded (d_, then d2_)
            c_mem = Signal(w.memb_width)
            d2_word = Signal(w.memb_width)
            fwd2 = Signal()
            # an op of its layer's first pass takes 0 (the lazy clear): no earlier op of the
            # sample wrote its word, so nothing is forwarded to it either
            m.d.sync += [c_mem.eq(Mux(mst["fresh"], 0, rdata)), d2_word.eq(d_word),
                         fwd2.eq(hit2)]
            m.d.comb += vin.eq(Mux(fwd1, d_word, Mux(fwd2, d2_word, c_mem)))
        else:
            # read at the end of m_, used in c_ straight from the RAM; integrate ops write back
            # from d_ (a register, so the write data is not one path with the add): the op one
            # ahead writes an edge after this op's read and the op two ahead at that edge (a
            # read in the cycle of a write to its address may return anything), so both are
            # forwarded, the newer first; whether either applies is registered a stage early
            d2_word = Signal(w.memb_width)
            fwd_any = Signal()
            fresh = Signal()
            m.d.sync += [d2_word.eq(d_word), fwd_any.eq(hit1 | hit2), fresh.eq(mst["fresh"])]
            # the selects are copied per lane (kept apart in synthesis): each drives one lane's
            # multiplexers instead of all of them. An op of its layer's first pass takes 0
            # instead of the RAM's word (the lazy clear; nothing is forwarded to it: no earlier
            # op of the sample wrote the word)
            for p in range(P):
                f1 = Signal(name=f"fwd1_l{p}", attrs={"keep": 1})
                fa = Signal(name=f"fwd_any_l{p}", attrs={"keep": 1})
                fz = Signal(name=f"fresh_l{p}", attrs={"keep": 1})
                m.d.sync += [f1.eq(hit1), fa.eq(hit1 | hit2), fz.eq(mst["fresh"])]
                bits = slice(p * PB, (p + 1) * PB)
                m.d.comb += vin[bits].eq(Mux(fa, Mux(f1, d_word[bits], d2_word[bits]),
                                             Mux(fz, 0, rdata[bits])))
            fb = slice(P * PB, w.memb_width)
            m.d.comb += vin[fb].eq(Mux(fwd_any, Mux(fwd1, d_word[fb], d2_word[fb]),
                                       Mux(fresh, 0, rdata[fb])))

        d_chunk = Signal(ci)
        d_first = d_chunk == 0  # the op starts its layer's bound afresh
        if w.SW:
            d_raise = Signal()
            m.d.sync += d_raise.eq(cst["raise"])
            d_first = d_first & ~d_raise
        d_reset = Signal(2)
        d_leak = Signal(5)
        d_th = Signal(PB - 1 or 1)
        d_ge = Signal(P)
        d_can = Signal(P)
        d_sat = Signal(P)
        m.d.sync += [
            d_valid.eq(c_valid), d_integ.eq(c_integ), d_maddr.eq(c_maddr), d_chunk.eq(c_chunk),
            d_reset.eq(c_reset), d_leak.eq(c_leak), d_th.eq(c_th),
        ]
        sat_v = []
        for p in range(P):
            v = lane(vin, p)
            n = max(PB, pw) + 1
            s = Signal(signed(n), name=f"c_sum{p}")
            m.d.comb += s.eq(v + c_prod[p])
            # out of range <=> the bits from PB-1 up are not all copies of the sign: a small
            # reduction instead of two wide constant compares
            sign, high = s[n - 1], s[PB - 1:n - 1]
            over = ~sign & (high != 0)
            under = sign & (high != (1 << (n - PB)) - 1)
            r = Signal(signed(PB), name=f"c_sat{p}")
            m.d.comb += r.eq(Mux(over, hi, Mux(under, lo, s)))
            sat_v.append(r)
            can = ~((c_reset == FIRE_ONCE) & fired(vin)[p])
            m.d.sync += [
                d_sat[p].eq(over | under),
                d_ge[p].eq(~c_integ & can & (v >= c_th)),
                d_can[p].eq(can),
            ]
        c_out = Cat(*sat_v, fired(vin))
        m.d.sync += d_word.eq(c_out)

        # d_: sweep reset; the fire mask is final here, so it leaves now
        m.d.comb += [
            self.fire_valid.eq(d_valid & ~d_integ & (d_ge != 0)),
            self.fire_chunk.eq(d_chunk),
            self.fire_mask.eq(d_ge),
        ]
        # the saturated lanes of the integrate op in d_, counted and registered (s_): the
        # popcount and the core's 32-bit counter add are not one path
        pop = Const(0, self.sat_count.shape())
        for p in range(P):
            pop = pop + d_sat[p]
        s_valid = Signal()
        m.d.sync += [s_valid.eq(d_valid & d_integ),
                     self.sat_count.eq(Mux(d_valid & d_integ, pop, 0))]
        e_valid = Signal()
        e_maddr = Signal(self._mab)
        e_leak = Signal(5)
        e_can = Signal(P)
        e_word = Signal(w.memb_width)
        m.d.sync += [
            e_valid.eq(d_valid & ~d_integ), e_maddr.eq(d_maddr), e_leak.eq(d_leak),
            e_can.eq(d_can),
        ]
        v1 = []
        for p in range(P):
            v = lane(d_word, p)
            if w.subtract:
                reset_v = Mux(d_reset == ZERO, 0, Mux(d_reset == SUBTRACT, v - d_th, v))
            else:
                reset_v = Mux(d_reset == ZERO, 0, v)
            v1.append(Mux(d_ge[p], reset_v, v)[:PB])
        new_fired = fired(d_word) | Mux(d_reset == FIRE_ONCE, d_ge, 0)
        d_out = Cat(*v1, new_fired)
        if w.subtract:
            bound_lanes, bound_may = v1, d_can & ~new_fired
        else:
            # without the subtract reset a lane that fires leaves nothing that may fire (0, or
            # fired): the lanes before the reset, masked by d_ge, are the same values, and the
            # reset multiplexer is not in front of the bound's tree
            bound_lanes = [lane(d_word, p) for p in range(P)]
            bound_may = d_can & ~d_ge
        self._bounds(m, d_valid, d_first, d_maddr[ci:], d_chunk,
                     bound_lanes, bound_may, d_th)

        f_valid = Signal()
        f_maddr = Signal(self._mab)
        m.d.sync += [f_valid.eq(e_valid), f_maddr.eq(e_maddr)]
        if w.leak:
            # e_: the leak's shift (only lanes that may fire leak; s = 0 is no leak),
            # registered. The loader keeps leak_shift < PB, so the shifter needs only that many
            # stages.
            amount = e_leak[:max(1, (PB - 1).bit_length())]
            f_word = Signal(w.memb_width)
            f_sh = [Signal(signed(PB), name=f"f_sh{p}") for p in range(P)]
            m.d.sync += [e_word.eq(d_out), f_word.eq(e_word)]
            for p in range(P):
                v = lane(e_word, p)
                m.d.sync += f_sh[p].eq(Mux((e_leak == 0) | ~e_can[p], 0, v >> amount))

            # f_: V - (V >> s), sweep write-back (the shift and the subtract are not one path)
            v2 = []
            for p in range(P):
                v2.append((lane(f_word, p) - f_sh[p])[:PB])
            sw_valid, sw_addr, sw_data = f_valid, f_maddr, Cat(*v2, fired(f_word))
        else:
            # no leak datapath (the loader refuses leak_shift != 0): the reset result is final
            # in d_ and is written back from there (latency 5); e_valid and f_valid stay only
            # so ``busy`` keeps the same timing
            sw_valid, sw_addr, sw_data = d_valid & ~d_integ, d_maddr, d_out

        # one write port: integrate ops (d_, or c_ on a deep membrane), sweep ops (f_, or d_
        # without the leak); never two at once: an integrate op is issued at least GAP_CYCLES
        # (4) after a sweep op (the sequencer's wait, or INTEG_Q's test after an overlapped
        # sweep), so it writes back (4 or 5 cycles after its issue) after the sweep op (at most
        # 7)
        if not reg_memb and not w.leak:
            # every op writes back from d_, and d_out is d_word for an integrate op (its fire
            # mask is 0): one source
            m.d.comb += [wp.en.eq(d_valid), wp.addr.eq(d_maddr), wp.data.eq(d_out)]
        else:
            iw_valid, iw_addr, iw_data = ((c_valid & c_integ, c_maddr, c_out) if reg_memb
                                          else (d_valid & d_integ, d_maddr, d_word))
            with m.If(iw_valid):
                m.d.comb += [wp.en.eq(1), wp.addr.eq(iw_addr), wp.data.eq(iw_data)]
            with m.Elif(sw_valid):
                m.d.comb += [wp.en.eq(1), wp.addr.eq(sw_addr), wp.data.eq(sw_data)]
        m.d.comb += self.busy.eq(a_valid | bst["valid"] | mst["valid"] | c_valid | d_valid
                                 | e_valid | f_valid | s_valid)
        return m

    def _bounds(self, m: Module, x_in_valid, x_in_first, x_in_layer, x_in_chunk, lanes, may,
                th) -> None:
        """The layer bounds: per layer, the largest potential (clamped at 0) of the neurons that
        may still fire, as the layer's last pass left it, and whether it reaches the threshold
        of the op's step (``fire_now``).

        Every op's result lanes (``lanes``: an integrate op's sums, a sweep op's post-reset
        potentials; those that may fire after it: ``may``) leave ``d_`` into a max tree of
        :data:`BOUND_STAGES` registered stages, and the fold writes the maximum into the layer's
        bound: an op on chunk 0 starts it afresh, later chunks raise it. A pass (a sweep, or
        each event of an event phase) writes every chunk of the layer in order, so after it
        the bound is exact. It is final ``5 + BOUND_STAGES + 1`` cycles after the pass's last
        op is issued (the registers are written at the end of the cycle before). Clamping at
        0 changes no decision: every threshold is at least 1, so ``max(V, 0) >= Theta``
        exactly when ``V >= Theta``.
        """
        w = self._w
        P, PB = w.P, w.PB
        vb = PB - 1 or 1
        ML = w.ML

        # the lanes that may fire, clamped at 0, then BOUND_STAGES registered stages of the max
        # tree (its levels spread over them: one compare and one multiplexer a level), so the
        # latency is the same on every build
        vals = [Mux(may[p] & ~lanes[p][PB - 1], lanes[p][:vb], 0) for p in range(P)]
        tag = {"valid": x_in_valid, "first": x_in_first, "layer": x_in_layer, "th": th}
        if w.SW:
            tag["chunk"] = x_in_chunk
        levels = max(0, (P - 1).bit_length())
        # with the subtract reset the lanes come through the reset's subtracter: the first
        # stage registers them as they are and the tree's levels spread over the other stages
        # (the same latency)
        tree_stages = BOUND_STAGES - 1 if w.subtract else BOUND_STAGES
        for st in range(BOUND_STAGES):
            j = st - (BOUND_STAGES - tree_stages)  # the tree stage this is (< 0: a register)
            lv = 0 if j < 0 else levels // tree_stages + (j < levels % tree_stages)
            vals = max_levels(vals, lv)
            regs = [Signal(vb, name=f"bnd{st}_val{k}") for k in range(len(vals))]
            m.d.sync += [r.eq(v) for r, v in zip(regs, vals, strict=True)]
            vals = regs
            nxt = {}
            for name, sig in tag.items():
                r = Signal(max(1, len(sig)), name=f"bnd{st}_{name}")
                m.d.sync += r.eq(sig)
                nxt[name] = r
            tag = nxt
        assert len(vals) == 1
        (z,) = vals
        valid, first, layer = tag["valid"], tag["first"], tag["layer"]

        # the fold, shared by the layers: chunk 0 starts a pass's bound, later chunks raise it;
        # max(a, b) >= th  <=>  a >= th or b >= th, so the threshold bit folds in parallel
        # a slot that never fires (w.fire_layers) keeps no bound: constant 0, never read
        FL = w.fire_layers
        bounds = ([Signal(vb, name=f"bound{k}") for k in range(FL)]
                  + [Const(0, vb) for _ in range(FL, ML)])
        fires = [Signal(name=f"fire_now{k}") for k in range(FL)] + [Const(0) for _ in range(FL, ML)]
        b_new = Mux(first, z, vmax(Array(bounds)[layer], z))
        fire_new = (z >= tag["th"]) | (~first & Array(fires)[layer])
        for k in range(FL):
            with m.If(self.bound_clear):
                m.d.sync += [bounds[k].eq(0), fires[k].eq(0)]
            if w.SW:
                # a partial sweep's scan: the bound of the chunks it leaves (the swept ones'
                # results raise it when they come)
                with m.Elif(self.bound_set & (self.bound_set_layer == k)):
                    m.d.sync += bounds[k].eq(self.bound_set_value)
            with m.Elif(valid & (layer == k)):
                m.d.sync += [bounds[k].eq(b_new), fires[k].eq(fire_new)]
            m.d.comb += [self.bound[k * vb:(k + 1) * vb].eq(bounds[k]),
                         self.fire_now[k].eq(fires[k])]
        if w.SW:
            self._chunk_bounds(m, valid, layer, tag["chunk"], z)

    def _chunk_bounds(self, m: Module, valid, layer, chunk, z) -> None:
        """The chunk bounds (a build with ``chunk_bounds``): per layer and chunk, the largest
        potential (clamped at 0) of its neurons that may still fire, as the last op on the chunk
        left it, written by the fold with the op's maximum (an op covers its chunk, so the
        value is exact from then on). A word left from an earlier sample is never read: a
        layer is scanned only when its bound, which only ops raise, reaches a threshold, and
        its first pass of the sample, which writes every chunk's bound, comes before. One
        memory of ``SW`` lanes: chunk ``c`` of layer ``l`` is lane ``c % SW`` of word
        ``Cat(c // SW, l)``, so a read returns ``SW`` chunk bounds, a cycle after its address
        (``cb_raddr``)."""
        w = self._w
        vb = w.PB - 1 or 1
        sb = w.sw_bits
        gb = w.group_bits
        mem = Memory(shape=unsigned(w.SW * vb), depth=1 << _cb_addr_bits(w), init=[],
                     attrs=NO_RW_CHECK)
        m.submodules.chunk_bounds = mem
        wp = mem.write_port(granularity=vb)
        rp = mem.read_port()

        def lane_en(c):
            return Const(1, w.SW) << c[:sb] if sb else Const(1, 1)

        def addr(c, lyr):
            return (Cat((c >> sb)[:gb], lyr) if gb else lyr)[:_cb_addr_bits(w)]

        with m.If(valid):
            m.d.comb += [wp.en.eq(lane_en(chunk)), wp.addr.eq(addr(chunk, layer)),
                         wp.data.eq(z.replicate(w.SW))]
        m.d.comb += [rp.addr.eq(self.cb_raddr),
                     self.cb_rdata.eq(guarded_read(m, w, wp, rp, "cb"))]


EVENT_LAYOUT = {"word": 32, "end": 1}


def event_signature():
    from amaranth.lib import data

    return stream.Signature(data.StructLayout({"word": 32, "end": 1}))


class EventFetch(wiring.Component):
    """Input-event fetch: a prefetch (two input slots used as a ring, then ``ev``) on the event
    stream that checks every word as it is accepted and computes the first weight row of each
    input event as it is accepted (layer 1's chunk count is static while a sample's words come).

    Checks (``docs/core-interface.md``, ``sim.ir.check_events``): an event word
    whose time is ``>= T`` or input ``>= n_inputs`` raises ``range``; a word not strictly above the
    previous event word of the sample raises ``order``. Flags accumulate over the sample (visible
    the cycle after the word is accepted, before the word can reach ``ev``). After the end word is
    accepted nothing more is taken until ``start``.

    Throughput one word per cycle; ``ev`` is refilled in the cycle it is taken when a slot holds
    a word, so a continuously valid stream never starves the consumer; ``events.ready`` depends
    on registers and ``may_start`` only. Out of reset the fetch is closed, as after an end word.

    Members: the ``events`` stream; ``may_start`` (the consumer is idle and takes the next sample:
    words are accepted again once an end word has closed the fetch, and the consumer raises
    ``start`` with the first); ``start`` (a sample starts: forget the previous word and the
    flags; the word accepted in that cycle is the first); ``check`` (the loaded image
    is valid); ``time_steps``, ``n_inputs``, ``chunks`` (layer 1's); ``take`` (the consumer takes
    ``ev``); ``ev_valid/ev_end/ev_time/ev_row``; ``order``, ``range``; ``pop`` and ``s0_time``
    (``ev`` loads at this edge, and the time it loads). ``ev_time`` holds the
    time's low ``t_idx`` bits only: a time at or past ``time_steps`` has set ``range`` by the
    cycle its word reaches ``ev`` (the flag is registered when the word is accepted, and a word
    reaches ``ev`` a cycle later at the earliest), and the sequencer acts on the flag first.
    """

    def __init__(self, widths: Widths):
        w = self._w = widths
        super().__init__({
            "events": In(event_signature()),
            "start": In(1), "may_start": In(1), "check": In(1),
            "time_steps": In(w.t_cnt), "n_inputs": In(w.neuron_cnt), "chunks": In(w.chunk_cnt),
            "take": In(1),
            "ev_valid": Out(1), "ev_end": Out(1), "ev_time": Out(w.t_idx), "ev_row": Out(w.row),
            "order": Out(1), "range": Out(1), "pop": Out(1), "s0_time": Out(w.t_idx),
        })

    def elaborate(self, platform):
        m = Module()
        w = self._w
        # two input slots in front of ev, used in turn (a ring: words are written at `wr` and
        # leave from `rd`), so `ready` depends on registers only and a consumer taking ev every
        # cycle is never starved by a continuously valid stream. A slot holds what ev needs of
        # its word: the time's low bits, the end flag and the first weight row (computed as the
        # word is accepted; layer 1's chunk count is static while a sample's words come in).
        # Only `rd`, the count and ev itself depend on `take`; the slots do not.
        count = Signal(range(3))
        wr, rd = Signal(), Signal()
        sl_time = [Signal(w.t_idx, name=f"sl{k}_time") for k in range(2)]
        sl_end = [Signal(name=f"sl{k}_end") for k in range(2)]
        sl_row = [Signal(w.row, name=f"sl{k}_row") for k in range(2)]
        ev_valid = Signal()
        prev_valid = Signal()
        prev = Signal(32)
        end_acc = Signal(init=1)
        take = self.take & ev_valid
        ev_free = ~ev_valid | take
        pop = ev_free & (count != 0)
        # what ev loads at the next edge (for a consumer keeping a compare against ev_time in a
        # register): pop loads ev_time from the head slot's time
        m.d.comb += [self.pop.eq(pop), self.s0_time.eq(Mux(rd, sl_time[1], sl_time[0]))]
        # closed (end_acc) from an end word (or reset) until the consumer may start a sample
        ready = (count != 2) & (~end_acc | self.may_start)
        m.d.comb += self.events.ready.eq(ready)
        accept = ready & self.events.valid
        word = self.events.payload.word
        end = self.events.payload.end

        row_in = Signal(w.row)
        m.d.comb += row_in.eq(small_mul(word[:w.neuron_idx], self.chunks))
        with m.If(accept):
            m.d.sync += wr.eq(~wr)
            for k in range(2):
                with m.If(wr == k):
                    m.d.sync += [sl_time[k].eq(word[16:]), sl_end[k].eq(end),
                                 sl_row[k].eq(row_in)]
        with m.If(pop):
            m.d.sync += [
                ev_valid.eq(1), rd.eq(~rd), self.ev_end.eq(Mux(rd, sl_end[1], sl_end[0])),
                self.ev_time.eq(Mux(rd, sl_time[1], sl_time[0])),
                self.ev_row.eq(Mux(rd, sl_row[1], sl_row[0])),
            ]
        with m.Elif(take):
            m.d.sync += ev_valid.eq(0)
        m.d.comb += self.ev_valid.eq(ev_valid)
        with m.If(accept & ~pop):
            m.d.sync += count.eq(count + 1)
        with m.Elif(pop & ~accept):
            m.d.sync += count.eq(count - 1)

        pv = prev_valid & ~self.start
        with m.If(self.start):
            m.d.sync += [prev_valid.eq(0), end_acc.eq(0), self.order.eq(0), self.range.eq(0)]
        with m.If(accept):
            with m.If(end):
                m.d.sync += end_acc.eq(1)
            with m.Else():
                m.d.sync += [prev_valid.eq(1), prev.eq(word)]
                with m.If(self.check):
                    with m.If((word[16:] >= self.time_steps) | (word[:16] >= self.n_inputs)):
                        m.d.sync += self.range.eq(1)
                    with m.If(pv & (word <= prev)):
                        m.d.sync += self.order.eq(1)
        return m


class EventQueue(wiring.Component):
    """Spike emission and the event queue between layers.

    A sweep's nonzero fire masks enter a FIFO (``max_chunks`` entries of chunk index + mask).
    While ``run`` is high, one spike leaves per cycle, lowest neuron first (the queue order of
    ``sim.reference``): neuron ``chunk*P + p``. Each spike goes to the trace (stage ``e1_``,
    traced builds) and, as the next layer's first weight row ``next_base + neuron *
    next_chunks``, into the queue (``e2_`` multiplies, ``e3_`` adds and writes). The queue holds
    one layer's spikes (at most ``max_neurons``): the next layer integrates them before it is
    swept, and its own sweep restarts the queue (``q_clear``).

    The emission may run while the masks still arrive (docs/microarchitecture.md, "The
    overlapped emission"): a mask pushed in cycle ``c`` can move into the head register in
    cycle ``c + 1`` (a read of the FIFO in the cycle its entry is written takes the pushed
    mask from a register instead of the RAM; into an empty FIFO's free head, in cycle ``c``
    itself), and its spikes leave in the cycles after, one a cycle, the next entry moving in
    as the last bit of the head leaves. A spike that leaves in cycle ``x`` is written to the
    queue at the end of ``x + 3`` (``q_write`` then; ``count`` counts it from ``x + 4``;
    ``q_wrow`` the row written in the cycle before). Nothing here waits on the trace stream:
    a traced build puts each spike into a FIFO of ``max_neurons`` words in front of the trace
    port (``trace_busy`` while it holds words), and the sequencer starts a sweep only when
    that FIFO is empty, so one layer's spikes always fit. Counterpart: the per-layer event lists of
    ``sim.reference.run_sample``.

    Members: ``push_valid/push_chunk/push_mask`` (from the neuron array), ``reset`` (empty the
    FIFO), ``q_clear``, ``run``, ``layer`` (1-based, for the trace), ``t``, ``next_base``,
    ``next_chunks``, ``q_raddr``/``q_rdata`` (synchronous read of a queue entry), ``count``
    (entries written since ``q_clear``), ``pending`` (FIFO or head not empty), ``busy``
    (``pending`` or a spike in ``e1_``..``e3_``), ``spike_valid/spike_neuron`` (a spike
    leaving ``e1_``), ``emitting`` (``e1_``..``e3_`` hold a spike), and, when built with the
    trace, ``trace`` and ``trace_busy``.
    """

    def __init__(self, widths: Widths, trace: bool = False):
        w = self._w = widths
        self._trace = trace
        members = {
            "push_valid": In(1), "push_chunk": In(w.chunk_idx), "push_mask": In(w.P),
            "reset": In(1), "q_clear": In(1), "run": In(1),
            "layer": In(8), "t": In(16), "next_base": In(w.row), "next_chunks": In(w.chunk_cnt),
            "q_raddr": In(w.neuron_idx), "q_rdata": Out(w.row), "q_wrow": Out(w.row),
            "q_write": Out(1),
            "count": Out(w.neuron_cnt),
            "pending": Out(1), "busy": Out(1),
            "spike_valid": Out(1), "spike_neuron": Out(w.neuron_idx), "emitting": Out(1),
        }
        if trace:
            members["trace"] = Out(stream.Signature(40))
            members["trace_busy"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        w = self._w
        P, MC = w.P, w.MC
        ci = w.chunk_idx
        m.submodules.fifo = fifo = Memory(shape=unsigned(P + ci), depth=MC, init=[],
                                       attrs=NO_RW_CHECK)
        fw = fifo.write_port()
        fr = fifo.read_port()  # synchronous: a block RAM, not flip-flops
        fr_data = guarded_read(m, w, fw, fr, "fifo")
        fab = _addr_bits(MC)
        wr = Signal(max(1, fab))
        rd = Signal(max(1, fab))  # the next entry to move into the head register
        level = Signal(range(MC + 1))  # entries in the RAM, not counting the head
        # the head entry: its chunk and the bits not yet emitted
        hd_valid = Signal()
        hd_mask = Signal(P)
        hd_chunk = Signal(ci)

        def inc(ptr):
            return _ring_next(ptr, MC)

        push = self.push_valid
        m.d.comb += [fw.addr.eq(wr[:fab]), fw.data.eq(Cat(self.push_mask, self.push_chunk)),
                     fw.en.eq(push)]
        # A read of the entry being written in the same cycle returns the pushed entry, from a
        # register (the RAM's word is not used then: guarded_read)
        fr_raw = guarded_read(m, w, fw, fr, "fifo")
        hit = Signal()
        push_r = Signal(P + ci)
        m.d.sync += [hit.eq(push & (fw.addr == fr.addr)), push_r.eq(fw.data)]
        fr_data = Mux(hit, push_r, fr_raw)
        rem = hd_mask
        pbit = Signal(range(P) if P > 1 else 1)
        for p in reversed(range(P)):
            with m.If(rem[p]):
                m.d.comb += pbit.eq(p)
        # whether the head holds its last bit, and whether the RAM holds entries, are kept in
        # registers (updated with the mask and the level), so the emission decision starts at
        # flip-flops instead of behind a bit count and a level compare
        single = Signal()
        level_nz = Signal()
        head_chunk = hd_chunk

        e1_valid = Signal()
        e1_neuron = Signal(w.neuron_idx)
        e2_valid = Signal()
        e2_row = Signal(w.row)
        # While `run` is high: one bit of the head leaves per cycle; when the head is empty or
        # its last bit leaves, the next entry moves in from the RAM, whose read port is always
        # addressed with the entry after the one moving (so it is there the next cycle, from
        # the RAM or, written in that cycle, from push_r)
        # (an empty FIFO's head takes a mask in the cycle it is pushed, from the push itself)
        pop_bit = self.run & hd_valid
        last_bit = pop_bit & single
        load = self.run & (level_nz | push) & (~hd_valid | last_bit)
        in_data = Mux(level_nz, fr_data, fw.data)
        m.d.comb += fr.addr.eq(Mux(load, inc(rd), rd)[:fab])
        with m.If(push):
            m.d.sync += wr.eq(inc(wr))
        with m.If(load):
            m.d.sync += [rd.eq(inc(rd)), hd_valid.eq(1), hd_mask.eq(in_data[:P]),
                         hd_chunk.eq(in_data[P:]), single.eq(_at_most(in_data[:P], 1))]
        with m.Elif(last_bit):
            m.d.sync += hd_valid.eq(0)
        with m.Elif(pop_bit):
            # the lowest bit leaves; what remains is a single bit iff there were at most two
            m.d.sync += [hd_mask.eq(hd_mask & ~(Const(1, P) << pbit)[:P]),
                         single.eq(_at_most(hd_mask, 2))]
        with m.If(push & ~load):
            m.d.sync += [level.eq(level + 1), level_nz.eq(1)]
        with m.Elif(load & ~push & level_nz):
            m.d.sync += [level.eq(level - 1), level_nz.eq(level != 1)]
        with m.If(self.reset):
            m.d.sync += [wr.eq(0), rd.eq(0), level.eq(0), level_nz.eq(0), hd_valid.eq(0)]

        m.d.sync += e1_valid.eq(pop_bit)
        with m.If(pop_bit):
            m.d.sync += e1_neuron.eq(head_chunk * P + pbit)
        m.d.comb += [self.spike_valid.eq(e1_valid), self.spike_neuron.eq(e1_neuron)]
        if self._trace:
            self._trace_fifo(m, e1_valid, Cat(self.layer, self.t, e1_neuron.as_unsigned()[:16],
                                              Const(0, 16))[:40])
        # e2_: neuron * next_chunks; e3_: + next_base, written to the queue
        e2_prod = Signal(w.row)
        e3_valid = Signal()
        m.d.sync += [e2_valid.eq(e1_valid),
                     e2_prod.eq(small_mul(e1_neuron, self.next_chunks)),
                     e3_valid.eq(e2_valid), e2_row.eq(self.next_base + e2_prod)]

        # (LUT RAM on ECP5, like the lookahead: a block RAM's clock-to-output would start the
        # path from the entry's row through the integrate op's weight address)
        m.submodules.qmem = queue = Memory(shape=unsigned(w.row), depth=w.MN, init=[],
                                         attrs=LOOKAHEAD_RAM)
        qw = queue.write_port()
        qr = queue.read_port(transparent_for=(qw,))
        qab = _addr_bits(w.MN)
        count = Signal(w.neuron_cnt)
        # the row written in the cycle before (if one was), for a read of that entry (which the
        # queue's RAM gives a cycle later)
        m.d.sync += self.q_wrow.eq(e2_row)
        m.d.comb += [self.q_write.eq(e3_valid), qw.en.eq(e3_valid), qw.addr.eq(count[:qab]),
                     qw.data.eq(e2_row),
                     qr.addr.eq(self.q_raddr[:qab]),
                     self.q_rdata.eq(guarded_read(m, w, qw, qr, "queue"))]
        with m.If(self.q_clear):
            m.d.sync += count.eq(0)
        with m.Elif(e3_valid):
            m.d.sync += count.eq(count + 1)
        m.d.comb += [self.count.eq(count),
                     self.pending.eq(level_nz | hd_valid),
                     self.busy.eq(level_nz | hd_valid | e1_valid | e2_valid | e3_valid),
                     self.emitting.eq(e1_valid | e2_valid | e3_valid)]
        return m

    def _trace_fifo(self, m: Module, valid, word) -> None:
        """(Traced builds) the spikes' trace words into a FIFO of ``max_neurons`` words, out
        of the ``trace`` port from a register; ``trace_busy`` while it holds a word. The
        sequencer starts a sweep only when it is empty, so it never overflows: a sweep emits
        at most ``max_neurons`` spikes."""
        w = self._w
        depth = w.MN
        ab = _addr_bits(depth)
        m.submodules.trace_fifo = mem = Memory(shape=unsigned(40), depth=depth, init=[],
                                               attrs=NO_RW_CHECK)
        wp = mem.write_port()
        rp = mem.read_port(domain="comb")
        wa = Signal(max(1, ab))
        ra = Signal(max(1, ab))
        n = Signal(range(depth + 1))
        o_valid = Signal()
        o_word = Signal(40)

        def inc(ptr):
            return _ring_next(ptr, depth)

        move = (n != 0) & (~o_valid | self.trace.ready)
        m.d.comb += [wp.en.eq(valid), wp.addr.eq(wa[:ab]), wp.data.eq(word),
                     rp.addr.eq(ra[:ab])]
        with m.If(valid):
            m.d.sync += wa.eq(inc(wa))
        with m.If(move):
            m.d.sync += [ra.eq(inc(ra)), o_valid.eq(1), o_word.eq(rp.data)]
        with m.Elif(self.trace.ready):
            m.d.sync += o_valid.eq(0)
        m.d.sync += n.eq(n + valid - move)
        with m.If(self.reset):
            m.d.sync += [wa.eq(0), ra.eq(0), n.eq(0), o_valid.eq(0)]
        m.d.comb += [self.trace.valid.eq(o_valid), self.trace.payload.eq(o_word),
                     self.trace_busy.eq((n != 0) | o_valid | valid)]


class ResultSerializer(wiring.Component):
    """Streams one result record: ``n_words`` 32-bit words from ``words`` (index 0 first), the last
    with ``last`` set. ``start`` begins a record, and comes only while ``busy`` is low (the
    words must hold still until ``done``, and ``n_words`` from the cycle before ``start``).
    Word ``k`` is read into the output register in cycle ``start + 1 + k`` at the earliest and
    offered from the next cycle on: the first word leaves two cycles after ``start``.

    Throughput one word per cycle while ``result.ready``; ``busy`` from the cycle after
    ``start`` to the last word's acceptance. Counterpart: ``sim.protocol.encode_record``.

    Members: ``start``, ``words`` (``RECORD_HEAD + max_layers`` words), ``n_words``, ``result``,
    ``busy``, ``done`` (the last word was accepted this cycle).
    """

    def __init__(self, n_max: int):
        from amaranth.lib import data

        self._n = n_max
        super().__init__({
            "start": In(1), "words": In(data.ArrayLayout(32, n_max)),
            "n_words": In(range(n_max + 1)),
            "result": Out(stream.Signature(data.StructLayout({"word": 32, "last": 1}))),
            "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self._n
        sel = Signal(n)  # one-hot: the next word to load into the output register
        run = Signal()  # words are left to load
        o_valid = Signal()
        o_word = Signal(32)
        o_last = Signal()
        # the last word's index, decoded (n_words holds still while a record streams)
        last_dec = Signal(n)
        m.d.sync += last_dec.eq((Const(1, n + 1) << (self.n_words - 1).as_unsigned())[:n])
        # The word leaves from a register, loaded a cycle before it is offered, so nothing
        # behind the result port is combinational; the select is one-hot, so the word
        # multiplexer is an AND-OR of the words.
        pick = Const(0, 32)
        for k in range(n):
            pick = pick | Mux(sel[k], self.words[k], 0)
        m.d.comb += [
            self.result.valid.eq(o_valid),
            self.result.payload.word.eq(o_word),
            self.result.payload.last.eq(o_last),
            self.busy.eq(run | o_valid),
            self.done.eq(o_valid & self.result.ready & o_last),
        ]
        is_last = (sel & last_dec) != 0
        # `start` comes while no record streams (run and o_valid low), so the loads do not wait
        # for it: the output register's enable is not one path with the sequencer's decision
        with m.If(run & (~o_valid | self.result.ready)):
            m.d.sync += [o_word.eq(pick), o_last.eq(is_last), o_valid.eq(1), sel.eq(sel << 1)]
            with m.If(is_last):
                m.d.sync += run.eq(0)
        with m.Elif(o_valid & self.result.ready):
            m.d.sync += o_valid.eq(0)
        with m.If(self.start):
            m.d.sync += [run.eq(1), sel.eq(1)]
        return m
