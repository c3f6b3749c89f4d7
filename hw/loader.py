"""The image loader: parses and validates the network section of docs/image.md word by word."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ttfs.hw.blocks import small_mul
from ttfs.hw.params import MAGIC, STATUS, VERSION, Widths, bits

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
        lt = Signal(bits(w.MT * ML))
        exp_max = 12 + 4 * ML + 2 * w.MT * ML + w.WD * wpr
        exp_len = Signal(bits(exp_max))
        net_words = Signal(len(exp_len))
        net_hi = Signal()  # net_words has bits above exp_len's
        prev_out = Signal(w.neuron_cnt)
        n_in_cur = Signal(w.neuron_cnt)
        n_out_cur = Signal(w.neuron_cnt)
        n_out_p = Signal(bits(w.MN + P))  # n_out_cur + P
        wrun = Signal(bits(ML * w.MN * w.MC))
        th0 = Signal(PB)
        L = Signal(w.layer_cnt)
        T = Signal(w.t_cnt)
        NI = Signal(w.neuron_cnt)
        row = Signal(w.row + 1)
        rw = Signal(range(wpr + 1))
        rowbuf = Signal(P * WB)

        desc = self.desc
        cur = desc[li]

        # Checks against constants (and against values settled words earlier) are made on the
        # payload as it is accepted and registered beside the word, so the parse selects
        # registered results instead of running a compare and the selection as one path. A
        # check against a value the previous word may still change stays in the parse.
        pw = self.load.payload.word
        pre_src = {
            "magic": pw != MAGIC, "version": pw != VERSION, "params": pw != w.params_word,
            "h3": (pw[:8] == 0) | (pw[:8] > ML) | (pw[10:] != 0),
            "h4": (pw[:16] == 0) | (pw[:16] > w.MT) | (pw[16:] == 0) | (pw[16:] > w.MN),
            "h5": pw > w.WD,
            "net_hi": pw[len(net_words):] != 0,
            # d0: n_out in range, and n_in's bits above the sizes' width zero
            "d0": (pw[16:] == 0) | (pw[16:] > w.MN) | (pw[len(prev_out):16] != 0),
            "d1": ((pw[:2] >= 2) if not w.subtract else (pw[:2] == 3))
                  | ((pw[8:13] != 0) if not w.leak else (pw[8:13] >= PB))
                  | ((pw & ~0x1F03) != 0),
            # the running base was updated by the word after the previous layer's d3, which
            # is parsed no later than this word (the d2 after it) is accepted
            "d2": pw != wrun,
            # chunks == ceil(n_out / P): ch * P >= n_out > (ch - 1) * P, the second as
            # ch * P >= n_out + P (n_out and n_out + P were registered at d0, three words
            # earlier; ch = 0 is refused by the first test)
            "d3": (pw == 0) | (pw > w.MC) | (pw[:w.chunk_cnt] * P < n_out_cur)
                  | (pw[:w.chunk_cnt] * P >= n_out_p),
            "th": (pw == 0) | (pw[PB - 1:] != 0),
            "k": (pw[KB:] != 0) if KB < 32 else Const(0),
        }
        if not w.config.spiking_output:
            # a build without a spiking output layer takes the max_potential readout only
            pre_src["h3"] = pre_src["h3"] | ~pw[8]
        for k in range(wpr):
            used = len(range(k * wpw, min(P, (k + 1) * wpw))) * WB
            pre_src[f"bits{k}"] = (pw[used:] != 0) if used < 32 else Const(0)
        for q in range(wpw):
            pre_src[f"fnz{q}"] = pw[q * WB:(q + 1) * WB] != 0
        pre = {}
        for name, v in pre_src.items():
            pre[name] = Signal(name=f"pre_{name}")
            m.d.sync += pre[name].eq(v)
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

        # The weight walk: the row's chunk and input are counted down (c_dn, j_dn), with "last"
        # flags kept beside them, and the per-layer values it needs sit in queues whose entry 0
        # is the row's layer (shifted on at the layer's last row): the walk decides from
        # registers, with no compare against a layer's value behind a layer multiplexer.
        q_cm1 = [Signal(w.chunk_cnt, name=f"wq_cm1_{k}") for k in range(ML)]  # chunks - 1
        q_c1 = [Signal(name=f"wq_c1_{k}") for k in range(ML)]  # one chunk
        q_jm1 = [Signal(w.neuron_cnt, name=f"wq_jm1_{k}") for k in range(ML)]  # n_in - 1
        q_j1 = [Signal(name=f"wq_j1_{k}") for k in range(ML)]  # one input
        # the neurons in the layer's last chunk, 1..P (the other chunks are full)
        q_live = [Signal(range(P + 1), name=f"wq_live_{k}") for k in range(ML)]
        walk_qs = [q_cm1, q_c1, q_jm1, q_j1, q_live]
        walk_q = [q[k] for q in walk_qs for k in range(ML)]
        # the walk's first values: the chunk counts are final two cycles after the last d3 (cm1
        # and jm1 are registered from the descriptors), and at least two table words come
        # between
        walk_init = ([cm1[k] for k in range(ML)] + [cm1[k] == 0 for k in range(ML)]
                     + [jm1[k] for k in range(ML)] + [jm1[k] == 0 for k in range(ML)]
                     + [(desc[k].n_out - cm1[k] * P)[:len(q_live[k])] for k in range(ML)])
        c_dn = Signal(w.chunk_cnt)
        c_last = Signal()
        j_dn = Signal(w.neuron_cnt)
        j_last = Signal()

        bad = Signal()
        bad_rows = Signal()
        # a layer's rows, n_in * chunks, as two registered partial products (the multiplier's
        # low and high bits), added to the running base at the next word
        ch_lo = (w.chunk_cnt + 1) // 2
        prod_lo = Signal(len(wrun))
        prod_hi = Signal(len(wrun))
        pend1 = Signal()
        pend_last = Signal()
        chk_rows = Signal()

        with m.If(acc & pend1):
            m.d.sync += [wrun.eq(wrun + prod_lo + (prod_hi << ch_lo)), pend1.eq(0),
                         chk_rows.eq(pend_last)]
        with m.If(acc & chk_rows):
            m.d.comb += bad_rows.eq(wrun != rows)
            m.d.sync += chk_rows.eq(0)

        # the walk's start, loaded in every table cycle (the values are final by then, and the
        # walk starts in the cycle after the last table word), so the loads need no decision
        with m.If(sec == TAB):
            m.d.sync += [q.eq(v) for q, v in zip(walk_q, walk_init, strict=True)]
            m.d.sync += [c_dn.eq(cm1[0]), c_last.eq(cm1[0] == 0), j_dn.eq(jm1[0]),
                         j_last.eq(jm1[0] == 0)]

        # The write ports' addresses and data come straight from registers (the weight row
        # through the merge of the current word into the row buffer), whatever the section:
        # only the enables are decoded, so no decode lies in front of what the memories and the
        # lookahead compute from the data (the lookahead's rise compare).
        taddr = Cat(tt[:w.t_idx], li)[:self._tab]
        m.d.comb += [self.th_addr.eq(taddr), self.th_data.eq(word),
                     self.k_addr.eq(taddr), self.k_data.eq(word)]
        # the row so far with the current word's lanes in their places (word rw of the row)
        merged = Signal(P * WB)
        m.d.comb += merged.eq(rowbuf)
        with m.Switch(rw):
            for k in range(wpr):
                with m.Case(k):
                    for q, p in enumerate(range(k * wpw, min(P, (k + 1) * wpw))):
                        m.d.comb += merged[p * WB:(p + 1) * WB].eq(word[q * WB:(q + 1) * WB])
        m.d.comb += [self.w_addr.eq(row), self.w_data.eq(merged)]

        with m.If(acc):
            with m.If(sec != CSUM):
                m.d.sync += csum.eq(csum + word)
            with m.Switch(sec):
                with m.Case(HDR):
                    with m.Switch(pos):
                        with m.Case(0):
                            m.d.comb += bad.eq(pre["magic"])
                        with m.Case(1):
                            m.d.comb += bad.eq(pre["version"])
                        with m.Case(2):
                            m.d.comb += bad.eq(pre["params"])
                        with m.Case(3):
                            n = word[:8]
                            m.d.comb += bad.eq(pre["h3"])
                            m.d.sync += [L.eq(n), self.max_potential.eq(word[8]),
                                         self.early_exit.eq(word[9])]
                        with m.Case(4):
                            t_, ni = word[:16], word[16:]
                            m.d.comb += bad.eq(pre["h4"])
                            m.d.sync += [T.eq(t_), NI.eq(ni), prev_out.eq(ni)]
                        with m.Case(5):
                            m.d.comb += bad.eq(pre["h5"])
                            m.d.sync += [rows.eq(word), lt.eq(small_mul(T, L))]
                        with m.Case(6):
                            # checked at word 7 (informational) against the length the header
                            # implies, computed here from registers: no multiplier in a check path
                            m.d.sync += [net_words.eq(word), net_hi.eq(pre["net_hi"]),
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
                            m.d.comb += bad.eq((ni[:len(prev_out)] != prev_out) | pre["d0"])
                            m.d.sync += [n_in_cur.eq(ni), n_out_cur.eq(no), cur.n_out.eq(no),
                                         n_out_p.eq(no + P)]
                        with m.Case(1):
                            rst, lk = word[:2], word[8:13]
                            # a mode the build lacks is refused like a size it lacks (pre_d1)
                            m.d.comb += bad.eq(pre["d1"])
                            m.d.sync += [cur.reset.eq(rst), cur.leak.eq(lk)]
                        with m.Case(2):
                            m.d.comb += bad.eq(pre["d2"])
                            m.d.sync += cur.wbase.eq(word)
                        with m.Case(3):
                            ch = word[:w.chunk_cnt]
                            m.d.comb += bad.eq(pre["d3"])
                            # the layer's rows are added to the running base at the next word
                            # and checked against weight_rows at the one after (last layer)
                            m.d.sync += [cur.chunks.eq(ch), prev_out.eq(n_out_cur),
                                         cur.th_const.eq(1),
                                         prod_lo.eq(small_mul(n_in_cur, ch[:ch_lo])),
                                         prod_hi.eq(small_mul(n_in_cur, ch[ch_lo:])),
                                         pend1.eq(1), pend_last.eq(li == lm1)]
                            with m.If(li == lm1):
                                m.d.sync += [sec.eq(TAB), li.eq(0), tt.eq(0), is_k.eq(0)]
                            with m.Else():
                                m.d.sync += li.eq(li + 1)
                    m.d.sync += di.eq(di + 1)
                with m.Case(TAB):
                    with m.If(~is_k):
                        m.d.comb += [bad.eq(pre["th"]), self.th_en.eq(1)]
                        with m.If(tt == 0):
                            m.d.sync += th0.eq(word)
                        with m.Elif(word != th0):
                            m.d.sync += cur.th_const.eq(0)
                    with m.Else():
                        m.d.comb += [bad.eq(pre["k"]), self.k_en.eq(1)]
                    m.d.sync += tt.eq(tt + 1)
                    with m.If(tt == tm1):
                        m.d.sync += [tt.eq(0), is_k.eq(~is_k)]
                        with m.If(is_k):
                            m.d.sync += li.eq(li + 1)
                            with m.If(li == lm1):
                                m.d.sync += [sec.eq(WGT), row.eq(0), rw.eq(0)]
                with m.Case(WGT):
                    # lanes of this row that hold neurons: P, or the layer's last chunk's count
                    # (registers, so each lane's padding test is a small constant compare)
                    live = Signal(range(P + 1))
                    m.d.comb += live.eq(Mux(c_last, q_live[0], P))
                    with m.Switch(rw):
                        for k in range(wpr):
                            with m.Case(k):
                                lanes = list(range(k * wpw, min(P, (k + 1) * wpw)))
                                pad_bad = Const(0)
                                for q, p in enumerate(lanes):
                                    pad_bad = pad_bad | ((live <= p) & pre[f"fnz{q}"])
                                m.d.comb += bad.eq(pre[f"bits{k}"] | pad_bad)
                    m.d.sync += [rowbuf.eq(merged), rw.eq(rw + 1)]
                    with m.If(rw == wpr - 1):
                        m.d.comb += self.w_en.eq(1)
                        m.d.sync += [rw.eq(0), row.eq(row + 1)]
                        with m.If(c_last & j_last):
                            # the layer's last row: the queues move on to the next layer
                            nxt = [q[k + 1] if k + 1 < ML else q[k]
                                   for q in walk_qs for k in range(ML)]
                            m.d.sync += [d.eq(v) for d, v in zip(walk_q, nxt, strict=True)]
                            m.d.sync += [c_dn.eq(q_cm1[1 % ML]), c_last.eq(q_c1[1 % ML]),
                                         j_dn.eq(q_jm1[1 % ML]), j_last.eq(q_j1[1 % ML])]
                        with m.Elif(c_last):
                            m.d.sync += [c_dn.eq(q_cm1[0]), c_last.eq(q_c1[0]),
                                         j_dn.eq(j_dn - 1), j_last.eq(j_dn == 1)]
                        with m.Else():
                            m.d.sync += [c_dn.eq(c_dn - 1), c_last.eq(c_dn == 1)]
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
