// Native Verilator harness for the TTFS neuron core: an extern "C" shim driven through ctypes.
//
// The Verilated model is the generated wrapper `ttfs_harness` (verify/verilator.py writes it):
// clean port names around `ttfs_core` (whose stream ports Verilator would mangle, `load__valid`
// becomes `load__05Fvalid`), with the trace stream tied off when the core has none.
//
// One clock cycle is one `tick`. In a build without waveforms the tick toggles `clk` and evaluates
// the model once: the wrapper's core clock rises at every change of `clk` and falls again in the
// same evaluation (see wrapper_verilog), so each evaluation is one rising edge of the core's clock,
// and Verilator's fixed cost per evaluation is paid once per cycle, not twice. A waveform build
// keeps the plain clock (clk low and eval, clk high and eval), so the dump shows it. The wrapper
// registers every input of the core (reset, valids, payloads, readies), so what the shim sets
// before a tick is what the core sees in the following cycle, and the whole core settles in the
// rising edge's eval: no logic of the core hangs off a top-level input, so Verilator has nothing to
// evaluate at clk low. The shim reads a cycle's handshakes from what the wrapper holds (set one
// iteration earlier) and the core's settled outputs, then sets the next cycle's inputs. Everything
// that moves data (loading an image, streaming a whole batch of samples) is one C call, so Python
// never runs per cycle.
//
// Streams follow Amaranth's rules: once valid is raised, it stays up and the payload is held
// until the word is taken. With `idle_percent` > 0 the harness idles the input streams and
// withholds ready on the output streams at random (xorshift32, seeded), to exercise the core's
// flow control; the core's cycle counter excludes those stalls, so results do not change.
//
// In a build without waveforms the tick calls the model's root evaluation
// (Vttfs_harness___024root___eval, what eval() runs after its bookkeeping) directly: eval()
// also empties the model's deleter (a mutex lock and unlock) and flushes the thread's message
// queue (a thread-local lookup and a mutex try-lock) on every call. The core (yosys output) has
// no classes and no $display, so neither ever has work to do; that bookkeeping was about 9% of
// the time per cycle. Every control or stream call still ends with one public eval() (no clock
// change, so it evaluates nothing) that runs it, so a design that did print would only see its
// messages at the end of the call; the model is created and initialised through the public
// API. The root function is declared weak: should a Verilator
// version not define it, the tick falls back to eval().
//
// Build-time switches (-CFLAGS -D...): HARNESS_VCD or HARNESS_FST select the waveform writer
// for builds made with --trace / --trace-fst.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "Vttfs_harness.h"
#include "Vttfs_harness___024root.h"
#include "verilated.h"

// The model's root evaluation (Verilator 5's eval_step calls it between its bookkeeping); weak,
// so that a Verilator without it links and the tick uses eval() instead.
void Vttfs_harness___024root___eval(Vttfs_harness___024root* vlSelf) __attribute__((weak));
#if defined(HARNESS_VCD)
#include "verilated_vcd_c.h"
typedef VerilatedVcdC Tracer;
#elif defined(HARNESS_FST)
#include "verilated_fst_c.h"
typedef VerilatedFstC Tracer;
#endif

namespace {

constexpr uint64_t LAST_BIT = uint64_t(1) << 32;

struct Harness {
    VerilatedContext* ctx = nullptr;
    Vttfs_harness* top = nullptr;
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    Tracer* tfp = nullptr;
#endif
    uint64_t cycles = 0;      // clock cycles since create
    uint32_t rng = 1;         // xorshift32 state
    uint32_t idle_percent = 0;
    std::vector<uint64_t> trace_words;   // trace payloads in arrival order
    std::vector<uint32_t> trace_tags;    // the sample each trace word arrived during
    char error[1024] = {0};
};

inline uint32_t next_rand(Harness* h) {
    uint32_t x = h->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    h->rng = x;
    return x;
}

// true with probability idle_percent / 100
inline bool stall(Harness* h) {
    return h->idle_percent && (next_rand(h) % 100u) < h->idle_percent;
}

inline void dump(Harness* h) {
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    if (h->tfp) h->tfp->dump(h->ctx->time());
#endif
    (void)h;
}

// One clock cycle (see the top of the file: inputs set before it reach the core a cycle later).
inline void tick(Harness* h) {
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    h->top->clk = 0;
    h->top->eval();
    dump(h);
    h->ctx->timeInc(1);
    h->top->clk = 1;
    h->top->eval();
    dump(h);
    h->ctx->timeInc(1);
#else
    h->top->clk = !h->top->clk;
    if (Vttfs_harness___024root___eval)
        Vttfs_harness___024root___eval(h->top->rootp);
    else
        h->top->eval();
#endif
    ++h->cycles;
}

// The public eval() with no clock change: evaluates nothing, runs Verilator's per-call
// bookkeeping that the ticks skip (see the top of the file).
inline void settle(Harness* h) { h->top->eval(); }

inline void quiet_inputs(Vttfs_harness* top) {
    top->load_valid = 0;
    top->events_valid = 0;
    top->result_ready = 0;
    top->trace_ready = 0;
}

// End a stream call: quiet inputs for the next cycle, and the tick that carries the current
// cycle's handshakes (already counted by the caller) into the core.
inline void end_call(Harness* h) {
    quiet_inputs(h->top);
    tick(h);
    settle(h);
}

}  // namespace

extern "C" {

void* ttfs_create(uint32_t seed) {
    Harness* h = new Harness;
    h->ctx = new VerilatedContext;
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    h->ctx->traceEverOn(true);
#endif
    h->top = new Vttfs_harness{h->ctx, "ttfs_harness"};
    h->rng = seed ? seed : 1;
    quiet_inputs(h->top);
    h->top->rst = 1;
    h->top->clk = 0;
    h->top->eval();  // initialise the model at clk low: every later change of clk is an edge
    tick(h);
    return h;
}

void ttfs_destroy(void* p) {
    Harness* h = static_cast<Harness*>(p);
    if (!h) return;
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    if (h->tfp) {
        h->tfp->close();
        delete h->tfp;
    }
#endif
    h->top->final();
    delete h->top;
    delete h->ctx;
    delete h;
}

const char* ttfs_error(void* p) { return static_cast<Harness*>(p)->error; }

uint64_t ttfs_cycles(void* p) { return static_cast<Harness*>(p)->cycles; }

// 1 when this build can write waveforms (built with --trace or --trace-fst), else 0.
int ttfs_can_trace(void) {
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    return 1;
#else
    return 0;
#endif
}

// Start writing a waveform to `path` (this build's format); 0 on success.
int ttfs_waveform_open(void* p, const char* path) {
    Harness* h = static_cast<Harness*>(p);
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    if (h->tfp) {
        std::snprintf(h->error, sizeof h->error, "a waveform is already open");
        return -1;
    }
    h->tfp = new Tracer;
    h->top->trace(h->tfp, 99);
    h->tfp->open(path);
    if (!h->tfp->isOpen()) {
        std::snprintf(h->error, sizeof h->error, "cannot open waveform file %s", path);
        delete h->tfp;
        h->tfp = nullptr;
        return -1;
    }
    return 0;
#else
    (void)path;
    std::snprintf(h->error, sizeof h->error, "this harness was built without waveform support");
    return -1;
#endif
}

void ttfs_waveform_close(void* p) {
    Harness* h = static_cast<Harness*>(p);
#if defined(HARNESS_VCD) || defined(HARNESS_FST)
    if (h->tfp) {
        h->tfp->close();
        delete h->tfp;
        h->tfp = nullptr;
    }
#else
    (void)h;
#endif
}

void ttfs_set_idle(void* p, uint32_t percent, uint32_t seed) {
    Harness* h = static_cast<Harness*>(p);
    h->idle_percent = percent > 100 ? 100 : percent;
    h->rng = seed ? seed : 1;
}

// Hold reset for `n` cycles with every stream quiet (the wrapper registers rst too: the core
// is in reset from the cycle after the first tick to the cycle after the last).
void ttfs_reset(void* p, uint32_t n) {
    Harness* h = static_cast<Harness*>(p);
    quiet_inputs(h->top);
    h->top->rst = 1;
    for (uint32_t k = 0; k < n; ++k) tick(h);
    h->top->rst = 0;
    tick(h);
    settle(h);
}

// Run `n` idle cycles (no input offered, outputs not taken).
void ttfs_idle(void* p, uint32_t n) {
    Harness* h = static_cast<Harness*>(p);
    quiet_inputs(h->top);
    for (uint32_t k = 0; k < n; ++k) tick(h);
    settle(h);
}

// Every stream call starts and ends with the wrapper's registers quiet: the core sees nothing
// offered and nothing taken in the cycle the call starts in. Each loop iteration first reads the
// handshakes of the cycle the core is in (what the wrapper holds, set one iteration earlier,
// and the core's outputs, settled by the last tick), then sets the inputs of the next
// cycle and ticks. A raised valid stays up, with its payload, until the word is taken.

// Stream `n` load payloads (bits 31:0 the word, bit 32 last) into the load stream.
// Returns the cycles taken, or -1 when the core did not take a word for `stall_limit` cycles.
int64_t ttfs_load(void* p, const uint64_t* words, uint64_t n, uint64_t stall_limit) {
    Harness* h = static_cast<Harness*>(p);
    Vttfs_harness* top = h->top;
    uint64_t start = h->cycles, k = 0, waited = 0;
    bool offering = false;  // load_valid the core sees this cycle
    while (true) {
        if (offering && top->load_ready) {
            ++k;
            offering = false;
            waited = 0;
        } else if (k < n && ++waited > stall_limit) {
            std::snprintf(h->error, sizeof h->error,
                          "the core took no load word for %llu cycles (at word %llu of %llu)",
                          (unsigned long long)stall_limit, (unsigned long long)k,
                          (unsigned long long)n);
            end_call(h);
            return -1;
        }
        if (k == n) break;
        if (!offering) offering = !stall(h);
        top->load_valid = offering;
        top->load_payload = words[k];
        tick(h);
    }
    end_call(h);
    return int64_t(h->cycles - start);
}

// Stream a batch: `n_words` event payloads (bit 32 set on each sample's end word) for
// `n_samples` samples, collecting one result record per sample into `results` (stride
// `stride` words; `lengths[s]` gets record s's length) and, with `want_trace`, every trace
// word (fetch them with ttfs_trace_count / ttfs_trace_copy).
// Returns the cycles taken, or a negative code with ttfs_error set:
//   -1 stall (no handshake for `stall_limit` cycles), -2 a record longer than `stride`.
int64_t ttfs_run(void* p, const uint64_t* words, uint64_t n_words, uint64_t n_samples,
                 uint32_t* results, uint32_t stride, uint32_t* lengths, int want_trace,
                 uint64_t stall_limit) {
    Harness* h = static_cast<Harness*>(p);
    Vttfs_harness* top = h->top;
    h->trace_words.clear();
    h->trace_tags.clear();
    uint64_t start = h->cycles, k = 0, done = 0, waited = 0;
    uint32_t pos = 0;  // words of the current record so far
    // what the wrapper holds for the core this cycle (quiet when a call starts)
    bool offering = false, take_result = false, take_trace = false;
    // trace words may trail the last record by a few cycles: 16 more cycles, trace taken
    int drain = 16;
    while (true) {
        bool ev_fire = offering && top->events_ready;
        bool res_fire = take_result && top->result_valid;
        bool tr_fire = take_trace && top->trace_valid;
        if (ev_fire) {
            ++k;
            offering = false;
        }
        if (tr_fire && want_trace) {
            h->trace_words.push_back(top->trace_payload);
            h->trace_tags.push_back(uint32_t(done));
        }
        if (res_fire) {
            uint64_t res_word = top->result_payload;
            if (pos >= stride) {
                std::snprintf(h->error, sizeof h->error,
                              "result record of sample %llu is longer than %u words",
                              (unsigned long long)done, stride);
                end_call(h);
                return -2;
            }
            results[done * stride + pos] = uint32_t(res_word);
            ++pos;
            if (res_word & LAST_BIT) {
                lengths[done] = pos;
                ++done;
                pos = 0;
            }
        }
        if (done < n_samples) {
            if (ev_fire || res_fire || tr_fire) {
                waited = 0;
            } else if (++waited > stall_limit) {
                std::snprintf(h->error, sizeof h->error,
                              "no stream moved for %llu cycles: %llu of %llu results received, "
                              "%llu of %llu event words taken",
                              (unsigned long long)stall_limit, (unsigned long long)done,
                              (unsigned long long)n_samples, (unsigned long long)k,
                              (unsigned long long)n_words);
                end_call(h);
                return -1;
            }
            if (k < n_words && !offering) offering = !stall(h);
            take_result = !stall(h);
            take_trace = !stall(h);
        } else {
            if (drain-- == 0) break;
            offering = false;
            take_result = false;
            take_trace = true;
        }
        top->events_valid = offering;
        if (k < n_words) top->events_payload = words[k];
        top->result_ready = take_result;
        top->trace_ready = take_trace;
        tick(h);
    }
    end_call(h);
    return int64_t(h->cycles - start);
}

uint64_t ttfs_trace_count(void* p) { return static_cast<Harness*>(p)->trace_words.size(); }

void ttfs_trace_copy(void* p, uint64_t* words, uint32_t* tags) {
    Harness* h = static_cast<Harness*>(p);
    std::memcpy(words, h->trace_words.data(), h->trace_words.size() * sizeof(uint64_t));
    std::memcpy(tags, h->trace_tags.data(), h->trace_tags.size() * sizeof(uint32_t));
}

}  // extern "C"
