"""The snnTorch -> NIR -> integer -> RTL round trip (docs/nir.md, "snnTorch round trip").

    .venv/bin/python benchmarks/nir_roundtrip.py --dataset yinyang
    .venv/bin/python benchmarks/nir_roundtrip.py --dataset digits

Trains ``Linear -> Leaky -> Linear -> Leaky`` in snnTorch on TTFS-encoded inputs (the project's
encoder), exports it with snnTorch's own ``export_to_nir``, imports it with
``ttfs.train.nir.import_nir``, runs the integer network on the reference model (whole test split)
and on the Verilator RTL (the first ``--samples`` test samples), and prints snnTorch's float
accuracy, the integer and RTL accuracies, whether the RTL equals the reference model on every
sample (``check_equal``: spikes, predictions, counters, cycles) and how often the integer
prediction agrees with snnTorch's. Needs the dev extras (snnTorch, nirtorch).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "train"))
import snntorch_helpers as H  # noqa: E402  (dev-only helper shared with the test)


def main(argv: list[str] | None = None) -> int:
    d = H.Options()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["yinyang", "digits"], default=d.dataset)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--samples", type=int, default=d.samples,
                   help="test samples run on the RTL (the reference model runs the whole split)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--time-steps", type=int, default=d.time_steps)
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--leak-shift", type=int, default=d.leak_shift)
    p.add_argument("--weight-bits", type=int, default=d.weight_bits)
    p.add_argument("--potential-bits", type=int, default=d.potential_bits)
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    opt = H.Options(dataset=a.dataset, epochs=a.epochs, samples=a.samples, seed=a.seed,
                    time_steps=a.time_steps, hidden=a.hidden, leak_shift=a.leak_shift,
                    weight_bits=a.weight_bits, potential_bits=a.potential_bits)
    t0 = time.perf_counter()
    f = H.roundtrip(opt)
    total = time.perf_counter() - t0
    print(f"dataset {opt.dataset}, {opt.epochs} epochs, seed {opt.seed}, T {opt.time_steps} "
          f"(t_in {opt.t_in or opt.time_steps // 2}), hidden {opt.hidden}, "
          f"beta 1 - 2**-{opt.leak_shift}, weight_bits {opt.weight_bits}, potential_bits "
          f"{opt.potential_bits}")
    for note in f.notes:
        print(f"  import: {note}")
    rows = [
        ("snnTorch float accuracy", f"{f.float_acc:.3f}", f"{f.n_test} test samples"),
        ("integer accuracy (reference model)", f"{f.int_acc:.3f}", f"{f.n_test} test samples"),
        ("RTL accuracy (Verilator)", f"{f.rtl_acc:.3f}", f"first {f.n_rtl} test samples"),
        ("RTL == reference on every sample", "yes" if f.rtl_mismatch is None else "NO",
         f"{f.n_rtl} samples, check_equal"),
        ("agreement integer vs snnTorch", f"{f.agreement:.3f}", f"{f.n_test} test samples"),
        ("agreement float NIR graph vs snnTorch", f"{f.nir_float_agreement:.3f}",
         f"{f.n_test} test samples, float_predict"),
        ("agreement RTL vs snnTorch", f"{f.rtl_agreement:.3f}", f"first {f.n_rtl}"),
        ("spikes per sample, snnTorch", f"{f.float_spikes:.1f}", "hidden + output"),
        ("spikes per sample, integer", f"{f.int_spikes:.1f}", "hidden + output"),
        ("decided by an output spike, snnTorch", f"{f.spike_decided:.3f}",
         "else the largest final membrane"),
    ]
    w = max(len(r[0]) for r in rows)
    for name, value, what in rows:
        print(f"{name:<{w}}  {value:>6}  ({what})")
    secs = ", ".join(f"{k} {v:.1f} s" for k, v in f.seconds.items())
    print(f"time: {secs}; total {total:.1f} s")
    if f.rtl_mismatch is not None:
        print(f"RTL mismatch: {f.rtl_mismatch}")
    return 0 if f.rtl_mismatch is None else 1


if __name__ == "__main__":
    sys.exit(main())
