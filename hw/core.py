"""The event-driven TTFS neuron core, an Amaranth 0.5 ``wiring.Component``.

The ports are the contract of ``docs/core-interface.md``; the block structure, pipeline and
cycle-cost rule are described in ``docs/microarchitecture.md`` and :mod:`sim.costmodel`, the
integer semantics it computes in ``docs/semantics.md``.

:class:`NeuronCore` builds its blocks (:meth:`NeuronCore._blocks`), then three rooms of its own:
the counters (:class:`_Counters`), the sequencer (:class:`_Sequencer`: its registers, the
registered facts its decisions start at, and the FSM, one method per group of states) and the
result record (:meth:`NeuronCore._record`).
"""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ttfs.hw.blocks import (
    EventFetch,
    EventQueue,
    NeuronArray,
    ParameterTables,
    ResultSerializer,
    ThresholdLookahead,
    WeightMemory,
    event_signature,
    max_levels,
    vmax,
)
from ttfs.hw.loader import ImageLoader, load_signature
from ttfs.hw.params import (
    GAP_CYCLES,
    REACH_CYCLES,
    RECORD_HEAD,
    SETTLE_CYCLES,
    STATUS,
    TAIL_CYCLES,
    WAIT_CYCLES,
    Widths,
    counter_bounds,
    counter_width,
)
from ttfs.sim.core import CoreConfig

__all__ = ["NeuronCore", "STATES", "core_signature"]

#: sequencer states, in the order of a sample
STATES = ("IDLE", "LOAD", "STEP", "NEXT", "INTEG_S", "INTEG_Q", "SWEEP",
          "WAIT", "DECIDE", "EMIT", "FINISH", "RD_ADDR", "RD_LOAD", "RD_LANE", "ABORT",
          "RESULT", "ENTER", "SCAN", "SWEEP_M")  # the last three on a build with chunk bounds


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
    :class:`~hw.blocks.ResultSerializer`. Here: the counters (:class:`_Counters`), the
    sequencer (:class:`_Sequencer`, an FSM of :data:`STATES`) and the record's words.

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
        # The rooms are built in this order, and each keeps its statements in order: the order
        # of the statements is the order of the emitted Verilog's cells and names.
        m = Module()
        b = self._blocks(m)
        cnt = _Counters(m, self._w)
        seq = _Sequencer(m, self._w, b, cnt, self.load, self.events)
        seq.registered_facts()
        cnt.tally(seq, b.eq, b.na)
        fsm = seq.fsm()
        cnt.count_cycles(fsm, seq.stall)
        self._record(m, b, seq, cnt)
        return m

    def _blocks(self, m: Module) -> SimpleNamespace:
        """The blocks, the core's streams and the blocks' wiring to each other (the loader
        writes the weight memory and the tables, the array reads them and pushes fire masks to
        the queue)."""
        w = self._w
        m.submodules.loader = ld = ImageLoader(w)
        m.submodules.fetch = fe = EventFetch(w)
        m.submodules.weights = wm = WeightMemory(w)
        m.submodules.tables = tb = ParameterTables(w)
        m.submodules.array = na = NeuronArray(w)
        m.submodules.lookahead = la = ThresholdLookahead(w)
        m.submodules.queue = eq = EventQueue(w, trace=self._trace)
        m.submodules.serializer = ser = ResultSerializer(RECORD_HEAD + w.ML)

        wiring.connect(m, wiring.flipped(self.load), ld.load)
        wiring.connect(m, wiring.flipped(self.events), fe.events)
        wiring.connect(m, ser.result, wiring.flipped(self.result))
        if self._trace:
            wiring.connect(m, eq.trace, wiring.flipped(self.trace))

        m.d.comb += [
            # the loader's write ports
            wm.w_en.eq(ld.w_en), wm.w_addr.eq(ld.w_addr), wm.w_data.eq(ld.w_data),
            tb.th_en.eq(ld.th_en), tb.th_addr.eq(ld.th_addr), tb.th_data.eq(ld.th_data),
            tb.k_en.eq(ld.k_en), tb.k_addr.eq(ld.k_addr), tb.k_data.eq(ld.k_data),
            la.th_en.eq(ld.th_en), la.th_addr.eq(ld.th_addr), la.th_data.eq(ld.th_data),
            # the array's read ports
            wm.r_addr.eq(na.w_addr), na.w_data.eq(wm.r_data),
            tb.r_addr.eq(na.t_addr), na.th.eq(tb.th), na.k.eq(tb.k),
            # fire masks into the queue
            eq.push_valid.eq(na.fire_valid), eq.push_chunk.eq(na.fire_chunk),
            eq.push_mask.eq(na.fire_mask),
        ]
        return SimpleNamespace(ld=ld, fe=fe, na=na, eq=eq, ser=ser, la=la, tb=tb)

    def _record(self, m: Module, b: SimpleNamespace, seq: _Sequencer, cnt: _Counters) -> None:
        """The result record's words (docs/core-interface.md), held still while RESULT streams
        them, and its length."""
        ML = self._w.ML
        n_rec = RECORD_HEAD + ML
        ser = b.ser
        rec_words = [Signal(32, name=f"rec{k}") for k in range(n_rec)]
        c = cnt.cnt
        valid_bit = seq.status_ok
        m.d.comb += [
            rec_words[0].eq(cnt.first_idx | (valid_bit << 16) | (seq.status << 24)),
            rec_words[1].eq(seq.steps),
            rec_words[2].eq(c["cycles"]),
            rec_words[3].eq(c["input_events"]),
            rec_words[4].eq(c["sops"]),
            rec_words[5].eq(c["weight_reads"]),
            rec_words[6].eq(c["membrane_reads"]),
            rec_words[7].eq(c["membrane_writes"]),
            rec_words[8].eq(c["sweeps"]),
            rec_words[9].eq(c["saturations"]),
        ]
        for k in range(ML):
            m.d.comb += rec_words[RECORD_HEAD + k].eq(cnt.spikes[k])
        for k in range(n_rec):
            m.d.comb += ser.words[k].eq(rec_words[k])
        rec_len = Signal.like(ser.n_words)
        m.d.sync += rec_len.eq(RECORD_HEAD + b.ld.n_layers)  # static while samples run
        m.d.comb += ser.n_words.eq(rec_len)


class _Counters:
    """The record's counters and the prediction a spike gives it, kept as a sample runs.

    Each counter is as wide as the largest value a valid sample can give it (a 32-bit counter
    would spend LUTs and flip-flops on bits that stay zero). The sequencer clears them in IDLE.

    Counting is one cycle behind the decision: a state raises bump flags (:meth:`bump`), which
    are registered, and the counters add the registered flags (sops adds the registered
    fan-out). The state decode is then not one path with the counters' adders. The last bump of
    a sample lands before its record is read (the serializer reads its first word a cycle after
    the state that starts it, and no state that starts it bumps), and a counter is cleared in
    IDLE, which a bumping state never immediately precedes; the clears are assigned after the
    adds and take precedence.
    """

    def __init__(self, m: Module, w: Widths):
        self._m = m
        self._w = w
        bound = counter_bounds(w)
        self.cnt = {name: Signal(counter_width(bound[name]), name=f"cnt_{name}") for name in (
            "cycles", "input_events", "sops", "weight_reads", "membrane_reads",
            "membrane_writes", "sweeps", "saturations")}
        self.spikes = Array([Signal(counter_width(bound["spikes"]), name=f"cnt_spikes{k}")
                             for k in range(w.ML)])
        self.bumps = {name: Signal(name=f"bump_{name}") for name in (
            "input_events", "sops", "weight_reads", "membrane_reads", "membrane_writes",
            "sweeps")}
        # the first spike of the output layer (the prediction, unless the readout runs)
        self.first_found = Signal()
        self.first_idx = Signal(w.neuron_idx)

    def bump(self, *names: str) -> None:
        """Count one for each of ``names`` (``sops``: the current layer's fan-out) this cycle."""
        self._m.d.comb += [self.bumps[n].eq(1) for n in names]

    def tally(self, seq: _Sequencer, eq: EventQueue, na: NeuronArray) -> None:
        """The adds: the bumped counters, each spike for its layer (and the output layer's first
        spike as the prediction), the array's saturated lanes."""
        m = self._m
        cnt = self.cnt
        for name, flag in self.bumps.items():
            add = Signal(len(seq.cur_nout) if name == "sops" else 1, name=f"add_{name}")
            m.d.sync += add.eq(Mux(flag, seq.cur_nout, 0) if name == "sops" else flag)
            m.d.sync += cnt[name].eq(cnt[name] + add)

        for k in range(self._w.ML):  # one cycle behind, like the bumps
            spiked = Signal(name=f"add_spikes{k}")
            m.d.sync += [spiked.eq(eq.spike_valid & (seq.em_l == k)),
                         self.spikes[k].eq(self.spikes[k] + spiked)]
        with m.If(eq.spike_valid):
            with m.If(seq.em_last & ~self.first_found):
                m.d.sync += [self.first_found.eq(1), self.first_idx.eq(eq.spike_neuron)]
        m.d.sync += cnt["saturations"].eq(cnt["saturations"] + na.sat_count)

    def count_cycles(self, fsm, stall: Signal) -> None:
        """The ``cycles`` counter: the cycles of the states that count (docs/microarchitecture.md,
        the cycle-cost rule) in which the sequencer does not stall (``STEP``'s wait for the
        sample's first event word is not a stall: see :meth:`_Sequencer.step_on`)."""
        m = self._m
        busy_states = ("STEP", "NEXT", "INTEG_S", "INTEG_Q", "SWEEP", "WAIT",
                       "DECIDE", "EMIT", "RD_ADDR", "RD_LOAD", "RD_LANE")
        if self._w.SW:
            busy_states += ("ENTER", "SCAN", "SWEEP_M")
        in_busy = Const(0)
        for s in busy_states:
            in_busy = in_busy | fsm.ongoing(s)
        counting = Signal()
        m.d.comb += counting.eq(in_busy & ~stall)
        # the cycle is added one cycle later (the state decode and the stall are not one path
        # with the counter's enable); the last counted cycle precedes RESULT, whose record
        # presents the cycles word no earlier than two cycles after it starts, and the count is
        # cleared in IDLE, which a counted cycle never immediately precedes
        count_q = Signal()
        m.d.sync += count_q.eq(counting)
        with m.If(count_q):
            m.d.sync += self.cnt["cycles"].eq(self.cnt["cycles"] + 1)


# how t moves at an edge (_Sequencer.move_t): kept, to 0, to t + 1, to the event's time
_T_KEEP, _T_ZERO, _T_INC, _T_EV = range(4)


class _Sequencer:
    """The sequencer (the FSM of :data:`STATES`, docs/microarchitecture.md, "The sequencer and
    the cycle-cost rule"): its registers, the registered facts its decisions start at
    (:meth:`registered_facts`), the actions its states share, and the states (:meth:`fsm`)."""

    def __init__(self, m: Module, w: Widths, b: SimpleNamespace, cnt: _Counters, load, events):
        self._m = m
        self._w = w
        self._cnt = cnt
        self.ld, self.fe, self.na, self.eq, self.ser = b.ld, b.fe, b.na, b.eq, b.ser
        self.la = b.la
        self._load = load
        self._events = events
        ML = w.ML
        self.image_ok = self.ld.status == 0

        # the walk: step, layer, chunk, queue entry
        self.t = Signal(w.t_idx)
        self.l = Signal(w.layer_idx)
        self.lc = Signal(w.layer_cnt)  # the first layer NEXT may pick
        self.c = Signal(w.chunk_cnt)
        self.q_idx = Signal(w.neuron_cnt)
        self.q_next = Signal(w.neuron_cnt)  # q_idx + 1, kept beside it (no adder in the
        # queue's end test and next read address)
        # The lazy clear: a layer's membrane words hold the last sample's potentials until the
        # layer's first pass (a whole walk of its chunks) in this sample, whose ops read no
        # word: they take 0 (the array's i_fresh). touched[k]: layer k's first pass is issued.
        self.touched = Signal(ML)
        self.wait = Signal(range(max(WAIT_CYCLES, SETTLE_CYCLES) + 1))
        # cycles since the last sweep op, up to TAIL_CYCLES - 1 (for em_final and the
        # GAP_CYCLES test of the overlapped emission)
        self.tail = Signal(range(TAIL_CYCLES))
        # the wait after an event phase of a layer that sweeps only where it fires: the bound
        # settles, then DECIDE sweeps or not
        self.settle = Signal()
        self.swept = Signal()  # the current layer phase issued sweep ops
        # layers without a leak whose bound reaches their threshold at this step: one of their
        # neurons fires here even without events (set as STEP moves to the step)
        self.need_cur = Signal(ML)
        self.out_spiked = Signal()  # the last layer spiked at this step
        self.started = Signal()  # a step has run in this sample
        self.last_row = Signal(w.row)  # the weight row INTEG_Q issued last
        # the queue holds events for layer lc at this step: set as an overlapped sweep starts
        # (its layer fires) or as a sweep's wait ends with spikes, cleared with the queue
        self.q_has = Signal()
        self.q_set = Signal()
        self.load_last = Signal()  # the load stream's last word has been accepted
        # the readout of the output layer's potentials
        self.rd_p = Signal(range(w.P))
        self.rd_i = Signal(w.neuron_cnt)
        self.rd_word = Signal(w.P * w.PB)
        self.best = Signal(signed(w.PB))
        self.rd_first = Signal()  # rd_i == 0
        self.rd_last = Signal()  # rd_i == out_m1
        # the record's head: steps run, status
        self.steps = Signal(w.t_cnt)
        self.status = Signal(8)
        self.status_ok = Signal()  # status == 0, set with it (the record's valid bit)

        # the current layer's descriptor, registered when NEXT picks the layer (keeps the
        # descriptor multiplexers out of the issue and emission paths)
        self.cur_chunks = Signal(w.chunk_cnt)
        self.cur_reset = Signal(2)
        self.cur_leak = Signal(5)
        self.cur_nout = Signal(w.neuron_cnt)
        self.cur_last = Signal()
        self.cur_sweepable = Signal()
        self.cur_leaky = Signal()
        self.cur_cm2 = Signal(w.chunk_cnt)  # chunks - 2
        self.cur_one = Signal()  # one chunk
        self.cur_two = Signal()  # two chunks

        # The chunk walk's flags, registered with c: c_zero (c == 0) and c_end (c is the walk's
        # last chunk: the layer's chunks - 1). Each move of c sets them from compares of
        # registers (c + 1 == end as c == end - 1), so the state decisions start at flip-flops.
        self.c_zero = Signal(init=1)
        self.c_end = Signal()

        self.stall = Signal()  # the sequencer waits on the event stream (or the trace FIFO)
        # The emission's context, set as a sweep starts: an overlapped emission (a layer
        # without a leak that feeds another) runs from there on, under the sweep and the next
        # layer's NEXT and INTEG_Q, which move l and the descriptor registers on; any
        # other from the sweep's WAIT on. emit_on runs the emitter until the next sweep starts.
        self.emit_on = Signal()
        self.em_l = Signal(w.layer_idx)
        self.em_last = Signal()  # the emitting layer is the last one
        self.em_base = Signal(w.row)
        self.em_chunks = Signal(w.chunk_cnt)
        # (traced builds) the trace FIFO holds words: a sweep waits, uncounted, until it is
        # empty, so the emission never waits on the trace stream
        self.traced = "trace" in self.eq.signature.members
        if w.SW:
            self._scan_registers()
        self._reach_registers(b.tb)

    def _reach_registers(self, tb) -> None:
        """The reach test's registers (docs/microarchitecture.md, "The reach test"): ``R``, an
        upper bound of the first layer's potentials, raised by every input event by the most it
        can add, ``2**(WB - 1) * K_1[t]`` (``K_1[t]`` from the kernel table's second read port
        at ``t``, registered: current two cycles after ``t`` moves, so in the cycle after a
        layer phase's first). An event raises ``R`` in the cycle after its first op
        (``r_add``). ``R`` is a whole multiple of ``2**(WB - 1)``: ``reach`` holds
        ``R >> (WB - 1)``, and ``reach_sat`` ``R >= 2**(PB - 1)``, above every threshold."""
        m, w = self._m, self._w
        vb = w.PB - 1 or 1
        m.d.comb += tb.k0_addr.eq(self.t)
        self.r_inc = Signal(w.KB)
        m.d.sync += self.r_inc.eq(tb.k0)
        self.r_lo = min(w.WB - 1, vb)  # R's low bits, always 0
        self.reach = Signal(max(1, vb - self.r_lo))
        self.reach_sat = Signal()
        self.r_add = Signal()  # an input event's first op was issued in the cycle before
        m.d.sync += self.r_add.eq(0)
        hi = len(self.reach) if w.PB - 1 > self.r_lo else 0
        total = Signal(max(hi, len(self.r_inc)) + 1)
        m.d.comb += total.eq(self.reach + self.r_inc)
        with m.If(self.r_add):
            m.d.sync += [self.reach.eq(total[:len(self.reach)]),
                         self.reach_sat.eq(self.reach_sat | (total[hi:] != 0))]
        # registered in registered_facts: R is below the lowest threshold of the first layer
        # up to the next event's step, its table does not rise after t, and the layer in
        # hand is the first
        self.reach_ok = Signal()

    def reach_add(self) -> None:
        """An input event raises ``R`` (in the next cycle, when ``r_inc`` is current even for
        a phase that started in the cycle after ``t`` moved)."""
        self._m.d.sync += self.r_add.eq(1)

    def _scan_registers(self) -> None:
        """A build with chunk bounds: the scan's registers (docs/microarchitecture.md, "Partial
        sweeps"). ``sg`` is the group of chunk bounds read (address ``Cat(sg, l)``, every
        cycle), ``dg`` the group whose bounds arrive (read the cycle before); the scan sets one
        mask bit per chunk that fires, and the bound of the chunks that do not fire goes to the
        layer's bound when the last group has passed (``bound_set``, :meth:`_scan_logic`)."""
        m, w = self._m, self._w
        self.sg = Signal(range(w.groups + 1))
        self.dg = Signal(range(w.groups + 1))
        m.d.sync += self.dg.eq(self.sg)
        self.maskg = [Signal(w.SW, name=f"scan_mask{g}") for g in range(w.groups)]
        # the current layer's last group and, in it, its last chunk's lane (from chunks - 1)
        self.cur_glast = Signal(max(1, w.group_bits))
        self.cur_blast = Signal(max(1, w.sw_bits))
        self.first_sw = Signal()  # SWEEP_M issues the partial sweep's first op
        # Theta_l[t] for each layer that may fire, set as the step is picked from the
        # lookahead value that need_cur was set from (the threshold of a step reached without
        # events, where NEXT may pick a layer to scan), and the scan's threshold, from it in
        # NEXT or, after an event phase, from the array's table read in DECIDE
        vb = w.PB - 1 or 1
        self.th_cur = [Signal(vb, name=f"th_cur{k}") for k in range(w.fire_layers)]
        self.th_cur += [Const(0, vb) for _ in range(w.fire_layers, w.ML)]
        self.scan_th = Signal(vb)
        m.d.comb += self.na.cb_raddr.eq(Cat(self.sg[:w.group_bits], self.l) if w.group_bits
                                        else self.l)

    def registered_facts(self) -> None:
        """Facts the state decisions read, kept in registers so each decision starts at
        flip-flops: the queue's fill, the loaded network's static facts, ``t == ev_time`` and
        ``t == T - 1``."""
        m, w, ld, fe, eq = self._m, self._w, self.ld, self.fe, self.eq
        ML = w.ML
        desc = ld.desc
        L = ld.n_layers
        T = ld.time_steps
        t = self.t

        # The queue's facts (docs/microarchitecture.md, "The overlapped emission"): INTEG_Q
        # issues entry q_idx once it is written (count > q_idx), and ends the phase when the
        # emission is final and no entry is left. The emission is final when no sweep op is
        # younger than TAIL_CYCLES (every fire mask has entered the emitter, and the swept
        # layer's bound is final by the time NEXT can decide the next step) and the emitter
        # holds nothing: then count is every spike of the layer.
        # The entry's read is addressed the cycle before its issue; an entry written at the end
        # of that cycle comes from q_wrow instead (a read in the write's cycle is not used,
        # guarded_read). q_ram: the entry is the RAM's word (it was written earlier).
        self.q_avail = Signal()
        self.q_last_now = Signal()
        # (in INTEG_Q, count >= q_idx: count only grows there, and q_idx passes an entry only
        # once it is written; so "count > q_idx" is "count != q_idx")
        m.d.comb += [self.q_avail.eq(eq.count != self.q_idx),
                     self.q_last_now.eq(eq.count == self.q_next)]
        # (entry q_idx was written in the cycle before: it is the last one written)
        wrote_r = Signal()
        m.d.sync += wrote_r.eq(eq.q_write)
        self.q_ram = Signal()
        m.d.comb += self.q_ram.eq(~(wrote_r & self.q_last_now))
        self.em_final = Signal()
        m.d.comb += self.em_final.eq((self.tail == TAIL_CYCLES - 1) & ~eq.busy)
        with m.If(self.tail != TAIL_CYCLES - 1):
            m.d.sync += self.tail.eq(self.tail + 1)
        m.d.sync += self.q_has.eq((self.q_has & ~eq.q_clear) | self.q_set)

        # Static facts about the loaded network, registered: they change only while loading, and
        # as registers they keep the loader's fields out of the sequencer's decision paths.
        self.sweepable = [Signal(name=f"sweepable{k}") for k in range(ML)]
        self.leaky = [Signal(name=f"leaky{k}") for k in range(ML)]
        self.cm1 = [Signal(w.chunk_cnt, name=f"chunks_m1_{k}") for k in range(ML)]
        # for the chunk walk's "last chunk" flag (c_end): chunks - 2, chunks == 1, 2
        self.cm2 = [Signal(w.chunk_cnt, name=f"chunks_m2_{k}") for k in range(ML)]
        self.one = [Signal(name=f"one_chunk{k}") for k in range(ML)]
        self.two = [Signal(name=f"two_chunks{k}") for k in range(ML)]
        self.live = [Signal(name=f"live{k}") for k in range(ML)]  # k < L
        self.any_leak = Signal()  # a layer that may fire leaks: every step is visited
        self.last_l = Signal(w.layer_cnt)  # L - 1
        self.out_m1 = Signal(w.neuron_cnt)  # n_L - 1
        self.out_m2 = Signal(w.neuron_cnt)  # n_L - 2
        leak_any = Const(0)
        for k in range(ML):
            dk = desc[k]
            sw = ((k < L) & ~((L == k + 1) & ld.max_potential) if k < w.fire_layers
                  else Const(0))
            m.d.sync += [self.sweepable[k].eq(sw), self.leaky[k].eq(dk.leak != 0),
                         self.cm1[k].eq(dk.chunks - 1), self.cm2[k].eq(dk.chunks - 2),
                         self.one[k].eq(dk.chunks == 1), self.two[k].eq(dk.chunks == 2),
                         self.live[k].eq(k < L)]
            leak_any = leak_any | (sw & (dk.leak != 0))
        m.d.sync += [self.any_leak.eq(leak_any), self.last_l.eq(L - 1),
                     self.out_m1.eq(desc[(L - 1).as_unsigned()].n_out - 1),
                     self.out_m2.eq(desc[(L - 1).as_unsigned()].n_out - 2)]

        # ev_time == t, kept in a register: each edge moves t to one of four values (t_sel: kept,
        # 0, t + 1 or ev_time) and ev_time to itself or s0's time (pop), so the next compare is
        # picked from compares of registers, and the state decisions start at a register
        last_t = self.last_t = Signal(w.t_cnt)  # the last step (T is static while samples run)
        m.d.sync += last_t.eq(T - 1)
        self.t_sel = Signal(2)  # default _T_KEEP
        t_eq = Signal(init=1)  # t and ev_time both reset to 0
        t1 = (t + 1)[:len(t)]
        s0t = fe.s0_time
        kept = Array([t_eq, fe.ev_time == 0, fe.ev_time == t1, Const(1)])
        popped = Array([s0t == t, s0t == 0, s0t == t1, s0t == fe.ev_time])
        m.d.sync += t_eq.eq(Mux(fe.pop, popped[self.t_sel], kept[self.t_sel]))
        self.ev_at_t = fe.ev_valid & ~fe.ev_end & t_eq

        # The layer bounds' decisions (docs/microarchitecture.md, "The skip rule"), from the
        # bounds and the lookahead's thresholds: need_next / need_ev, whether each layer's bound
        # reaches the threshold of t + 1 / of the next event's step (registered into need_cur
        # as the step moves there; at a sample's first step every bound is 0, below every
        # threshold, and the lookahead may hold another entry: forced to 0), and jump_ok, that
        # no layer can fire before the next event's step (or at all, before the end word):
        # for each layer that may fire, its table does not rise after t + 1 and its bound is
        # below the threshold of the step before the event's (the lowest of the gap). jump_ok
        # is made of registered compares, so the decision starts at flip-flops: the gap compare
        # (valid once the event's time and the bound have stood still for two cycles, which
        # ev_ready checks and the bounds always have, see the doc) and "does not rise after
        # t + 1" for t and for t + 1, picked like the lookahead's threshold by whether t moved
        # by one at the last edge (NEXT never meets a jump's step without events, so the value
        # after a jump is never used).
        la, na, fe = self.la, self.na, self.fe
        vb = w.PB - 1 or 1
        rb = max(1, w.t_idx)
        m.d.comb += [la.t.eq(t), la.inc.eq(self.t_sel == _T_INC), la.ev_time.eq(fe.ev_time)]
        self.need_next = Signal(ML)
        self.need_ev = Signal(ML)
        inc_r = Signal()
        m.d.sync += inc_r.eq(self.t_sel == _T_INC)
        jump_ok = Const(1)
        # (a slot that never fires, w.fire_layers, is never sweepable: no decisions for it)
        for k in range(w.fire_layers):
            sl = slice(k * vb, (k + 1) * vb)
            bound = na.bound[sl]
            gap = Mux(fe.ev_end, la.th_last[sl], la.th_gap[sl])
            rise = la.rise[k * rb:(k + 1) * rb]
            gap_ok = Signal(name=f"gap_ok{k}")
            falls1 = Signal(name=f"falls1_{k}")
            falls2 = Signal(name=f"falls2_{k}")
            m.d.sync += [gap_ok.eq(gap > bound), falls1.eq(rise <= t + 1),
                         falls2.eq(rise <= t + 2)]
            if k == 0:
                # the reach test's compare, like gap_ok (current when ev_ready is): R below
                # the gap's threshold, R's low bits being 0
                r_full = Cat(Const(0, self.r_lo), self.reach)[:vb]
                m.d.sync += self.reach_ok.eq(~self.reach_sat & (gap > r_full) & (rise <= t)
                                             & (self.l == 0))
            m.d.comb += [self.need_next[k].eq(self.started & (bound >= la.th_next[sl])),
                         self.need_ev[k].eq(self.started & (bound >= la.th_ev[sl]))]
            jump_ok = jump_ok & (~self.sweepable[k] | (Mux(inc_r, falls2, falls1) & gap_ok))
        self.jump_ok = Signal()
        m.d.comb += self.jump_ok.eq(jump_ok)
        # the event fetch's head has stood still for two cycles (the lookahead's reads at its
        # time, and the registered compares of them, are current)
        ev_ready1 = Signal()
        self.ev_ready = Signal()
        still = fe.ev_valid & ~fe.pop
        m.d.sync += [ev_ready1.eq(still), self.ev_ready.eq(ev_ready1 & still)]

    # -- actions the states share ------------------------------------------------------------

    def move_t(self, value, kind: int) -> None:
        """Set t (and tell the registered match which way it moves)."""
        self._m.d.comb += self.t_sel.eq(kind)
        self._m.d.sync += self.t.eq(value)

    def c_zero_cur(self) -> None:
        """c <- 0 within the current layer's walk."""
        self._m.d.sync += [self.c.eq(0), self.c_zero.eq(1), self.c_end.eq(self.cur_one)]

    def c_inc(self, end_m2) -> None:
        """c <- c + 1 in a walk whose last chunk is ``end_m2 + 1``."""
        c = self.c
        self._m.d.sync += [c.eq(c + 1), self.c_zero.eq(0), self.c_end.eq(c == end_m2)]

    def issue_op(self) -> None:
        """What every op does besides its own fields: an op of the layer's first pass in this
        sample (the lazy clear) reads no membrane word and takes 0 (``i_fresh``); any other op
        reads one. The pass's last chunk marks the layer touched. (Every pass that can be a
        layer's first walks all its chunks in order: an event's integrate ops, or a whole-layer
        sweep of a leaky layer; a partial sweep follows the layer's bound, which only ops
        raise.)"""
        m, na, touched = self._m, self.na, self.touched
        fresh = ~touched.bit_select(self.l, 1)
        m.d.comb += [na.i_valid.eq(1), na.i_fresh.eq(fresh)]
        self._cnt.bump("membrane_writes")
        with m.If(~fresh):
            self._cnt.bump("membrane_reads")
        with m.If(self.c_end):
            m.d.sync += touched.bit_select(self.l, 1).eq(1)

    def issue_integ(self, row, chunk) -> None:
        na = self.na
        self.issue_op()
        self._m.d.comb += [na.i_integ.eq(1), na.i_chunk.eq(chunk), na.i_row.eq(row)]
        self._cnt.bump("weight_reads")

    def issue_sweep(self, chunk) -> None:
        na = self.na
        self.issue_op()
        self._m.d.comb += [na.i_integ.eq(0), na.i_chunk.eq(chunk)]
        self._m.d.sync += [self.swept.eq(1), self.tail.eq(0)]

    @property
    def overlapped(self):
        """The current layer's emission overlaps its sweep: it has no leak (it fires when it
        sweeps) and feeds another layer."""
        return ~self.cur_leaky & ~self.cur_last

    def emission_starts(self) -> None:
        """At a sweep's first op: the queue restarts, and the emission's context is set; an
        overlapped emission runs from here (its layer fires: the queue will hold events), any
        other from the sweep's WAIT on."""
        m = self._m
        nd = self.ld.desc[(self.l + 1).as_unsigned()]
        m.d.comb += self.eq.q_clear.eq(1)
        m.d.sync += [self.emit_on.eq(self.overlapped), self.em_l.eq(self.l),
                     self.em_last.eq(self.cur_last),
                     self.em_base.eq(Mux(self.cur_last, 0, nd.wbase)),
                     self.em_chunks.eq(Mux(self.cur_last, 0, nd.chunks))]
        m.d.comb += self.q_set.eq(self.overlapped)
        self._cnt.bump("sweeps")

    def sweep_ends(self) -> None:
        """After a sweep's last op: an overlapped layer's phase ends (its emission runs on
        under the next layer's); any other waits for the array to drain."""
        with self._m.If(self.overlapped):
            self.layer_done()
        with self._m.Else():
            self.to_wait()

    @contextmanager
    def unless_trace_busy(self, when=None):
        """(Traced builds) the body of a state that starts a sweep, held while the trace FIFO
        holds words (and ``when``, if given: the cycle would start the sweep): that cycle is a
        stall, not counted, and nothing moves."""
        if not self.traced:
            yield
            return
        m = self._m
        busy = self.eq.trace_busy if when is None else when & self.eq.trace_busy
        with m.If(busy):
            m.d.comb += self.stall.eq(1)
        with m.Else():
            yield

    def start_sweep(self) -> None:
        """Issue chunk 0 of the current layer's sweep; continue in SWEEP, or end it."""
        m = self._m
        self.issue_sweep(0)
        self.emission_starts()
        with m.If(self.cur_one):
            self.sweep_ends()
        with m.Else():
            m.d.sync += [self.c.eq(1), self.c_zero.eq(0), self.c_end.eq(self.cur_two)]
            m.next = "SWEEP"

    def _set_th_cur(self, th) -> None:
        """(A build with chunk bounds) each firing layer's threshold at the step being picked:
        ``th`` is the lookahead's ``th_next`` or ``th_ev``, whichever ``need_cur`` is set from
        (at a sample's first step ``need_cur`` is 0 and the value is never used)."""
        if not self._w.SW:
            return
        vb = self._w.PB - 1 or 1
        self._m.d.sync += [self.th_cur[k].eq(th[k * vb:(k + 1) * vb])
                           for k in range(self._w.fire_layers)]

    def to_scan(self) -> None:
        """Scan the current layer's chunk bounds (group 0 is read in this cycle)."""
        self._m.d.sync += self.sg.eq(1)
        self._m.next = "SCAN"

    def to_wait(self) -> None:
        self._m.d.sync += self.wait.eq(0)
        self._m.next = "WAIT"

    def to_settle(self, waited: int = 0) -> None:
        """Wait for the layer's bound after its event phase (``SETTLE_CYCLES`` after the last
        op, ``waited`` of which have passed), then DECIDE. The queue's events are spent: it is
        emptied now (a sweep would empty it too), so a layer that does not sweep leaves nothing
        for the next NEXT to take as events."""
        self._m.d.sync += [self.wait.eq(waited), self.settle.eq(1)]
        self._m.d.comb += self.eq.q_clear.eq(1)
        self._m.next = "WAIT"

    def queue_phase_ends(self) -> None:
        """The end of an event phase from the queue: a leaky layer sweeps, a layer without a
        leak lets its bound settle (then DECIDE), the max_potential output layer is done."""
        m = self._m
        with m.If(self.cur_sweepable & self.cur_leaky):
            m.next = "SWEEP"
        with m.Elif(self.cur_sweepable):
            self.to_settle()
        with m.Else():
            self.layer_done()

    def layer_done(self) -> None:
        self._m.d.sync += self.lc.eq(self.l + 1)
        self._m.next = "NEXT"

    def step_on(self, t_last, first: bool = False) -> None:
        """Choose the next step (from STEP, or from a NEXT that found no more layers): finish
        (early exit, or ``t`` was the last step, ``t_last``); with a leaky layer, visit ``t + 1``;
        otherwise jump to the next input event's step when no layer can fire before it
        (``jump_ok``; the end word then finishes), else visit ``t + 1``. Waits (stall) for the
        event stream; ``first`` (STEP): the wait is counted, not a stall."""
        m, ld, fe, eq = self._m, self.ld, self.fe, self.eq
        t, lc, started, out_spiked = self.t, self.lc, self.started, self.out_spiked
        m.d.comb += eq.q_clear.eq(1)
        moved = [lc.eq(0), out_spiked.eq(0), started.eq(1)]
        with m.If(started & ((ld.early_exit & out_spiked) | t_last)):
            m.d.sync += self.steps.eq(Mux(ld.early_exit & out_spiked, t + 1, ld.time_steps))
            m.next = "FINISH"
        with m.Elif(self.any_leak):
            self.move_t(Mux(started, t + 1, 0), Mux(started, _T_INC, _T_ZERO))
            m.d.sync += [*moved, self.need_cur.eq(self.need_next)]
            self._set_th_cur(self.la.th_next)
            m.next = "NEXT"
        with m.Elif(~fe.ev_valid | ~self.ev_ready):
            if not first:
                m.d.comb += self.stall.eq(1)
            # (STEP, ``first``: the wait is for the sample's first event word, which IDLE
            # accepted, to come through the fetch, and for the lookahead's reads at its time:
            # the core's own latency, counted, not a wait on the stream)
        with m.Elif(started & ~self.jump_ok):
            self.move_t(t + 1, _T_INC)
            m.d.sync += [*moved, self.need_cur.eq(self.need_next)]
            self._set_th_cur(self.la.th_next)
            m.next = "NEXT"
        with m.Elif(fe.ev_end):
            m.d.sync += self.steps.eq(ld.time_steps)
            m.next = "FINISH"
        with m.Else():
            self.move_t(fe.ev_time, _T_EV)
            m.d.sync += [*moved, self.need_cur.eq(self.need_ev)]
            self._set_th_cur(self.la.th_ev)
            m.next = "NEXT"

    # -- the FSM -------------------------------------------------------------------------------

    def fsm(self):
        """The issued op's and the emission's context, the event fetch's settings, and the
        FSM; returns the FSM (for :meth:`_Counters.count_cycles`)."""
        m, w, ld, fe, na, eq = self._m, self._w, self.ld, self.fe, self.na, self.eq
        m.d.comb += [na.i_t.eq(self.t), na.i_reset.eq(self.cur_reset),
                     na.i_leak.eq(self.cur_leak), na.i_layer.eq(self.l)]
        # emission context
        m.d.comb += [
            eq.layer.eq(self.em_l + 1), eq.t.eq(self.t),
            eq.next_base.eq(self.em_base),
            eq.next_chunks.eq(self.em_chunks),
            eq.run.eq(self.emit_on),
        ]
        self.q_raddr = Signal(w.neuron_cnt)
        m.d.comb += [eq.q_raddr.eq(self.q_raddr), self.q_raddr.eq(self.q_idx)]

        m.d.comb += [fe.time_steps.eq(ld.time_steps), fe.n_inputs.eq(ld.n_inputs),
                     fe.chunks.eq(ld.desc[0].chunks), fe.check.eq(self.image_ok)]
        self.ev_error = fe.order | fe.range

        # the array and the emission held nothing in flight last cycle
        self.quiet_r = Signal()
        quiet = ~na.busy & ~na.i_valid & ~eq.busy
        if self.traced:
            quiet = quiet & ~eq.trace_busy  # the sample's trace words leave before its result
        m.d.sync += self.quiet_r.eq(quiet)

        # the sequencer is in IDLE (a register kept with the state: the event fetch's ready then
        # depends on registers and the load stream's valid only). The fetch is open from a
        # sample's start to its end word, and closed out of reset: every state in which it used
        # to be enabled lies in that span, and every other one (IDLE, LOAD, RD_*, RESULT) comes
        # after an end word or reset, so it accepts exactly the words it accepted before.
        self.idle_r = Signal(init=1)
        m.d.comb += fe.may_start.eq(self.idle_r & ~self._load.valid)

        if w.SW:
            self._scan_logic()
        with m.FSM(name="seq") as fsm:
            self._load_states()
            self._step_states()
            self._layer_states()
            if w.SW:
                self._scan_states()
            self._readout_states()
            self._end_states()
        return fsm

    def _load_states(self) -> None:
        """IDLE (a load, or a sample's first word) and LOAD."""
        m, ld, fe, eq, cnt = self._m, self.ld, self.fe, self.eq, self._cnt
        load, events = self._load, self._events
        with m.State("IDLE"):
            m.d.comb += ld.enable.eq(1)
            with m.If(load.valid | events.valid):
                m.d.sync += self.idle_r.eq(0)
            with m.If(load.valid):
                # the loader finishes a word a cycle after accepting it: wait in LOAD
                m.d.sync += self.load_last.eq(load.payload.last)
                m.next = "LOAD"
            with m.Elif(events.valid):
                m.d.comb += [fe.start.eq(1), eq.reset.eq(1),
                             eq.q_clear.eq(1)]
                m.d.sync += self.emit_on.eq(0)
                m.d.sync += [k.eq(0) for k in cnt.cnt.values()]
                m.d.sync += [cnt.spikes[k].eq(0) for k in range(self._w.ML)]
                m.d.comb += self.na.bound_clear.eq(1)
                m.d.sync += [self.reach.eq(0), self.reach_sat.eq(0)]
                m.d.sync += [cnt.first_found.eq(0), self.need_cur.eq(0),
                             self.out_spiked.eq(0), self.lc.eq(0), self.started.eq(0),
                             self.touched.eq(0)]
                self.move_t(0, _T_ZERO)
                m.d.sync += [self.steps.eq(ld.time_steps), self.status.eq(0),
                             self.status_ok.eq(self.image_ok)]
                with m.If(self.image_ok):
                    m.next = "STEP"
                with m.Else():
                    m.d.sync += self.status.eq(ld.status)
                    m.next = "ABORT"
        with m.State("LOAD"):
            m.d.comb += ld.enable.eq(~self.load_last)
            with m.If(load.valid & ~self.load_last):
                m.d.sync += self.load_last.eq(load.payload.last)
            with m.If(ld.done):
                m.d.sync += self.idle_r.eq(1)
                m.next = "IDLE"

    def _step_states(self) -> None:
        """STEP (the sample's first step), NEXT (the next layer with work at it, and its
        descriptor into registers) and, on a build with chunk bounds, ENTER (the first read of
        a scan at a step reached without events)."""
        m, w, fe = self._m, self._w, self.fe
        l, lc, c = self.l, self.lc, self.c
        ev_error = self.ev_error
        with m.State("STEP"):
            # the sample's first step (every later one is chosen by the NEXT that finds no
            # more layers at the step before)
            with m.If(ev_error):
                m.next = "ABORT"
            with m.Else():
                # (no step has run: t == T - 1 cannot end the sample here)
                self.step_on(Const(0), first=True)
        with m.State("NEXT"):
            # work of each layer at this step; events only for layer lc
            has_ev = Signal()
            with m.If(lc == 0):
                m.d.comb += has_ev.eq(self.ev_at_t)
            with m.Else():
                m.d.comb += has_ev.eq(self.q_has)
            found = Signal()
            sel = Signal(w.layer_idx)
            sel_ev = Signal()
            for k in reversed(range(w.ML)):
                sweep_k = self.sweepable[k] & (self.leaky[k] | self.need_cur[k])
                work_k = (k >= lc) & (self.live[k] & (has_ev & (lc == k)) | sweep_k)
                with m.If(work_k):
                    m.d.comb += [found.eq(1), sel.eq(k), sel_ev.eq(has_ev & (lc == k))]
            m.d.sync += [l.eq(sel), c.eq(0), self.c_zero.eq(1), self.q_idx.eq(0),
                         self.q_next.eq(1), self.swept.eq(0)]
            # the picked layer's descriptor into registers, and the queue's entry 0 read for
            # INTEG_Q, in the pick's cycle (whatever the pick: the registers are read only in
            # the phase that follows a pick)
            self._load_descriptor(sel)
            m.d.comb += self.q_raddr.eq(0)
            if w.SW:
                m.d.sync += [self.sg.eq(0), *[g.eq(0) for g in self.maskg]]
            with m.If(ev_error):
                m.next = "ABORT"
            with m.Elif((lc == 0) & ~fe.ev_valid):
                m.d.comb += self.stall.eq(1)
            with m.Elif(~found):
                # no more work at this step: choose the next one (STEP's choice, made here so
                # that a step with nothing to do costs this one cycle)
                self.step_on(self.t == self.last_t)
            with m.Elif(sel_ev & (sel == 0)):
                m.next = "INTEG_S"
            with m.Elif(sel_ev):
                m.next = "INTEG_Q"
            if w.SW:
                # a layer without a leak scans its chunk bounds (ENTER reads the first group
                # of the picked layer), then sweeps the chunks that fire; a leaky one sweeps
                # them all
                with m.Elif(Array(self.leaky)[sel]):
                    m.next = "SWEEP"
                with m.Else():
                    m.next = "ENTER"
            else:
                with m.Else():
                    m.next = "SWEEP"
        if w.SW:
            with m.State("ENTER"):
                # (a build with chunk bounds) the scan's first group of chunk bounds is read,
                # at the layer NEXT picked (its address is Cat(sg, l), registers)
                with m.If(ev_error):
                    m.next = "ABORT"
                with m.Else():
                    self.to_scan()

    def _load_descriptor(self, sel) -> None:
        """The descriptor of layer ``sel`` (NEXT's pick) into the ``cur_*`` registers, which the
        layer's phase reads; with chunk bounds, the scan's last group and lane and its
        threshold at a step reached without events too (DECIDE sets the latter after an event
        phase)."""
        m, w, ld = self._m, self._w, self.ld
        sd = ld.desc[sel]
        # (one line for the three Array(...)[sel]: the netlist shares their index match)
        m.d.sync += [
            self.cur_chunks.eq(sd.chunks), self.cur_reset.eq(sd.reset),
            self.cur_leak.eq(sd.leak), self.cur_nout.eq(sd.n_out),
            self.cur_last.eq(sel == self.last_l), self.cur_cm2.eq(Array(self.cm2)[sel]),
            self.cur_one.eq(Array(self.one)[sel]), self.cur_two.eq(Array(self.two)[sel]),
            self.c_end.eq(Array(self.one)[sel]),
            self.cur_sweepable.eq(Array(self.sweepable)[sel]),
            self.cur_leaky.eq(Array(self.leaky)[sel]),
        ]
        if w.SW:
            # (the last group and lane fields, where they have bits: one group a layer, or
            # one lane a group, leaves them 0)
            cm1 = Array(self.cm1)[sel]
            m.d.sync += self.scan_th.eq(Array(self.th_cur)[sel])
            if w.group_bits:
                m.d.sync += self.cur_glast.eq(cm1[w.sw_bits:])
            if w.sw_bits:
                m.d.sync += self.cur_blast.eq(cm1[:w.sw_bits])

    def _layer_states(self) -> None:
        """A layer's phase at a step: INTEG_S (events from the stream) or INTEG_Q (from the
        queue), SWEEP, WAIT (the array drains), EMIT (the layer's spikes)."""
        m, w, fe, eq, cnt = self._m, self._w, self.fe, self.eq, self._cnt
        c, c_zero, c_end, q_idx = self.c, self.c_zero, self.c_end, self.q_idx
        ev_error, ev_at_t = self.ev_error, self.ev_at_t
        with m.State("INTEG_S"):
            # the event's last chunk takes it, whether or not the sample aborts now (ABORT
            # drops the sample's words anyway): the take is not one path with the flags
            with m.If(ev_at_t & c_end):
                m.d.comb += fe.take.eq(1)
            with m.If(ev_error):
                m.next = "ABORT"
            with m.Elif(~fe.ev_valid):
                m.d.comb += self.stall.eq(1)
            with m.Elif(ev_at_t):
                self.issue_integ(fe.ev_row + c, c)
                with m.If(c_zero):
                    cnt.bump("input_events", "sops")
                    self.reach_add()
                with m.If(c_end):
                    self.c_zero_cur()
                with m.Else():
                    self.c_inc(self.cur_cm2)
            with m.Elif(self.cur_sweepable & self.cur_leaky):
                self.start_sweep()
            with m.Elif(self.cur_sweepable):
                # this cycle (the phase's end) is one of them; the reach test in WAIT may end
                # the phase REACH_CYCLES later
                self.to_settle(waited=1)
            with m.Else():
                # nothing to sweep, nothing to emit: the phase ends here (integrate ops need
                # no drain; the readout waits in FINISH for the last write-back)
                self.layer_done()
        with m.State("INTEG_Q"):
            # Entry q_idx is issued once written (an overlapped emission may still be
            # writing the queue: the cycles in between are counted, the emission's latency);
            # chunk 0's row comes straight from the queue RAM, later chunks count up from it
            # (no adder behind the RAM's output). The phase ends with the last entry's last
            # op when the emission is final by then, else in the first cycle it is.
            row_q = Signal(w.row)
            issue = Signal()
            # (and never earlier than GAP_CYCLES after a sweep op: the array's one write port
            # then takes the op's write-back after the sweep op's)
            m.d.comb += [row_q.eq(Mux(c_zero, Mux(self.q_ram, eq.q_rdata, eq.q_wrow),
                                      self.last_row + 1)),
                         issue.eq((~c_zero | self.q_avail) & (self.tail >= GAP_CYCLES - 1))]
            with m.If(issue):
                m.d.sync += self.last_row.eq(row_q)
                self.issue_integ(row_q, c)
                with m.If(c_zero):
                    cnt.bump("sops")
                with m.If(c_end):
                    # the next entry is read whether or not the sample aborts now
                    m.d.comb += self.q_raddr.eq(self.q_next)
            with m.If(ev_error):
                m.next = "ABORT"
            with m.Elif(~issue):
                with m.If(self.em_final):
                    self.queue_phase_ends()
            with m.Elif(c_end):
                self.c_zero_cur()
                m.d.sync += [q_idx.eq(self.q_next), self.q_next.eq(self.q_next + 1)]
                with m.If(self.em_final & self.q_last_now):
                    self.queue_phase_ends()
            with m.Else():
                self.c_inc(self.cur_cm2)
        with m.State("SWEEP"):
            with m.If(c_zero):
                with self.unless_trace_busy():
                    self.start_sweep()
            with m.Else():
                self.issue_sweep(c)
                with m.If(c_end):
                    self.sweep_ends()
                with m.Else():
                    self.c_inc(self.cur_cm2)
        with m.State("WAIT"):
            wait = self.wait
            m.d.sync += wait.eq(wait + 1)
            with m.If(self.settle):
                with m.If(wait == SETTLE_CYCLES - 1):
                    m.d.sync += [wait.eq(0), self.settle.eq(0)]
                    m.next = "DECIDE"
                # the reach test, REACH_CYCLES after a first-layer input phase's end (the first
                # layer settles only after one), when the lookahead's reads at the next event's
                # time are current: the layer cannot reach a threshold before its next events,
                # so the phase ends (its bound need not settle: every compare of it until then
                # is against a threshold above R)
                with m.Elif((wait == REACH_CYCLES) & self.ev_ready & self.reach_ok):
                    m.d.sync += [wait.eq(0), self.settle.eq(0)]
                    self.layer_done()
            with m.Elif(wait == WAIT_CYCLES - 1):
                # (after a sweep that does not overlap its emission: every fire mask is in)
                m.d.sync += wait.eq(0)
                fired = self.swept & eq.pending
                with m.If(fired):
                    m.d.sync += self.emit_on.eq(1)
                with m.If(fired & self.cur_last):
                    m.d.sync += self.out_spiked.eq(1)
                    m.next = "EMIT"
                with m.Else():
                    # a leaky layer that fired: its emission runs on under the next layer's
                    # phase, which reads each entry once it is written
                    m.d.comb += self.q_set.eq(fired)
                    self.layer_done()
        with m.State("DECIDE"):
            # the bound of the layer's potentials after its events, against Theta_l[t]: sweep
            # only when one of its neurons fires here
            fire_now = Array([self.na.fire_now[k] for k in range(w.ML)])[self.l]
            if w.SW:
                # Theta_l[t] as the array read it for this layer and step (they have not
                # changed since the phase's ops)
                m.d.sync += self.scan_th.eq(self.na.th_q)
            with m.If(fire_now):
                if w.SW:
                    self.to_scan()
                else:
                    with self.unless_trace_busy():
                        self.start_sweep()
            with m.Else():
                self.layer_done()
        with m.State("EMIT"):
            # (the last layer) until its last spike leaves the emitter's first stage (S + 2
            # cycles; what is left writes only the queue, which no layer reads)
            with m.If(~eq.pending):
                self.layer_done()

    def _scan_logic(self) -> None:
        """A build with chunk bounds, outside the FSM: which chunks of the arriving group of
        chunk bounds fire, and the bound of those that do not. The latter is the largest bound
        over the groups as they arrive (registered, a max tree of the group with one registered
        stage per two levels, then the running maximum) and goes into the layer's bound three
        (``SW <= 4``) or four cycles after the last group; the partial sweep's ops raise it
        when their results come (eight cycles after issue at the earliest), so after them the
        layer's bound is its exact maximum again."""
        m, w, na = self._m, self._w, self.na
        vb = w.PB - 1 or 1
        SW = w.SW
        dg = self.dg
        data = na.cb_rdata
        cbv = [data[b * vb:(b + 1) * vb] for b in range(SW)]
        self.scan_last = dg == self.cur_glast
        # (lane 0 of every group read exists: the last group holds at least one chunk)
        exists = [Const(1)] + [~self.scan_last | (self.cur_blast >= b) for b in range(1, SW)]
        self.scan_fires = [exists[b] & (cbv[b] >= self.scan_th) for b in range(SW)]
        self.scanning = Signal()  # set in SCAN

        a_on, a_first, a_last = Signal(), Signal(), Signal()
        a_l = Signal.like(self.l)
        nfr = [Signal(vb, name=f"scan_nf{b}") for b in range(SW)]
        m.d.sync += [a_on.eq(self.scanning), a_first.eq(dg == 0), a_last.eq(self.scan_last),
                     a_l.eq(self.l)]
        m.d.sync += [nfr[b].eq(Mux(self.scan_fires[b] | ~exists[b], 0, cbv[b]))
                     for b in range(SW)]
        # the group's max tree, at most two levels a registered stage
        vals = nfr
        tag = (a_on, a_first, a_last, a_l)
        st = 0
        while True:
            vals = max_levels(vals, 2)
            regs = [Signal(vb, name=f"scan_max{st}_{k}") for k in range(len(vals))]
            nxt = tuple(Signal.like(x, name=f"scan_tag{st}_{i}") for i, x in enumerate(tag))
            m.d.sync += [r.eq(v) for r, v in zip(regs, vals, strict=True)]
            m.d.sync += [r.eq(x) for r, x in zip(nxt, tag, strict=True)]
            vals, tag, st = regs, nxt, st + 1
            if len(vals) == 1:
                break
        b_on, b_first, b_last, b_l = tag
        b_max = vals[0]
        acc = Signal(vb)
        c_set = Signal()
        c_l = Signal.like(self.l)
        with m.If(b_on):
            m.d.sync += acc.eq(Mux(b_first, b_max, vmax(acc, b_max)))
        m.d.sync += [c_set.eq(b_on & b_last), c_l.eq(b_l)]
        m.d.comb += [na.bound_set.eq(c_set), na.bound_set_layer.eq(c_l),
                     na.bound_set_value.eq(acc)]

    def _scan_states(self) -> None:
        """A build with chunk bounds: SCAN (the current layer's chunk bounds against
        ``Theta_l[t]``, ``SW`` a cycle) and SWEEP_M (a sweep op for each chunk that fires, in
        chunk order); docs/microarchitecture.md, "Partial sweeps"."""
        m, w, na = self._m, self._w, self.na
        SW = w.SW
        dg, sg = self.dg, self.sg
        with m.State("SCAN"):
            m.d.comb += self.scanning.eq(1)
            m.d.sync += [Array(self.maskg)[dg].eq(Cat(*self.scan_fires)), sg.eq(sg + 1)]
            with m.If(self.scan_last):
                m.d.sync += self.first_sw.eq(1)
                m.next = "SWEEP_M"
        with m.State("SWEEP_M"):
            mask = Cat(*self.maskg)
            pick = Signal(range(len(mask)))
            for i in reversed(range(len(mask))):
                with m.If(mask[i]):
                    m.d.comb += pick.eq(i)
            rest = Signal(len(mask))
            m.d.comb += rest.eq(mask & (mask - 1))  # the lowest set bit cleared
            with m.If(mask == 0):
                self.layer_done()  # (never: the scan runs only when a chunk fires)
            with m.Else(), self.unless_trace_busy(when=self.first_sw):
                # (the first op waits for the trace FIFO, like start_sweep)
                self.issue_sweep(pick)
                m.d.comb += na.i_raise.eq(1)
                m.d.sync += [g.eq(rest[k * SW:(k + 1) * SW]) for k, g in enumerate(self.maskg)]
                with m.If(self.first_sw):
                    m.d.sync += self.first_sw.eq(0)
                    self.emission_starts()
                with m.If(rest == 0):
                    self.sweep_ends()

    def _readout_states(self) -> None:
        """FINISH (the end word) and, when the prediction comes from the output layer's
        potentials, RD_ADDR, RD_LOAD and RD_LANE (its readout)."""
        m, w, ld, fe, na, cnt = self._m, self._w, self.ld, self.fe, self.na, self._cnt
        c, rd_i, rd_p = self.c, self.rd_i, self.rd_p
        with m.State("FINISH"):
            # consume the end word and any events after an early exit (not counted); the end
            # word once the array is quiet (a layer phase that does not sweep ends without a
            # wait, so its last write-back may still be in flight; the readout reads after it)
            m.d.comb += fe.take.eq(~fe.ev_end | self.quiet_r)
            with m.If(self.ev_error):
                m.next = "ABORT"
            with m.Elif(fe.ev_valid & fe.ev_end & self.quiet_r):
                with m.If(ld.max_potential | ~cnt.first_found):
                    m.d.sync += [c.eq(0), self.c_zero.eq(1), rd_i.eq(0), rd_p.eq(0),
                                 self.rd_first.eq(1), self.rd_last.eq(self.out_m1 == 0)]
                    m.next = "RD_ADDR"
                with m.Else():
                    m.next = "RESULT"
                    m.d.comb += self.ser.start.eq(1)
        # the output layer had no op in this sample (the lazy clear): its potentials are 0 and
        # no word is read
        out_fresh = ~self.touched.bit_select(self.last_l, 1)
        with m.State("RD_ADDR"):
            m.d.comb += [na.rd_en.eq(1), na.rd_addr.eq(Cat(c[:w.chunk_idx], self.last_l))]
            with m.If(~out_fresh):
                cnt.bump("membrane_reads")
            m.next = "RD_LOAD"
        with m.State("RD_LOAD"):
            # the chunk's word into a register: the compares then start at a register, and
            # shifting it brings each lane to the same place (no lane multiplexer)
            m.d.sync += self.rd_word.eq(Mux(out_fresh, 0, na.rd_data[:w.P * w.PB]))
            m.next = "RD_LANE"
        with m.State("RD_LANE"):
            rd_word, best = self.rd_word, self.best
            v = rd_word[:w.PB].as_signed()
            with m.If(self.rd_first | (v > best)):
                m.d.sync += [best.eq(v), cnt.first_idx.eq(rd_i)]
            m.d.sync += [rd_i.eq(rd_i + 1), rd_p.eq(rd_p + 1), rd_word.eq(rd_word >> w.PB),
                         self.rd_first.eq(0), self.rd_last.eq(rd_i == self.out_m2)]
            with m.If(self.rd_last):
                m.next = "RESULT"
                m.d.comb += self.ser.start.eq(1)
            with m.Elif(rd_p == w.P - 1):
                m.d.sync += [rd_p.eq(0), c.eq(c + 1)]
                m.next = "RD_ADDR"

    def _end_states(self) -> None:
        """ABORT (a bad image or event: drain the sample) and RESULT (the record streams)."""
        m, ld, fe = self._m, self.ld, self.fe
        with m.State("ABORT"):
            # drain the sample's words up to its end word; let in-flight work finish (no op
            # is issued and no emission starts in ABORT, so once quiet it stays quiet, and
            # the registered flag, which counts the op issued in its cycle too, is safe)
            quiet = self.quiet_r
            m.d.comb += fe.take.eq(~fe.ev_end | quiet)
            with m.If(fe.ev_valid & fe.ev_end & quiet):
                # ABORT follows a loader flag or an event flag, so the status is not 0
                m.d.sync += self.status_ok.eq(0)
                m.d.sync += self.status.eq(Mux(self.image_ok,
                                               (fe.order << STATUS["EVENT_ORDER"])
                                               | (fe.range << STATUS["EVENT_RANGE"]),
                                               ld.status))
                m.next = "RESULT"
                m.d.comb += self.ser.start.eq(1)
        with m.State("RESULT"):
            with m.If(self.ser.done):
                m.d.sync += self.idle_r.eq(1)
                m.next = "IDLE"
