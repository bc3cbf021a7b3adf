"""Training throughput and memory of the paper's architecture: batched patches vs the reference's per-patch loop.

Trains the patch-sequence model (resnet152 backbone by default; random weights, speed
does not depend on them) on random 7.5 s clips (646 frames = 27 patches) with the same
batch, in the same run, and reports clips/s and peak memory per mode:

- ``loop``: the reference implementation's way, one backbone call per patch position
  (float32);
- ``batched``: all patches of all clips through the backbone in one call (float32);
- ``batched+amp``: the same with mixed precision (float16 autocast + grad scaling on
  CUDA, bfloat16 autocast on CPU) and channels-last tensors on CUDA;
- ``+ckpt`` (e.g. ``batched+amp+ckpt``): activation checkpointing of the backbone over
  chunks of ``--checkpoint-chunk`` patches (``PatchSequenceModel(checkpoint_backbone=N)``).

The ratios against ``loop`` are printed. Each mode runs in its own subprocess, so CPU
peak RSS and CUDA peak allocation are per mode; on CUDA the card's name is printed.

``--memory-sweep`` measures peak memory of our training step at several batch sizes
(CUDA: ``torch.cuda.max_memory_allocated`` at batch 4, 8, 16, 32 with AMP + channels-last,
without and with checkpointing, and whether it stays under 24 GiB, the paper's card
size; CPU: process peak RSS at batch 1 and 2 in float32, without and with
checkpointing, which shows the activation memory checkpointing saves).

Usage::

    python bench/bench_train_throughput.py [--device cpu|cuda] [--batch-size N] [--steps N]
    python bench/bench_train_throughput.py --memory-sweep [--sweep-batches 4,8,16,32] [--checkpoint-chunk 54]

Defaults: CUDA when available; batch 4 and 10 steps on CUDA, batch 2 and 2 steps on CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

GIB = 2 ** 30
CARD_24GB = 24 * GIB


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or "cpu"


def _rss_peak_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_mode(mode: str, device: str, batch: int, steps: int, warmup: int, frames: int, backbone: str = "resnet152",
             checkpoint_chunk: int = 54) -> dict:
    """Train ``steps`` timed steps (after ``warmup``) in one mode; returns speed and peak memory."""
    import torch

    from mainstage.training.run.losses import soft_cross_entropy
    from mainstage.training.models.patch import PatchSequenceModel

    flags = set(mode.split("+"))
    base = "loop" if "loop" in flags else "batched"
    amp, ckpt = "amp" in flags, "ckpt" in flags
    torch.manual_seed(0)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    model = PatchSequenceModel(backbone, channels_last=amp and cuda,
                               checkpoint_backbone=checkpoint_chunk if ckpt else 0).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp and cuda)
    x = torch.rand(batch, 1, 224, frames, device=dev)
    y = torch.softmax(torch.rand(batch, 8, device=dev), dim=-1)
    forward = model.forward_patch_loop if base == "loop" else model.forward
    before = torch.cuda.memory_allocated(dev) if cuda else _rss_peak_bytes()

    def step():
        with torch.autocast(dev.type, dtype=torch.float16 if cuda else torch.bfloat16, enabled=amp):
            logits = forward(x)
        loss = soft_cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(dev) if cuda else _rss_peak_bytes()
    return {"mode": mode, "backbone": backbone, "batch": batch, "clips_per_s": batch * steps / dt,
            "step_s": dt / steps, "peak_bytes": int(peak), "before_bytes": int(before),
            "peak_kind": "CUDA max allocated" if cuda else "process peak RSS",
            "checkpoint_chunk": checkpoint_chunk if ckpt else 0}


def _child(mode: str, args, device: str, batch: int, steps: int, warmup: int) -> dict | str:
    """Run one mode in a fresh interpreter; the result dict, or the failure's last line."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_child", mode, "--device", device, "--batch-size", str(batch),
           "--steps", str(steps), "--warmup", str(warmup), "--frames", str(args.frames), "--backbone", args.backbone,
           "--checkpoint-chunk", str(args.checkpoint_chunk)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        err = out.stderr.strip().splitlines()
        oom = any("OutOfMemory" in ln or "out of memory" in ln for ln in err)
        return "out of memory" if oom else (err[-1] if err else f"exit code {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_sweep(args, device: str) -> list[dict]:
    """Peak memory of our training step over batch sizes, without and with checkpointing."""
    cuda = device.startswith("cuda")
    batches = [int(b) for b in (args.sweep_batches or ("4,8,16,32" if cuda else "1,2")).split(",")]
    variants = ("batched+amp", "batched+amp+ckpt") if cuda else ("batched", "batched+ckpt")
    steps = args.steps or 1
    warmup = args.warmup if args.warmup is not None else (1 if cuda else 0)
    print(f"memory sweep: {args.backbone} patch model, {args.frames} frames ({(args.frames - 224) // 16 + 1} patches "
          f"per clip), checkpoint chunk {args.checkpoint_chunk} patches, {steps} step(s) after {warmup} warm-up")
    print(f"{'batch':>5s}  {'mode':18s} {'peak GiB':>9s} {'before GiB':>10s} {'s/step':>8s}"
          + ("  fits 24 GiB" if cuda else ""))
    rows = []
    for b in batches:
        for v in variants:
            r = _child(v, args, device, b, steps, warmup)
            if isinstance(r, str):
                print(f"{b:5d}  {v:18s} failed: {r}")
                rows.append({"mode": v, "batch": b, "error": r})
                continue
            rows.append(r)
            fits = f"  {'yes' if r['peak_bytes'] < CARD_24GB else 'no'}" if cuda else ""
            print(f"{b:5d}  {v:18s} {r['peak_bytes'] / GIB:9.2f} {r['before_bytes'] / GIB:10.2f} "
                  f"{r['step_s']:8.2f}{fits}")
    for b in batches:
        plain = next((r for r in rows if r.get("batch") == b and r["mode"] == variants[0] and "error" not in r), None)
        ck = next((r for r in rows if r.get("batch") == b and r["mode"] == variants[1] and "error" not in r), None)
        if plain and ck:
            act_p = plain["peak_bytes"] - plain["before_bytes"]
            act_c = ck["peak_bytes"] - ck["before_bytes"]
            print(f"batch {b}: checkpointing: {ck['peak_bytes'] / plain['peak_bytes']:.2f}x peak, "
                  f"{act_c / max(act_p, 1):.2f}x training-step memory above the model, "
                  f"{ck['step_s'] / plain['step_s']:.2f}x step time")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--frames", type=int, default=646, help="clip length in frames (646 = 7.5 s = 27 patches)")
    ap.add_argument("--backbone", default="resnet152", help="patch-model backbone (default: %(default)s)")
    ap.add_argument("--modes", default="loop,batched,batched+amp")
    ap.add_argument("--checkpoint-chunk", type=int, default=54,
                    help="patches per checkpointed backbone chunk in +ckpt modes (default: %(default)s = 2 clips)")
    ap.add_argument("--memory-sweep", action="store_true", help="peak memory over batch sizes instead of speed")
    ap.add_argument("--sweep-batches", help="batch sizes of the sweep (default: 4,8,16,32 on CUDA, 1,2 on CPU)")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    batch = args.batch_size or (4 if cuda else 2)
    if args._child:
        steps = args.steps or (10 if cuda else 2)
        warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
        print(json.dumps(run_mode(args._child, device, batch, steps, warmup, args.frames, args.backbone,
                                  args.checkpoint_chunk)))
        return 0

    print(f"device: {device_name(device)}; torch {torch.__version__}")
    if args.memory_sweep:
        rows = memory_sweep(args, device)
        if args.json:
            from mainstage.core.atomic import write_json_atomic

            write_json_atomic(args.json, {"device": device_name(device), "backbone": args.backbone,
                                          "frames": args.frames, "sweep": rows})
        return 0 if all("error" not in r for r in rows) else 1

    steps = args.steps or (10 if cuda else 2)
    warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    print(f"{args.backbone} patch model, batch {batch}, {args.frames} frames ({(args.frames - 224) // 16 + 1} patches "
          f"per clip), {steps} timed steps after {warmup} warm-up")
    results = []
    for mode in args.modes.split(","):
        r = _child(mode, args, device, batch, steps, warmup)
        if isinstance(r, str):
            print(f"{mode}: failed: {r}")
            continue
        results.append(r)
        print(f"{mode:18s} {r['clips_per_s']:8.3f} clips/s  {r['step_s']:7.2f} s/step  "
              f"peak {r['peak_bytes'] / GIB:6.2f} GiB ({r['peak_kind']})")
    base = next((r for r in results if r["mode"] == "loop"), None)
    if base:
        for r in results:
            if r is not base:
                print(f"{r['mode']} vs loop: {r['clips_per_s'] / base['clips_per_s']:.2f}x clips/s, "
                      f"{r['peak_bytes'] / base['peak_bytes']:.2f}x peak memory")
    if args.json:
        from mainstage.core.atomic import write_json_atomic

        write_json_atomic(args.json, {"device": device_name(device), "batch": batch, "frames": args.frames,
                                      "steps": steps, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
