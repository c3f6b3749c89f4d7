"""Train a TTFS network, quantize it and report float vs integer accuracy and activity.

    .venv/bin/python benchmarks/train_yinyang.py                       # Yin-Yang, defaults
    .venv/bin/python benchmarks/train_yinyang.py --dataset digits
    .venv/bin/python benchmarks/train_yinyang.py --reuse --out runs/yy  # re-evaluate only

Integer figures come from sim.reference.run on the exported QNet (the test split). Also prints
where one training step's time goes (forward, backward, optimizer), measured on this machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ttfs.train.api import load_checkpoint, load_split, train_model
from ttfs.train.loop import encode, model_from_checkpoint
from ttfs.train.report import evaluate_checkpoint
from ttfs.train.snn import events_to_dense


def step_breakdown(model_path: Path, batch: int, reps: int = 20) -> dict:
    """Seconds per training step split into forward / backward / optimizer (float mode)."""
    ck = load_checkpoint(model_path)
    model = model_from_checkpoint(ck)
    X, y = load_split(ck["dataset"], "train")
    x = events_to_dense(encode(ck["encoder"], X[:batch]), ck["encoder"]["time_steps"],
                        model.config.sizes[0])
    yt = torch.from_numpy(y[:batch])
    opt = torch.optim.Adam(model.parameters(), lr=1e-6)
    tf = tb = to = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x, "float").logits, yt)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        tf, tb, to = tf + t1 - t0, tb + t2 - t1, to + t3 - t2
    return {"forward_s": tf / reps, "backward_s": tb / reps, "optimizer_s": to / reps,
            "steps_per_epoch": -(-len(y) // batch)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="yinyang")
    ap.add_argument("--method", default="baseline")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="evaluate out/model.pt, no training")
    ap.add_argument("--options", default="{}", help="JSON object of training options")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    out = args.out or Path("runs") / f"bench_{args.dataset.replace(':', '_')}_{args.seed}"
    opts = json.loads(args.options)
    for k in ("hidden", "bias_steps"):
        if k in opts:
            opts[k] = tuple(opts[k])
    t0 = time.perf_counter()
    if not args.reuse:
        def progress(r):
            print(f"epoch {r['epoch']:3d}/{r['epochs']} {r['mode']:5s} loss {r['loss']:.4f} "
                  f"train {r['train_acc']:.4f} val {r['val_acc']:.4f} "
                  f"hidden spikes/sample {r['spikes_per_sample']:.1f} {r['seconds']:.1f}s",
                  flush=True)

        train_model(args.dataset, args.method, args.epochs, args.seed, out, progress=progress,
                    **opts)
    wall = time.perf_counter() - t0
    fig = evaluate_checkpoint(out / "model.pt")
    ck = load_checkpoint(out / "model.pt")
    fig["wall_seconds"] = wall if not args.reuse else None
    fig["breakdown"] = step_breakdown(out / "model.pt", int(ck["options"]["batch_size"]))
    print(json.dumps(fig, indent=1))
    print("\n| dataset | network | float acc | int acc | quant. loss | hidden spikes/sample | "
          "spikes/hidden neuron | SOPs/sample | s/epoch |")
    print(f"| {fig['dataset']} | {fig['network']} | {100 * fig['float_acc']:.1f}% | "
          f"{100 * fig['int_acc']:.1f}% | {100 * fig['quantization_loss']:+.1f} pt | "
          f"{fig['hidden_spikes']:.1f} | {fig['spikes_per_hidden_neuron']:.3f} | "
          f"{fig['sops']:.0f} | {fig['seconds_per_epoch']:.1f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(fig, indent=1) + "\n")


if __name__ == "__main__":
    main()
