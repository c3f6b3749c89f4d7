"""The event-driven TTFS neuron core (DESIGN section 4), an Amaranth 0.5 ``wiring.Component``.

The ports are the contract of ``docs/core-interface.md``; the block structure, pipeline and
cycle-cost rule are described in ``docs/microarchitecture.md`` and :mod:`sim.costmodel`.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ttfs.hw.blocks import (
    SUBTRACT,
    EventFetch,
    EventQueue,
    NeuronArray,
    ParameterTables,
    ResultSerializer,
    WeightMemory,
    event_signature,
)
from ttfs.hw.loader import ImageLoader, load_signature
from ttfs.hw.params import RECORD_HEAD, STATUS, WAIT_CYCLES, Widths, counter_bounds, counter_width
from ttfs.sim.core import CoreConfig

__all__ = ["NeuronCore", "STATES", "core_signature"]

#: sequencer states, in the order of a sample
STATES = ("IDLE", "LOAD", "CLEAR", "STEP", "NEXT", "ENTER", "INTEG_S", "INTEG_Q", "SWEEP",
          "WAIT", "EMIT", "FINISH", "RD_ADDR", "RD_LOAD", "RD_LANE", "ABORT", "RESULT")


def core_signature(trace: bool = False) -> wiring.Signature:
    """The core's port signature (docs/core-interface.md); the same for every configuration."""
    members = {
        "load": In(load_signature()),
        "events": In(event_signature()),
        "result": Out(stream.Signature(data.StructLayout({"word": 32, "last": 1}))),
    }
    if trace:
        members["trace"] = Out(stream.Signature(40))
    return wiring.Signature(members)


class NeuronCore(wiring.Component):
    """The TTFS neuron core for one :class:`sim.core.CoreConfig`.

    Computes, per sample, exactly what :func:`sim.reference.run` computes for the network in the
    loaded image (predictions, spikes, counters), and the cycles :mod:`sim.costmodel` predicts.

    Blocks: :class:`~hw.loader.ImageLoader` (load stream -> memories and descriptors),
    :class:`~hw.blocks.EventFetch` (event stream prefetch and checks),
    :class:`~hw.blocks.WeightMemory`, :class:`~hw.blocks.ParameterTables`,
    :class:`~hw.blocks.NeuronArray` (integrate / fire / leak, P lanes, pipelined),
    :class:`~hw.blocks.EventQueue` (spike FIFO, emission, trace, inter-layer queue),
    :class:`~hw.blocks.ResultSerializer`; the sequencer (an FSM, :data:`STATES`) is here.

    Members (Verilog ``name__valid``/``name__ready``/``name__payload``): ``load`` (In, payload
    ``word[31:0]``, ``last[32]``), ``events`` (In, ``word[31:0]``, ``end[32]``), ``result``
    (Out, ``word[31:0]``, ``last[32]``) and, with ``trace``, ``trace`` (Out, 40 bits:
    ``layer[7:0]``, ``t[23:8]``, ``neuron[39:24]``).
    """

    def __init__(self, config: CoreConfig, trace: bool = False, poison: bool = False):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {type(config).__name__}")
        if not isinstance(trace, bool):
            raise TypeError(f"trace must be True or False, not {trace!r}")
        if config.max_neurons > 0xFFFF:
            raise ValueError(
                f"max_neurons must be at most 65535 (16-bit trace and image fields), "
                f"not {config.max_neurons}")
        if config.max_layers > 255:
            raise ValueError(f"max_layers must be at most 255 (8-bit layer field), "
                             f"not {config.max_layers}")
        self._config = config
        self._trace = trace
        if not isinstance(poison, bool):
            raise TypeError(f"poison must be True or False, not {poison!r}")
        self._w = Widths(config, poison=poison)
        super().__init__(core_signature(trace))

    @property
    def config(self) -> CoreConfig:
        return self._config

    @property
    def has_trace(self) -> bool:
        return self._trace

    @property
    def widths(self) -> Widths:
        return self._w

    def elaborate(self, platform):
        m = Module()
        w = self._w
        P = w.P
        ML = w.ML

        m.submodules.loader = ld = ImageLoader(w)
        m.submodules.fetch = fe = EventFetch(w)
        m.submodules.weights = wm = WeightMemory(w)
        m.submodules.tables = tb = ParameterTables(w)
        m.submodules.array = na = NeuronArray(w)
        m.submodules.queue = eq = EventQueue(w, trace=self._trace)
        n_rec = RECORD_HEAD + ML
        m.submodules.serializer = ser = ResultSerializer(n_rec)

        wiring.connect(m, wiring.flipped(self.load), ld.load)
        wiring.connect(m, wiring.flipped(self.events), fe.events)
        wiring.connect(m, ser.result, wiring.flipped(self.result))
        if self._trace:
            wiring.connect(m, eq.trace, wiring.flipped(self.trace))

        m.d.comb += [
            wm.w_en.eq(ld.w_en), wm.w_addr.eq(ld.w_addr), wm.w_data.eq(ld.w_data),
            tb.th_en.eq(ld.th_en), tb.th_addr.eq(ld.th_addr), tb.th_data.eq(ld.th_data),
            tb.k_en.eq(ld.k_en), tb.k_addr.eq(ld.k_addr), tb.k_data.eq(ld.k_data),
            wm.r_addr.eq(na.w_addr), na.w_data.eq(wm.r_data),
            tb.r_addr.eq(na.t_addr), na.th.eq(tb.th), na.k.eq(tb.k),
            eq.push_valid.eq(na.fire_valid), eq.push_chunk.eq(na.fire_chunk),
            eq.push_mask.eq(na.fire_mask),
        ]

        desc = ld.desc
        L = ld.n_layers
        T = ld.time_steps
        image_ok = ld.status == 0

        # -- sequencer registers ------------------------------------------------------------
        t = Signal(w.t_idx)
        l = Signal(w.layer_idx)
        lc = Signal(w.layer_cnt)  # the first layer NEXT may pick
        c = Signal(w.chunk_cnt)
        q_idx = Signal(w.neuron_cnt)
        cl = Signal(w.layer_idx)  # CLEAR walk
        wait = Signal(range(WAIT_CYCLES + 1))
        swept = Signal()  # the current layer phase issued sweep ops
        pend_cur = Signal(ML)  # subtract layers that spiked at the previous step
        pend_nxt = Signal(ML)
        out_spiked = Signal()  # the last layer spiked at this step
        first_found = Signal()
        first_idx = Signal(w.neuron_idx)
        steps = Signal(w.t_cnt)
        rd_p = Signal(range(P))
        rd_i = Signal(w.neuron_cnt)
        rd_word = Signal(P * w.PB)
        best = Signal(signed(w.PB))
        started = Signal()  # a step has run in this sample
        status = Signal(8)
        status_ok = Signal()  # status == 0, set with it (the record's valid bit)
        sel_ev_r = Signal()  # the layer NEXT picked has events at this step
        last_row = Signal(w.row)  # the weight row INTEG_Q issued last
        # the queue holds events, registered (the queue's count is final a cycle before NEXT)
        q_nonempty = Signal()
        m.d.sync += q_nonempty.eq(eq.count != 0)
        # the queue's last entry, registered: the count is final before NEXT (the emission that
        # filled the queue has drained), so INTEG_Q compares two registers, no subtracter
        q_last = Signal(w.neuron_cnt)
        m.d.sync += q_last.eq(eq.count - 1)
        # q_idx == q_last, kept in a register with q_idx (set in ENTER, where q_idx is 0)
        q_last2 = Signal(w.neuron_cnt)
        q_end = Signal()
        m.d.sync += q_last2.eq(eq.count - 2)
        load_last = Signal()  # the load stream's last word has been accepted

        # each counter as wide as the largest value a valid sample can give it (a 32-bit
        # counter would spend LUTs and flip-flops on bits that stay zero)
        bound = counter_bounds(w)
        cnt = {name: Signal(counter_width(bound[name]), name=f"cnt_{name}") for name in (
            "cycles", "input_events", "sops", "weight_reads", "membrane_reads",
            "membrane_writes", "sweeps", "saturations")}
        spikes = Array([Signal(counter_width(bound["spikes"]), name=f"cnt_spikes{k}")
                        for k in range(ML)])

        # the current layer's descriptor, registered when NEXT picks the layer (keeps the
        # descriptor multiplexers out of the issue and emission paths)
        cur_chunks = Signal(w.chunk_cnt)
        cur_reset = Signal(2)
        cur_leak = Signal(5)
        cur_nout = Signal(w.neuron_cnt)
        cur_last = Signal()
        cur_sweepable = Signal()
        nxt_base = Signal(w.row)
        nxt_chunks = Signal(w.chunk_cnt)
        cur_cm2 = Signal(w.chunk_cnt)  # chunks - 2
        cur_one = Signal()  # one chunk
        cur_two = Signal()  # two chunks
        # Static facts about the loaded network, registered: they change only while loading, and
        # as registers they keep the loader's fields out of the sequencer's decision paths.
        sweepable = [Signal(name=f"sweepable{k}") for k in range(ML)]
        always = [Signal(name=f"always{k}") for k in range(ML)]
        cm1 = [Signal(w.chunk_cnt, name=f"chunks_m1_{k}") for k in range(ML)]
        # for the chunk walk's "last chunk" flag (c_end below): chunks - 2, chunks == 1, 2
        cm2 = [Signal(w.chunk_cnt, name=f"chunks_m2_{k}") for k in range(ML)]
        one = [Signal(name=f"one_chunk{k}") for k in range(ML)]
        two = [Signal(name=f"two_chunks{k}") for k in range(ML)]
        live = [Signal(name=f"live{k}") for k in range(ML)]  # k < L
        any_static = Signal()
        last_l = Signal(w.layer_cnt)  # L - 1
        out_m1 = Signal(w.neuron_cnt)  # n_L - 1
        out_m2 = Signal(w.neuron_cnt)  # n_L - 2
        rd_first = Signal()  # rd_i == 0
        rd_last = Signal()  # rd_i == out_m1
        static_any = Const(0)
        for k in range(ML):
            dk = desc[k]
            sw = (k < L) & ~((L == k + 1) & ld.max_potential)
            al = (dk.leak != 0) | ~dk.th_const
            m.d.sync += [sweepable[k].eq(sw), always[k].eq(al), cm1[k].eq(dk.chunks - 1),
                         cm2[k].eq(dk.chunks - 2), one[k].eq(dk.chunks == 1),
                         two[k].eq(dk.chunks == 2), live[k].eq(k < L)]
            static_any = static_any | (sw & al)
        m.d.sync += [any_static.eq(static_any), last_l.eq(L - 1),
                     out_m1.eq(desc[(L - 1).as_unsigned()].n_out - 1),
                     out_m2.eq(desc[(L - 1).as_unsigned()].n_out - 2)]

        # ev_time == t, kept in a register: each edge moves t to one of four values (t_sel: kept,
        # 0, t + 1 or ev_time) and ev_time to itself or s0's time (pop), so the next compare is
        # picked from compares of registers, and the state decisions start at a register
        last_t = Signal(w.t_cnt)
        m.d.sync += last_t.eq(T - 1)
        T_KEEP, T_ZERO, T_INC, T_EV = range(4)
        t_sel = Signal(2)  # default T_KEEP
        t_eq = Signal(init=1)  # t and ev_time both reset to 0
        t1 = (t + 1)[:len(t)]
        s0t = fe.s0_time
        kept = Array([t_eq, fe.ev_time == 0, fe.ev_time == t1, Const(1)])
        popped = Array([s0t == t, s0t == 0, s0t == t1, s0t == fe.ev_time])
        m.d.sync += t_eq.eq(Mux(fe.pop, popped[t_sel], kept[t_sel]))
        ev_at_t = fe.ev_valid & ~fe.ev_end & t_eq

        # t == T - 1, registered: only STEP reads it, and STEP never comes in the cycle after t
        # moves (t moves as STEP leaves for NEXT, and in IDLE and CLEAR to the 0 it has)
        t_last = Signal()
        m.d.sync += t_last.eq(t == last_t)

        def move_t(value, kind):
            """Set t (and tell the registered match which way it moves)."""
            m.d.comb += t_sel.eq(kind)
            m.d.sync += t.eq(value)

        # The chunk walk's flags, registered with c: c_zero (c == 0) and c_end (c is the walk's
        # last chunk: cl_cm1 in CLEAR, the layer's chunks - 1 in INTEG_*/SWEEP). Each move of c
        # sets them from compares of registers (c + 1 == end as c == end - 1), so the state
        # decisions start at flip-flops.
        c_zero = Signal(init=1)
        c_end = Signal()
        cl_cm2 = Signal(w.chunk_cnt)

        def c_zero_cur():
            """c <- 0 within the current layer's walk."""
            m.d.sync += [c.eq(0), c_zero.eq(1), c_end.eq(cur_one)]

        def c_inc(end_m2):
            m.d.sync += [c.eq(c + 1), c_zero.eq(0), c_end.eq(c == end_m2)]

        # the issued op (default: none)
        op = {"valid": na.i_valid, "integ": na.i_integ, "layer": na.i_layer,
              "chunk": na.i_chunk, "row": na.i_row}
        m.d.comb += [na.i_t.eq(t), na.i_reset.eq(cur_reset), na.i_leak.eq(cur_leak),
                     na.i_layer.eq(l)]

        stall = Signal()
        counting = Signal()

        # Counting is one cycle behind the decision: a state raises bump flags, which are
        # registered, and the counters add the registered flags (sops adds the registered
        # fan-out). The state decode is then not one path with the counters' adders. The last
        # bump of a sample lands before its record is read (the serializer reads its first word
        # a cycle after the state that starts it, and no state that starts it bumps), and a
        # counter is cleared in IDLE, which a bumping state never immediately precedes; the
        # clears are assigned after the adds and take precedence.
        bumps = {name: Signal(name=f"bump_{name}") for name in (
            "input_events", "sops", "weight_reads", "membrane_reads", "membrane_writes",
            "sweeps")}

        def bump(*names):
            m.d.comb += [bumps[n].eq(1) for n in names]

        for name, flag in bumps.items():
            add = Signal(len(cur_nout) if name == "sops" else 1, name=f"add_{name}")
            m.d.sync += add.eq(Mux(flag, cur_nout, 0) if name == "sops" else flag)
            m.d.sync += cnt[name].eq(cnt[name] + add)

        def issue_integ(row, chunk):
            m.d.comb += [op["valid"].eq(1), op["integ"].eq(1), op["chunk"].eq(chunk),
                         op["row"].eq(row)]
            bump("weight_reads", "membrane_reads", "membrane_writes")

        def issue_sweep(chunk):
            m.d.comb += [op["valid"].eq(1), op["integ"].eq(0), op["chunk"].eq(chunk)]
            bump("membrane_reads", "membrane_writes")
            m.d.sync += swept.eq(1)

        def start_sweep():
            """Issue chunk 0 of the current layer's sweep; continue in SWEEP or WAIT."""
            issue_sweep(0)
            m.d.comb += eq.q_clear.eq(1)
            bump("sweeps")
            with m.If(cur_one):
                m.d.sync += wait.eq(0)
                m.next = "WAIT"
            with m.Else():
                m.d.sync += [c.eq(1), c_zero.eq(0), c_end.eq(cur_two)]
                m.next = "SWEEP"

        def to_wait():
            m.d.sync += wait.eq(0)
            m.next = "WAIT"

        def layer_done():
            m.d.sync += lc.eq(l + 1)
            m.next = "NEXT"

        # emission context
        m.d.comb += [
            eq.layer.eq(l + 1), eq.t.eq(t),
            eq.next_base.eq(nxt_base),
            eq.next_chunks.eq(nxt_chunks),
        ]
        q_raddr = Signal(w.neuron_cnt)
        m.d.comb += [eq.q_raddr.eq(q_raddr), q_raddr.eq(q_idx)]

        for k in range(ML):  # one cycle behind, like the bumps
            spiked = Signal(name=f"add_spikes{k}")
            m.d.sync += [spiked.eq(eq.spike_valid & (l == k)), spikes[k].eq(spikes[k] + spiked)]
        with m.If(eq.spike_valid):
            with m.If(cur_last & ~first_found):
                m.d.sync += [first_found.eq(1), first_idx.eq(eq.spike_neuron)]
        m.d.sync += cnt["saturations"].eq(cnt["saturations"] + na.sat_count)

        m.d.comb += [fe.time_steps.eq(T), fe.n_inputs.eq(ld.n_inputs), fe.chunks.eq(desc[0].chunks),
                     fe.check.eq(image_ok)]
        ev_error = fe.order | fe.range

        rec_words = [Signal(32, name=f"rec{k}") for k in range(n_rec)]

        # compare operands kept in registers, so the state decisions compare registers: the last
        # step (T is static while samples run) and the chunk count of the layer CLEAR is in
        # (loaded with the layer it moves to)
        cl_cm1 = Signal(w.chunk_cnt)
        quiet_r = Signal()  # the array and the emission held nothing in flight last cycle
        m.d.sync += quiet_r.eq(~na.busy & ~na.i_valid & ~eq.emitting)

        # the sequencer is in IDLE (a register kept with the state: the event fetch's ready then
        # depends on registers and the load stream's valid only). The fetch is open from a
        # sample's start to its end word, and closed out of reset: every state in which it used
        # to be enabled lies in that span, and every other one (IDLE, LOAD, RD_*, RESULT) comes
        # after an end word or reset, so it accepts exactly the words it accepted before.
        idle_r = Signal(init=1)
        m.d.comb += fe.may_start.eq(idle_r & ~self.load.valid)

        with m.FSM(name="seq") as fsm:
            with m.State("IDLE"):
                m.d.comb += ld.enable.eq(1)
                with m.If(self.load.valid | self.events.valid):
                    m.d.sync += idle_r.eq(0)
                with m.If(self.load.valid):
                    # the loader finishes a word a cycle after accepting it: wait in LOAD
                    m.d.sync += load_last.eq(self.load.payload.last)
                    m.next = "LOAD"
                with m.Elif(self.events.valid):
                    m.d.comb += [fe.start.eq(1), eq.reset.eq(1),
                                 eq.q_clear.eq(1)]
                    m.d.sync += [cnt[k].eq(0) for k in cnt]
                    m.d.sync += [spikes[k].eq(0) for k in range(ML)]
                    m.d.sync += [first_found.eq(0), pend_cur.eq(0), pend_nxt.eq(0),
                                 out_spiked.eq(0), cl.eq(0), cl_cm1.eq(cm1[0]), c.eq(0),
                                 cl_cm2.eq(cm2[0]), c_zero.eq(1), c_end.eq(one[0]),
                                 lc.eq(0)]
                    move_t(0, T_ZERO)
                    m.d.sync += [steps.eq(T), status.eq(0), status_ok.eq(image_ok)]
                    with m.If(image_ok):
                        m.next = "CLEAR"
                    with m.Else():
                        m.d.sync += status.eq(ld.status)
                        m.next = "ABORT"
            with m.State("LOAD"):
                m.d.comb += ld.enable.eq(~load_last)
                with m.If(self.load.valid & ~load_last):
                    m.d.sync += load_last.eq(self.load.payload.last)
                with m.If(ld.done):
                    m.d.sync += idle_r.eq(1)
                    m.next = "IDLE"
            with m.State("CLEAR"):
                m.d.comb += [na.clr_en.eq(1), na.clr_addr.eq(Cat(c[:w.chunk_idx], cl))]
                bump("membrane_writes")
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Elif(c_end):
                    m.d.sync += [c.eq(0), cl.eq(cl + 1), cl_cm1.eq(Array(cm1)[cl + 1]),
                                 cl_cm2.eq(Array(cm2)[cl + 1]), c_zero.eq(1),
                                 c_end.eq(Array(one)[cl + 1])]
                    with m.If(cl == last_l):
                        m.next = "STEP"
                        move_t(0, T_ZERO)
                        m.d.sync += [lc.eq(0), started.eq(0)]
                with m.Else():
                    c_inc(cl_cm2)
            with m.State("STEP"):
                # choose the next step to visit
                m.d.comb += eq.q_clear.eq(1)
                t_next = Mux(started, t + 1, 0)
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Elif(started & ((ld.early_exit & out_spiked) | t_last)):
                    m.d.sync += steps.eq(Mux(ld.early_exit & out_spiked, t + 1, T))
                    m.next = "FINISH"
                with m.Elif(any_static | (pend_nxt != 0)):
                    move_t(t_next, Mux(started, T_INC, T_ZERO))
                    m.d.sync += [lc.eq(0), pend_cur.eq(pend_nxt), pend_nxt.eq(0),
                                 out_spiked.eq(0), started.eq(1)]
                    m.next = "NEXT"
                with m.Elif(~fe.ev_valid):
                    m.d.comb += stall.eq(1)
                with m.Elif(fe.ev_end):
                    m.d.sync += steps.eq(T)
                    m.next = "FINISH"
                with m.Else():
                    move_t(fe.ev_time, T_EV)
                    m.d.sync += [lc.eq(0), pend_cur.eq(pend_nxt),
                                 pend_nxt.eq(0), out_spiked.eq(0), started.eq(1)]
                    m.next = "NEXT"
            with m.State("NEXT"):
                # work of each layer at this step; events only for layer lc
                has_ev = Signal()
                with m.If(lc == 0):
                    m.d.comb += has_ev.eq(ev_at_t)
                with m.Else():
                    m.d.comb += has_ev.eq(q_nonempty)
                found = Signal()
                sel = Signal(w.layer_idx)
                sel_ev = Signal()
                for k in reversed(range(ML)):
                    sweep_k = sweepable[k] & (always[k] | pend_cur[k])
                    work_k = (k >= lc) & (live[k] & (has_ev & (lc == k)) | sweep_k)
                    with m.If(work_k):
                        m.d.comb += [found.eq(1), sel.eq(k), sel_ev.eq(has_ev & (lc == k))]
                m.d.sync += [l.eq(sel), c.eq(0), c_zero.eq(1), q_idx.eq(0), swept.eq(0),
                             sel_ev_r.eq(sel_ev)]
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Elif((lc == 0) & ~fe.ev_valid):
                    m.d.comb += stall.eq(1)
                with m.Elif(~found):
                    m.next = "STEP"
                with m.Else():
                    m.next = "ENTER"
            with m.State("ENTER"):
                # load the picked layer's descriptor into registers (a cycle of its own, so the
                # pick and the descriptor multiplexers are not one path); the queue's entry 0 is
                # read for INTEG_Q
                sd = desc[l]
                nd = desc[(l + 1).as_unsigned()]
                has_next = l != last_l
                m.d.sync += [
                    cur_chunks.eq(sd.chunks), cur_reset.eq(sd.reset), cur_leak.eq(sd.leak),
                    cur_nout.eq(sd.n_out), cur_last.eq(l == last_l), cur_cm2.eq(Array(cm2)[l]),
                    cur_one.eq(Array(one)[l]), cur_two.eq(Array(two)[l]), c_end.eq(Array(one)[l]),
                    q_end.eq(q_last == 0),
                    cur_sweepable.eq(Array(sweepable)[l]),
                    nxt_base.eq(Mux(has_next, nd.wbase, 0)),
                    nxt_chunks.eq(Mux(has_next, nd.chunks, 0)),
                ]
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Elif(sel_ev_r & (l == 0)):
                    m.next = "INTEG_S"
                with m.Elif(sel_ev_r):
                    m.next = "INTEG_Q"
                with m.Else():
                    m.next = "SWEEP"
            with m.State("INTEG_S"):
                # the event's last chunk takes it, whether or not the sample aborts now (ABORT
                # drops the sample's words anyway): the take is not one path with the flags
                with m.If(ev_at_t & c_end):
                    m.d.comb += fe.take.eq(1)
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Elif(~fe.ev_valid):
                    m.d.comb += stall.eq(1)
                with m.Elif(ev_at_t):
                    issue_integ(fe.ev_row + c, c)
                    with m.If(c_zero):
                        bump("input_events", "sops")
                    with m.If(c_end):
                        c_zero_cur()
                    with m.Else():
                        c_inc(cur_cm2)
                with m.Elif(cur_sweepable):
                    start_sweep()
                with m.Else():
                    to_wait()
            with m.State("INTEG_Q"):
                # chunk 0's row comes straight from the queue RAM, later chunks count up from it
                # (no adder behind the RAM's output)
                row_q = Signal(w.row)
                m.d.comb += row_q.eq(Mux(c_zero, eq.q_rdata, last_row + 1))
                m.d.sync += last_row.eq(row_q)
                issue_integ(row_q, c)
                with m.If(c_zero):
                    bump("sops")
                with m.If(c_end):
                    # the next entry is read whether or not the sample aborts now
                    m.d.comb += q_raddr.eq(q_idx + 1)
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Elif(c_end):
                    c_zero_cur()
                    m.d.sync += [q_idx.eq(q_idx + 1), q_end.eq(q_idx == q_last2)]
                    with m.If(q_end):
                        with m.If(cur_sweepable):
                            m.next = "SWEEP"
                        with m.Else():
                            to_wait()
                with m.Else():
                    c_inc(cur_cm2)
            with m.State("SWEEP"):
                with m.If(c_zero):
                    start_sweep()
                with m.Else():
                    issue_sweep(c)
                    with m.If(c_end):
                        to_wait()
                    with m.Else():
                        c_inc(cur_cm2)
            with m.State("WAIT"):
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == WAIT_CYCLES - 1):
                    m.d.sync += wait.eq(0)
                    with m.If(swept & eq.pending):
                        with m.If(cur_reset == SUBTRACT):
                            m.d.sync += pend_nxt.eq(pend_nxt | (Const(1, ML) << l))
                        with m.If(cur_last):
                            m.d.sync += out_spiked.eq(1)
                        m.next = "EMIT"
                    with m.Else():
                        layer_done()
            with m.State("EMIT"):
                m.d.comb += [eq.run.eq(1), stall.eq(eq.stall)]
                with m.If(~eq.busy):
                    layer_done()
            with m.State("FINISH"):
                # consume the end word and any events after an early exit (not counted)
                m.d.comb += fe.take.eq(1)
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Elif(fe.ev_valid & fe.ev_end):
                    with m.If(ld.max_potential | ~first_found):
                        m.d.sync += [c.eq(0), c_zero.eq(1), rd_i.eq(0), rd_p.eq(0),
                                     rd_first.eq(1), rd_last.eq(out_m1 == 0)]
                        m.next = "RD_ADDR"
                    with m.Else():
                        m.next = "RESULT"
                        m.d.comb += ser.start.eq(1)
            with m.State("RD_ADDR"):
                m.d.comb += [na.rd_en.eq(1), na.rd_addr.eq(Cat(c[:w.chunk_idx], last_l))]
                bump("membrane_reads")
                m.next = "RD_LOAD"
            with m.State("RD_LOAD"):
                # the chunk's word into a register: the compares then start at a register, and
                # shifting it brings each lane to the same place (no lane multiplexer)
                m.d.sync += rd_word.eq(na.rd_data[:P * w.PB])
                m.next = "RD_LANE"
            with m.State("RD_LANE"):
                v = rd_word[:w.PB].as_signed()
                with m.If(rd_first | (v > best)):
                    m.d.sync += [best.eq(v), first_idx.eq(rd_i)]
                m.d.sync += [rd_i.eq(rd_i + 1), rd_p.eq(rd_p + 1), rd_word.eq(rd_word >> w.PB),
                             rd_first.eq(0), rd_last.eq(rd_i == out_m2)]
                with m.If(rd_last):
                    m.next = "RESULT"
                    m.d.comb += ser.start.eq(1)
                with m.Elif(rd_p == P - 1):
                    m.d.sync += [rd_p.eq(0), c.eq(c + 1)]
                    m.next = "RD_ADDR"
            with m.State("ABORT"):
                # drain the sample's words up to its end word; let in-flight work finish (no op
                # is issued and no emission starts in ABORT, so once quiet it stays quiet, and
                # the registered flag, which counts the op issued in its cycle too, is safe)
                quiet = quiet_r
                m.d.comb += fe.take.eq(~fe.ev_end | quiet)
                with m.If(fe.ev_valid & fe.ev_end & quiet):
                    # ABORT follows a loader flag or an event flag, so the status is not 0
                    m.d.sync += status_ok.eq(0)
                    m.d.sync += status.eq(Mux(image_ok, (fe.order << STATUS["EVENT_ORDER"])
                                              | (fe.range << STATUS["EVENT_RANGE"]),
                                              ld.status))
                    m.next = "RESULT"
                    m.d.comb += ser.start.eq(1)
            with m.State("RESULT"):
                with m.If(ser.done):
                    m.d.sync += idle_r.eq(1)
                    m.next = "IDLE"

        busy_states = ("CLEAR", "STEP", "NEXT", "ENTER", "INTEG_S", "INTEG_Q", "SWEEP", "WAIT",
                       "EMIT", "RD_ADDR", "RD_LOAD", "RD_LANE")
        in_busy = Const(0)
        for s in busy_states:
            in_busy = in_busy | fsm.ongoing(s)
        m.d.comb += counting.eq(in_busy & ~stall)
        # the cycle is added one cycle later (the state decode and the stall are not one path
        # with the counter's enable); the last counted cycle precedes RESULT, whose record
        # presents the cycles word no earlier than two cycles after it starts, and the count is
        # cleared in IDLE, which a counted cycle never immediately precedes
        count_q = Signal()
        m.d.sync += count_q.eq(counting)
        with m.If(count_q):
            m.d.sync += cnt["cycles"].eq(cnt["cycles"] + 1)

        # the record (valid while RESULT streams it)
        valid_bit = status_ok
        m.d.comb += [
            rec_words[0].eq(first_idx | (valid_bit << 16) | (status << 24)),
            rec_words[1].eq(steps),
            rec_words[2].eq(cnt["cycles"]),
            rec_words[3].eq(cnt["input_events"]),
            rec_words[4].eq(cnt["sops"]),
            rec_words[5].eq(cnt["weight_reads"]),
            rec_words[6].eq(cnt["membrane_reads"]),
            rec_words[7].eq(cnt["membrane_writes"]),
            rec_words[8].eq(cnt["sweeps"]),
            rec_words[9].eq(cnt["saturations"]),
        ]
        for k in range(ML):
            m.d.comb += rec_words[RECORD_HEAD + k].eq(spikes[k])
        for k in range(n_rec):
            m.d.comb += ser.words[k].eq(rec_words[k])
        rec_len = Signal.like(ser.n_words)
        m.d.sync += rec_len.eq(RECORD_HEAD + L)  # static while samples run
        m.d.comb += ser.n_words.eq(rec_len)
        return m
