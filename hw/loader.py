"""The image loader: parses and validates the network section of docs/image.md word by word."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .blocks import small_mul
from .params import MAGIC, STATUS, VERSION, Widths, _bits

__all__ = ["ImageLoader", "layer_desc_layout"]


def layer_desc_layout(w: Widths) -> data.StructLayout:
    """One layer's run-time descriptor as the loader holds it."""
    return data.StructLayout({
        "n_out": w.neuron_cnt,
        "reset": 2,
        "leak": 5,
        "wbase": w.row,
        "chunks": w.chunk_cnt,
        "th_const": 1,
    })


def load_signature():
    return stream.Signature(data.StructLayout({"word": 32, "last": 1}))


class ImageLoader(wiring.Component):
    """Parses the load stream (the network section of docs/image.md) one word per cycle.

    It checks, in word order, and raises the *first* problem as a status flag
    (docs/core-interface.md): the magic, the version, word 2 equal to this core's lanes /
    weight_bits / potential_bits / kernel_bits, ``n_layers`` in ``1..max_layers`` with bits 31:10
    zero, ``time_steps`` in ``1..max_time_steps``, ``n_inputs`` in ``1..max_neurons``,
    ``weight_rows <= weight_depth``, ``net_words`` equal to the length the header implies; each
    descriptor (``n_in`` equal to the previous size, ``n_out`` in ``1..max_neurons``, reset mode
    0..2 (0..1 on a core built without ``subtract``), ``leak_shift < potential_bits`` (0 on a
    core built without ``leak``), reserved bits zero, ``weight_base`` where the previous
    layer ends, ``chunks == ceil(n_out / lanes)``, the last layer ending at ``weight_rows``);
    every threshold in ``1..2**(PB-1)-1`` and kernel entry below ``2**kernel_bits``; unused bits
    of weight words and padding lanes zero (all ``LOAD_BAD_HEADER``); the checksum
    (``LOAD_CHECKSUM``); ``last`` before the checksum word (``LOAD_TRUNCATED``) or missing on
    it (``LOAD_TOO_LONG``; the rest is consumed up to ``last``). Counterpart:
    :func:`sim.image.decode_network`.

    Timing: the accepted word is registered before it is parsed, and the parse's checks are
    registered before the flag is chosen (2 cycles of latency: ``done`` comes two cycles after
    ``last`` is accepted). Checks that need a multiplier are deferred so no
    check path contains one: ``net_words`` is compared at word 7 with the length computed at word
    6 from registers; a layer's ``n_in * chunks`` rows are added to the running base at the word
    after its ``d3`` and the total is compared with ``weight_rows`` at the word after that (both
    still ``LOAD_BAD_HEADER``, and still before any later word could raise another flag).

    It writes the weight rows and tables into their memories as it goes and keeps the header
    and descriptors in registers. ``status`` changes only when a load ends (``last``): 0 on
    success, else the flag; it starts as ``NO_IMAGE``.

    Members: the ``load`` stream, ``enable``; ``done`` (``last`` accepted this cycle);
    ``status``; ``n_layers``, ``max_potential``, ``early_exit``, ``time_steps``, ``n_inputs``,
    ``desc`` (per-layer :func:`layer_desc_layout`); the write ports ``w_en/w_addr/w_data``,
    ``th_en/th_addr/th_data``, ``k_en/k_addr/k_data``.
    """

    def __init__(self, widths: Widths):
        w = self._w = widths
        tab = max(0, (w.table_depth - 1).bit_length())
        super().__init__({
            "load": In(load_signature()),
            "enable": In(1),
            "done": Out(1),
            "status": Out(8, init=1 << STATUS["NO_IMAGE"]),
            "n_layers": Out(w.layer_cnt, init=1),
            "max_potential": Out(1), "early_exit": Out(1),
            "time_steps": Out(w.t_cnt), "n_inputs": Out(w.neuron_cnt),
            "desc": Out(data.ArrayLayout(layer_desc_layout(w), w.ML)),
            "w_en": Out(1), "w_addr": Out(w.row), "w_data": Out(w.P * w.WB),
            "th_en": Out(1), "th_addr": Out(tab), "th_data": Out(w.PB - 1 or 1),
            "k_en": Out(1), "k_addr": Out(tab), "k_data": Out(w.KB),
        })
        self._tab = tab

    def elaborate(self, platform):
        m = Module()
        w = self._w
        P, WB, PB, KB = w.P, w.WB, w.PB, w.KB
        wpw, wpr = w.wpw, w.wpr
        ML = w.ML

        # stage 0: the accepted word is registered; the parser works on it one cycle later, so
        # no path runs from the input port through the checks
        m.d.comb += self.load.ready.eq(self.enable)
        acc = Signal()
        word = Signal(32)
        last = Signal()
        m.d.sync += [acc.eq(self.enable & self.load.valid), word.eq(self.load.payload.word),
                     last.eq(self.load.payload.last)]

        # parse state; every load ends by putting it back to the start
        pos = Signal(4)  # header word index while in the header
        sec = Signal(3)  # 0 header, 1 descriptors, 2 tables, 3 weights, 4 checksum, 5 drain
        HDR, DESC, TAB, WGT, CSUM, DRAIN = range(6)
        li = Signal(w.layer_idx)
        di = Signal(2)
        # Registers are as wide as the checks in front of them allow: a value is kept only after
        # the word that carried it passed its range check, and once a word fails, the first
        # problem is the flag and nothing parsed after it matters (the walk drains). So T, n_in
        # and the sizes need their maxima's bits, not the words' 16, and the running row count
        # at most max_layers * max_neurons * max_chunks.
        tt = Signal(w.t_cnt)
        is_k = Signal()
        csum = Signal(32)
        err = Signal(8)
        rows = Signal(w.row)
        lt = Signal(_bits(w.MT * ML))
        exp_max = 12 + 4 * ML + 2 * w.MT * ML + w.WD * wpr
        exp_len = Signal(_bits(exp_max))
        net_words = Signal(len(exp_len))
        net_hi = Signal()  # net_words has bits above exp_len's
        prev_out = Signal(w.neuron_cnt)
        n_in_cur = Signal(w.neuron_cnt)
        n_out_cur = Signal(w.neuron_cnt)
        n_out_p = Signal(_bits(w.MN + P))  # n_out_cur + P
        wrun = Signal(_bits(ML * w.MN * w.MC))
        th0 = Signal(PB)
        L = Signal(w.layer_cnt)
        T = Signal(w.t_cnt)
        NI = Signal(w.neuron_cnt)
        row = Signal(w.row + 1)
        rw = Signal(range(wpr + 1))
        row_l = Signal(w.layer_idx)
        row_c = Signal(w.chunk_cnt)
        row_j = Signal(w.neuron_cnt)
        left = Signal(w.neuron_cnt)  # neurons of the row's layer from the row's chunk on
        rowbuf = Signal(P * WB)

        desc = self.desc
        cur = desc[li]
        rcur = desc[row_l]
        # Values the walk compares against, registered (they settle long before they are used:
        # T and L in the header, a layer's chunks at its d3, weight_rows at word 5), so the
        # compares start at registers instead of behind subtracters and descriptor muxes.
        tm1 = Signal(w.t_cnt)
        lm1 = Signal(w.layer_cnt)
        rows_m1 = Signal(w.row)
        cm1 = [Signal(w.chunk_cnt, name=f"ld_cm1_{k}") for k in range(ML)]
        jm1 = [Signal(w.neuron_cnt, name=f"ld_jm1_{k}") for k in range(ML)]
        m.d.sync += [tm1.eq(T - 1), lm1.eq(L - 1), rows_m1.eq(rows - 1)]
        for k in range(ML):
            n_in_k = NI if k == 0 else desc[k - 1].n_out
            m.d.sync += [cm1[k].eq(desc[k].chunks - 1), jm1[k].eq(n_in_k - 1)]

        bad = Signal()
        bad_rows = Signal()
        prod = Signal(len(wrun))
        pend1 = Signal()
        pend_last = Signal()
        chk_rows = Signal()

        with m.If(acc & pend1):
            m.d.sync += [wrun.eq(wrun + prod), pend1.eq(0), chk_rows.eq(pend_last)]
        with m.If(acc & chk_rows):
            m.d.comb += bad_rows.eq(wrun != rows)
            m.d.sync += chk_rows.eq(0)

        with m.If(acc):
            with m.If(sec != CSUM):
                m.d.sync += csum.eq(csum + word)
            with m.Switch(sec):
                with m.Case(HDR):
                    with m.Switch(pos):
                        with m.Case(0):
                            m.d.comb += bad.eq(word != MAGIC)
                        with m.Case(1):
                            m.d.comb += bad.eq(word != VERSION)
                        with m.Case(2):
                            m.d.comb += bad.eq(word != w.params_word)
                        with m.Case(3):
                            n = word[:8]
                            m.d.comb += bad.eq((n == 0) | (n > ML) | (word[10:] != 0))
                            m.d.sync += [L.eq(n), self.max_potential.eq(word[8]),
                                         self.early_exit.eq(word[9])]
                        with m.Case(4):
                            t_, ni = word[:16], word[16:]
                            m.d.comb += bad.eq((t_ == 0) | (t_ > w.MT) | (ni == 0) | (ni > w.MN))
                            m.d.sync += [T.eq(t_), NI.eq(ni), prev_out.eq(ni)]
                        with m.Case(5):
                            m.d.comb += bad.eq(word > w.WD)
                            m.d.sync += [rows.eq(word), lt.eq(small_mul(T, L))]
                        with m.Case(6):
                            # checked at word 7 (informational) against the length the header
                            # implies, computed here from registers: no multiplier in a check path
                            m.d.sync += [net_words.eq(word), net_hi.eq(word[len(net_words):] != 0),
                                         exp_len.eq(12 + 4 * L + 2 * lt + rows * wpr)]
                        with m.Case(7):
                            m.d.comb += bad.eq(net_hi | (net_words != exp_len))
                    m.d.sync += pos.eq(pos + 1)
                    with m.If(pos == 10):
                        m.d.sync += [sec.eq(DESC), li.eq(0), di.eq(0), wrun.eq(0)]
                with m.Case(DESC):
                    with m.Switch(di):
                        with m.Case(0):
                            ni, no = word[:16], word[16:]
                            m.d.comb += bad.eq((ni != prev_out) | (no == 0) | (no > w.MN))
                            m.d.sync += [n_in_cur.eq(ni), n_out_cur.eq(no), cur.n_out.eq(no),
                                         n_out_p.eq(no + P)]
                        with m.Case(1):
                            rst, lk = word[:2], word[8:13]
                            # a mode the build lacks is refused like a size it lacks
                            bad_rst = (rst >= 2) if not w.subtract else (rst == 3)
                            bad_lk = (lk != 0) if not w.leak else (lk >= PB)
                            m.d.comb += bad.eq(bad_rst | bad_lk | ((word & ~0x1F03) != 0))
                            m.d.sync += [cur.reset.eq(rst), cur.leak.eq(lk)]
                        with m.Case(2):
                            m.d.comb += bad.eq(word != wrun)
                            m.d.sync += cur.wbase.eq(word)
                        with m.Case(3):
                            # chunks == ceil(n_out / P): ch * P >= n_out > (ch - 1) * P, the
                            # second as ch * P >= n_out + P (registered at d0: one compare, no
                            # subtracter in front of it; ch = 0 is refused by the first two)
                            ch = word[:w.chunk_cnt]
                            chk = (word == 0) | (word > w.MC) | (ch * P < n_out_cur) | (
                                ch * P >= n_out_p)
                            m.d.comb += bad.eq(chk)
                            # the layer's rows are added to the running base at the next word
                            # and checked against weight_rows at the one after (last layer)
                            m.d.sync += [cur.chunks.eq(ch), prev_out.eq(n_out_cur),
                                         cur.th_const.eq(1), prod.eq(small_mul(n_in_cur, ch)),
                                         pend1.eq(1), pend_last.eq(li == lm1)]
                            with m.If(li == lm1):
                                m.d.sync += [sec.eq(TAB), li.eq(0), tt.eq(0), is_k.eq(0)]
                            with m.Else():
                                m.d.sync += li.eq(li + 1)
                    m.d.sync += di.eq(di + 1)
                with m.Case(TAB):
                    taddr = Cat(tt[:w.t_idx], li)[:self._tab]
                    with m.If(~is_k):
                        m.d.comb += [bad.eq((word == 0) | (word[PB - 1:] != 0)),
                                     self.th_en.eq(1), self.th_addr.eq(taddr),
                                     self.th_data.eq(word)]
                        with m.If(tt == 0):
                            m.d.sync += th0.eq(word)
                        with m.Elif(word != th0):
                            m.d.sync += cur.th_const.eq(0)
                    with m.Else():
                        m.d.comb += [bad.eq(word[KB:] != 0) if KB < 32 else bad.eq(0),
                                     self.k_en.eq(1), self.k_addr.eq(taddr),
                                     self.k_data.eq(word)]
                    m.d.sync += tt.eq(tt + 1)
                    with m.If(tt == tm1):
                        m.d.sync += [tt.eq(0), is_k.eq(~is_k)]
                        with m.If(is_k):
                            m.d.sync += li.eq(li + 1)
                            with m.If(li == lm1):
                                m.d.sync += [sec.eq(WGT), row.eq(0), rw.eq(0), row_l.eq(0),
                                             row_c.eq(0), row_j.eq(0),
                                             left.eq(desc[0].n_out)]
                with m.Case(WGT):
                    merged = Signal(P * WB)
                    # lanes of this row that hold neurons: n_out - chunk*P, at most P (a
                    # register, so each lane's padding test is a small constant compare)
                    live = Signal(range(P + 1))
                    m.d.comb += live.eq(Mux(left >= P, P, left))
                    m.d.comb += merged.eq(rowbuf)
                    with m.Switch(rw):
                        for k in range(wpr):
                            with m.Case(k):
                                lanes = list(range(k * wpw, min(P, (k + 1) * wpw)))
                                used = len(lanes) * WB
                                bits_bad = (word[used:] != 0) if used < 32 else Const(0)
                                pad_bad = Const(0)
                                for q, p in enumerate(lanes):
                                    field = word[q * WB:(q + 1) * WB]
                                    m.d.comb += merged[p * WB:(p + 1) * WB].eq(field)
                                    pad_bad = pad_bad | ((live <= p) & (field != 0))
                                m.d.comb += bad.eq(bits_bad | pad_bad)
                    m.d.sync += [rowbuf.eq(merged), rw.eq(rw + 1)]
                    with m.If(rw == wpr - 1):
                        m.d.comb += [self.w_en.eq(1), self.w_addr.eq(row), self.w_data.eq(merged)]
                        m.d.sync += [rw.eq(0), row.eq(row + 1)]
                        with m.If(row_c == Array(cm1)[row_l]):
                            m.d.sync += [row_c.eq(0), left.eq(rcur.n_out)]
                            with m.If(row_j == Array(jm1)[row_l]):
                                m.d.sync += [row_j.eq(0), row_l.eq(row_l + 1),
                                             left.eq(desc[(row_l + 1).as_unsigned()].n_out)]
                            with m.Else():
                                m.d.sync += row_j.eq(row_j + 1)
                        with m.Else():
                            m.d.sync += [row_c.eq(row_c + 1), left.eq(left - P)]
                        with m.If(row == rows_m1):
                            m.d.sync += sec.eq(CSUM)

        # stage 2, one cycle behind the parse: the first problem of the word, if no earlier word
        # had one (the parse's checks are registered first, so the OR of every check and the
        # flag priority are not one path)
        v2 = Signal()
        bad2 = Signal()
        csum2 = Signal()
        is_csum2 = Signal()
        last2 = Signal()
        m.d.sync += [v2.eq(acc), bad2.eq(bad | bad_rows), csum2.eq(word != csum),
                     is_csum2.eq(sec == CSUM), last2.eq(last)]
        with m.If(v2):
            now = Signal(8)
            with m.If(err == 0):
                with m.If(is_csum2):
                    with m.If(csum2):
                        m.d.comb += now.eq(1 << STATUS["LOAD_CHECKSUM"])
                    with m.Elif(~last2):
                        m.d.comb += now.eq(1 << STATUS["LOAD_TOO_LONG"])
                with m.Elif(bad2):
                    m.d.comb += now.eq(1 << STATUS["LOAD_BAD_HEADER"])
                with m.Elif(last2):
                    m.d.comb += now.eq(1 << STATUS["LOAD_TRUNCATED"])
            with m.If(now != 0):
                m.d.sync += [err.eq(now), sec.eq(DRAIN)]
            with m.If(last2):
                m.d.comb += self.done.eq(1)
                final = Mux(err != 0, err, now)
                m.d.sync += [self.status.eq(final), self.n_layers.eq(Mux(final == 0, L, 1)),
                             self.time_steps.eq(T), self.n_inputs.eq(NI)]
                # back to the start for the next load
                m.d.sync += [pos.eq(0), sec.eq(HDR), csum.eq(0), err.eq(0), pend1.eq(0),
                             chk_rows.eq(0)]
        return m
