"""Multi-GPU / multi-node training with ``torchrun``: process group, sharding, reductions.

``torchrun --nproc_per_node N -m mainstage.core.cli train ...`` (or ``mainstage train``
under torchrun) sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`setup` then
joins the process group (``env://``; NCCL on CUDA, gloo on CPU), each rank takes GPU
``LOCAL_RANK``, and the trainer wraps its model in DistributedDataParallel.

Equivalence with one process
----------------------------
Every rank plans the same *global* batches (the epoch's clip order, crop offsets and
augmentation draws come from generators seeded with ``(seed, epoch, step)``) and
trains on its own contiguous slice of each (:func:`shard_bounds`). Each rank's loss is
its share of the global batch's summed loss divided by the global clip count, times
the world size; DDP averages gradients over ranks, so the gradient is the global
batch's mean gradient, as in one process. BatchNorm statistics are synchronised over
ranks (``torch.nn.SyncBatchNorm`` on CUDA, :class:`CpuSyncBatchNorm` on CPU where
torch's version does not run). Validation and test predictions are gathered from all
ranks, so metrics are computed on the whole split. Only rank 0 writes files, logs and
progress bars. Dropout masks are the one thing that differs from a single process
(each rank has its own torch generator).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

# Recent torch calls the differentiable all_reduce (torch.distributed.nn.functional) deprecated
# in favour of a private module; it still works and is the public autograd-aware collective.
warnings.filterwarnings("ignore", message=r".*distributed\.nn\.functional\.all_reduce is deprecated",
                        category=FutureWarning)

@dataclass
class DistInfo:
    """This process's place in the run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """Rank, world size and local rank from torchrun's environment variables."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    rank = int(os.environ.get("RANK", "0") or 0)
    local = int(os.environ.get("LOCAL_RANK", str(rank)) or 0)
    return DistInfo(rank=rank, world=world, local_rank=local)


def setup(device: torch.device) -> DistInfo:
    """Join the process group when ``WORLD_SIZE > 1`` (no-op otherwise or when already joined)."""
    info = env_info()
    if not info.enabled:
        return info
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, init_method="env://")
    return DistInfo(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=info.local_rank)


def cleanup() -> None:
    """Leave the process group (when one was joined)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def shard_bounds(n: int, world: int, rank: int, even: bool = True) -> range:
    """Rank ``rank``'s contiguous share of ``n`` global batch rows.

    Boundaries are rounded to even positions (``even``) so that mixup pairs ``(2k, 2k+1)``
    never straddle two ranks. A rank may get no rows on a small last batch.
    """
    def bound(r: int) -> int:
        b = int(round(r * n / world))
        if even and 0 < b < n:
            b -= b % 2
        return min(max(b, 0), n)
    return range(bound(rank), bound(rank + 1))


def bag_shard(bag: np.ndarray, world: int, rank: int) -> range:
    """Rank ``rank``'s rows of a batch made of whole bags (a bag never straddles ranks).

    ``bag`` is the (non-decreasing) bag index of each row. Bags are dealt out
    contiguously so that ranks get about the same number of rows.
    """
    n = len(bag)
    if n == 0:
        return range(0, 0)
    starts = np.flatnonzero(np.r_[True, bag[1:] != bag[:-1]])
    starts = np.r_[starts, n]

    def bound(r: int) -> int:
        target = r * n / world
        return int(starts[int(np.argmin(np.abs(starts - target)))]) if 0 < r < world else (0 if r == 0 else n)
    lo, hi = bound(rank), bound(rank + 1)
    return range(lo, max(lo, hi))


def all_gather_objects(obj, info: DistInfo) -> list:
    """Every rank's ``obj`` (a list with one entry per rank; ``[obj]`` without distribution)."""
    if not info.enabled:
        return [obj]
    import torch.distributed as dist

    out = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, info: DistInfo, src: int = 0):
    """Rank ``src``'s ``obj`` on every rank."""
    if not info.enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_sum(values, info: DistInfo, device: torch.device) -> np.ndarray:
    """Sum of a small float vector over ranks."""
    arr = np.asarray(values, dtype=np.float64)
    if not info.enabled:
        return arr
    import torch.distributed as dist

    t = torch.as_tensor(arr, device=device)
    dist.all_reduce(t)
    return t.cpu().numpy()


class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are computed over all ranks, on any device.

    ``torch.nn.SyncBatchNorm`` only runs on GPUs; this version all-reduces per-channel
    sums (then squared deviations) with the differentiable
    ``torch.distributed.nn.functional.all_reduce``, so forward *and* backward match a
    BatchNorm over the global batch. Ranks with no rows take part with zero counts.
    State dict keys are those of ``BatchNorm2d``.
    """

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.tensor([float(x.numel() // max(x.shape[1], 1))], device=x.device)
        s = all_reduce(torch.cat([xf.sum(dim=dims), count]))
        n = s[-1].clamp_min(1.0)
        mean = s[:-1] / n
        dev = xf - mean.view(shape)
        var = all_reduce((dev * dev).sum(dim=dims)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var.detach() * (n.detach() / (n.detach() - 1.0).clamp_min(1.0))
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        y = dev * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm layers -> synchronised ones (torch's on CUDA, :class:`CpuSyncBatchNorm` elsewhere)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, CpuSyncBatchNorm):
        out = CpuSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            with torch.no_grad():
                out.weight.copy_(module.weight)
                out.bias.copy_(module.bias)
        if module.track_running_stats:
            out.running_mean.copy_(module.running_mean)
            out.running_var.copy_(module.running_var)
            out.num_batches_tracked.copy_(module.num_batches_tracked)
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, device))
    return out


__all__ = ["DistInfo", "env_info", "setup", "cleanup", "barrier", "shard_bounds", "bag_shard",
           "all_gather_objects", "broadcast_object", "all_reduce_sum", "CpuSyncBatchNorm", "convert_sync_batchnorm"]
