"""Training throughput of the paper's architecture: batched patches vs the reference's per-patch loop.

Trains the patch-sequence model with a resnet152 backbone (random weights; speed does
not depend on them) on random 7.5 s clips (646 frames = 27 patches) at the same batch
size in each mode, and reports clips/s and peak memory:

- ``loop``: the reference implementation's way, one backbone call per patch position
  (float32);
- ``batched``: all patches of all clips through the backbone in one call (float32);
- ``batched+amp``: the same with mixed precision (float16 autocast + grad scaling on
  CUDA, bfloat16 autocast on CPU) and channels-last tensors on CUDA.

Each mode runs in its own subprocess so the CPU peak RSS is per mode. Prints the device
name. Usage: ``python bench/bench_train_throughput.py [--device cpu|cuda] [--batch-size N]``
(defaults: CUDA when available; batch 4 and 10 steps on CUDA, batch 2 and 2 steps on CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or "cpu"


def run_mode(mode: str, device: str, batch: int, steps: int, warmup: int, frames: int) -> dict:
    import resource

    import torch

    from mainstage.training.losses import soft_cross_entropy
    from mainstage.training.models.patch import PatchSequenceModel

    torch.manual_seed(0)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    amp = mode == "batched+amp"
    model = PatchSequenceModel("resnet152").to(dev).train()
    if amp and cuda:
        model.channels_last = True
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp and cuda)
    x = torch.rand(batch, 1, 224, frames, device=dev)
    y = torch.softmax(torch.rand(batch, 8, device=dev), dim=-1)
    forward = model.forward_patch_loop if mode == "loop" else model.forward

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
    peak = (torch.cuda.max_memory_allocated(dev) if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"mode": mode, "clips_per_s": batch * steps / dt, "step_s": dt / steps, "peak_bytes": int(peak),
            "peak_kind": "CUDA max allocated" if cuda else "process peak RSS"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--frames", type=int, default=646, help="clip length in frames (646 = 7.5 s = 27 patches)")
    ap.add_argument("--modes", default="loop,batched,batched+amp")
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    batch = args.batch_size or (4 if cuda else 2)
    steps = args.steps or (10 if cuda else 2)
    warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    if args._child:
        print(json.dumps(run_mode(args._child, device, batch, steps, warmup, args.frames)))
        return 0

    print(f"device: {device_name(device)}; torch {torch.__version__}; resnet152 patch model, batch {batch}, "
          f"{args.frames} frames ({(args.frames - 224) // 16 + 1} patches per clip), {steps} timed steps")
    results = []
    for mode in args.modes.split(","):
        cmd = [sys.executable, __file__, "--_child", mode, "--device", device, "--batch-size", str(batch),
               "--steps", str(steps), "--warmup", str(warmup), "--frames", str(args.frames)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{mode}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{mode:12s} {r['clips_per_s']:8.2f} clips/s  {r['step_s']:7.2f} s/step  "
              f"peak {r['peak_bytes'] / 2**30:6.2f} GiB ({r['peak_kind']})")
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
