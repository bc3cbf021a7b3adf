"""The paper's patch-sequence model, with the reference implementation's defects fixed.

A scaled log-mel clip ``(batch, channels, 224, frames)`` is cut into square 224x224
patches every 16 frames (~27 patches for a 7.5 s clip). Each patch goes through an
image backbone (the paper's torchvision vit_b_16, vgg11_bn, densenet201 or resnet152;
resnet18/34/50 as smaller stand-ins for CPU runs) whose
1000-way output passes ReLU -> Linear(1000, 768) -> Tanh; the patch embeddings plus
a sinusoidal positional encoding go through a 1-layer TransformerEncoder, and output
token 0 -> ReLU -> Linear(768, 8) gives the genre logits.

Fixed here (the defects of the paper's reference implementation):

- all patches of all clips go through the backbone in ONE batched call
  (:meth:`PatchSequenceModel.forward`); the reference's per-patch Python loop is kept
  only as :meth:`PatchSequenceModel.forward_patch_loop` for benchmarks and tests;
- the positional encoding is actually added to the sequence;
- nothing is downloaded: backbones are built with ``weights=None`` and ImageNet
  weights, when wanted, come from a local file.

Memory: ``channels_last=True`` feeds the backbone NHWC tensors (faster convolutions
with tensor cores under AMP); ``checkpoint_backbone=N`` runs the backbone over chunks
of N patches under activation checkpointing during training, so only one chunk's
activations are alive in the backward pass. This is what should let batch 32 x 27
patches of resnet152 train on a 24 GB card (without it, activations are about 0.18 GiB
per patch in float32, ~155 GiB for 864 patches); measure with
``bench/bench_train_throughput.py --memory-sweep``.
"""
from __future__ import annotations

import contextlib
import math
import os

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

#: The paper's four backbones (Table 2).
PAPER_BACKBONES = ("vit_b_16", "vgg11_bn", "densenet201", "resnet152")
#: Smaller ResNets for CPU-sized runs of the same architecture.
SMALL_BACKBONES = ("resnet18", "resnet34", "resnet50")
BACKBONES = PAPER_BACKBONES + SMALL_BACKBONES
PATCH = 224
PATCH_HOP = 16
EMBED = 768


def build_backbone(name: str, weights_path: str | os.PathLike | None = None) -> nn.Module:
    """A torchvision image classifier (1000 outputs) with random or local ImageNet weights.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONES`.
    weights_path : path, optional
        A state dict saved with ``torch.save(model.state_dict())`` (e.g. torchvision's
        ``*.pth`` file copied from a machine with internet); loaded with
        ``weights_only=True``.
    """
    import torchvision

    from ..run.safe_load import load_tensors

    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {BACKBONES}")
    model = getattr(torchvision.models, name)(weights=None)
    if weights_path is not None:
        state = load_tensors(weights_path, what="weights")  # one line, never "use weights_only=False"
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        model.load_state_dict(state)
    return model


@contextlib.contextmanager
def _frozen_batchnorm_stats(module: nn.Module):
    """Within the block, batch-norm layers of ``module`` normalise by batch statistics but
    leave their running statistics unchanged (momentum 0, counter restored)."""
    saved = []
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            saved.append((m, m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, count in saved:
            m.momentum = momentum
            if count is not None:
                m.num_batches_tracked.copy_(count)


def sinusoidal_encoding(length: int, dim: int) -> torch.Tensor:
    """The Transformer's fixed sine/cosine positional encoding, shape ``(length, dim)``."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe


class PatchSequenceModel(nn.Module):
    """Patch sequence -> backbone -> transformer -> 8 genre logits (the paper's architecture).

    Parameters
    ----------
    backbone : str
        One of :data:`BACKBONES`.
    in_channels : int
        1 (mel, repeated to the backbone's 3 channels) or 3 (mel, CQT chroma, VQT chroma).
    n_classes : int
    nhead : int
        Attention heads of the transformer layer (the reference used 3-6).
    max_patches : int
        Longest patch sequence the positional encoding covers (64 patches = 1232
        frames = 14.3 s at 44.1 kHz).
    dropout : float
        Dropout inside the transformer layer.
    weights_path : path, optional
        Local ImageNet weights for the backbone.
    channels_last : bool
        Keep the backbone's weights and inputs in NHWC layout (GPU speed; a runtime
        setting, not stored in :meth:`config`).
    checkpoint_backbone : int
        In training mode, push the patches through the backbone in chunks of this many
        patches under activation checkpointing (recomputed in the backward pass), so the
        backward pass holds one chunk's activations instead of the whole batch's.
        Batch-norm statistics are then per chunk (the reference's per-patch loop had
        per-position statistics too) and running statistics are updated once per chunk.
        0 (default) = off. A runtime setting, not stored in :meth:`config`.
    """

    def __init__(self, backbone: str = "resnet152", in_channels: int = 1, n_classes: int = 8, nhead: int = 4,
                 max_patches: int = 64, dropout: float = 0.1, weights_path: str | None = None,
                 channels_last: bool = False, checkpoint_backbone: int = 0):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError("in_channels must be 1 (mel) or 3 (mel + two chroma channels)")
        self.backbone_name = backbone
        self.in_channels = in_channels
        self.max_patches = max_patches
        if int(checkpoint_backbone) < 0:
            raise ValueError("checkpoint_backbone must be >= 0 (patches per checkpointed chunk, 0 = off)")
        #: Feed the backbone NHWC tensors (faster convolutions on GPUs with tensor cores).
        self.channels_last = bool(channels_last)
        #: Patches per activation-checkpointed backbone chunk in training (0 = off).
        self.checkpoint_backbone = int(checkpoint_backbone)
        self.backbone = build_backbone(backbone, weights_path)
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.embed = nn.Sequential(nn.ReLU(), nn.Linear(1000, EMBED), nn.Tanh())
        self.register_buffer("pos_encoding", sinusoidal_encoding(max_patches, EMBED), persistent=False)
        layer = nn.TransformerEncoderLayer(EMBED, nhead, dim_feedforward=4 * EMBED, dropout=dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(EMBED, n_classes))

    @staticmethod
    def n_patches(frames: int) -> int:
        """Patches cut from a clip of ``frames`` frames (at least 224)."""
        return (frames - PATCH) // PATCH_HOP + 1

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] != PATCH or x.shape[3] < PATCH:
            raise ValueError(f"expected input (batch, {self.in_channels}, 224, frames>=224), got {tuple(x.shape)}")

    def _sequence(self, emb: torch.Tensor) -> torch.Tensor:
        """Embeddings (batch, patches, 768) -> logits: positional encoding ADDED, then transformer."""
        n = emb.shape[1]
        if n > self.max_patches:
            raise ValueError(f"{n} patches exceed max_patches={self.max_patches}")
        seq = emb + self.pos_encoding[:n].to(emb.dtype)
        out = self.encoder(seq)
        return self.classifier(out[:, 0])

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """All patches of all clips as one image batch ``(batch * patches, 3, 224, 224)``."""
        b = x.shape[0]
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        p = x.unfold(3, PATCH, PATCH_HOP)  # (b, 3, 224, n, 224)
        n = p.shape[3]
        return p.permute(0, 3, 1, 2, 4).reshape(b * n, 3, PATCH, PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)``; every patch of every clip in one backbone call."""
        self._check(x)
        b = x.shape[0]
        images = self.patches(x)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        emb = self.embed(self._backbone(images)).reshape(b, -1, EMBED)
        return self._sequence(emb)

    def _backbone(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone outputs ``(n, 1000)``; chunked activation checkpointing when enabled and training."""
        chunk = self.checkpoint_backbone
        if not (chunk and self.training and torch.is_grad_enabled()):
            return self.backbone(images)
        outs = []
        for start in range(0, images.shape[0], chunk):
            calls = [0]

            def run(part: torch.Tensor, calls=calls) -> torch.Tensor:
                # The second call of a chunk is the backward pass's recomputation: keep the
                # batch-norm running statistics from being updated twice.
                calls[0] += 1
                with (_frozen_batchnorm_stats(self.backbone) if calls[0] > 1 else contextlib.nullcontext()):
                    return self.backbone(part)

            outs.append(checkpoint(run, images[start:start + chunk], use_reentrant=False, preserve_rng_state=True))
        return torch.cat(outs, dim=0)

    def forward_patch_loop(self, x: torch.Tensor) -> torch.Tensor:
        """The reference's way: one backbone call per patch position (slow; benchmarks/tests only)."""
        self._check(x)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        n = self.n_patches(x.shape[3])
        embs = [self.embed(self.backbone(x[..., i * PATCH_HOP:i * PATCH_HOP + PATCH].contiguous())) for i in range(n)]
        return self._sequence(torch.stack(embs, dim=1))

    def config(self) -> dict:
        """Constructor arguments as plain types (stored in checkpoints)."""
        return {
            "arch": self.backbone_name,
            "in_channels": self.in_channels,
            "n_classes": self.classifier[-1].out_features,
            "nhead": self.encoder.layers[0].self_attn.num_heads,
            "max_patches": self.max_patches,
            "dropout": float(self.encoder.layers[0].dropout.p),
        }

    @property
    def min_frames(self) -> int:
        return PATCH
