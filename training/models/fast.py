"""The default genre model: a small CNN over the whole mel clip with attention pooling over time.

Design (reasons and measurements in ``docs/genre-model.md``):

- a non-overlapping "patchify" stem (kernel = stride = 8 mel bands x 4 frames, as in
  ConvNeXt/ViT stems) turns the 224 x frames image into a 28 x frames/4 grid at
  once, so no layer ever runs at full resolution (full-resolution layers dominate the
  CPU cost of training and inference: their activations are memory-bound);
- three 3x3 convolution stages (BatchNorm + ReLU, the last one residual) halve the
  frequency axis twice more while keeping the time axis at ~46 ms steps, fine
  enough for 16th-note rhythm patterns (117 ms at 128 BPM);
- the 7 remaining frequency rows are folded into channels and projected to one
  embedding per time step, followed by two residual grouped temporal convolutions
  (dilation 1 and 4: about half a bar of context);
- multi-head attention pooling weighs the time steps (the growl after the kick, a
  hook, a pad swell) instead of averaging them; a linear layer gives the 8 logits.

Plain convolutions are used rather than depthwise-separable ones: at these widths
they cost a little more arithmetic but run several times faster on CPUs (oneDNN and
ONNX Runtime), which is what the default model is optimised for.

Same input/output contract as the paper model: ``(batch, channels, 224, frames)`` ->
8 logits, for any clip length of at least :attr:`FastGenreNet.min_frames` frames.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int, kernel, stride, padding) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ResidualConv(nn.Module):
    """3x3 convolution + BatchNorm with an identity shortcut, then ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class AttentionPool(nn.Module):
    """Multi-head attention pooling over time: ``(batch, dim, time)`` -> ``(batch, dim)``.

    Each head scores every time step, softmax over time, and averages its slice of the
    channels with those weights.
    """

    def __init__(self, dim: int, heads: int = 4):
        super().__init__()
        if dim % heads:
            raise ValueError("dim must be divisible by heads")
        self.heads = heads
        self.score = nn.Sequential(nn.Conv1d(dim, dim // 2, 1), nn.Tanh(), nn.Conv1d(dim // 2, heads, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, d, t = h.shape
        w = torch.softmax(self.score(h), dim=-1)  # (b, heads, t)
        hv = h.reshape(b, self.heads, d // self.heads, t)
        return torch.einsum("bhct,bht->bhc", hv, w).reshape(b, d)


class FastGenreNet(nn.Module):
    """Small, fast genre classifier over a scaled log-mel clip.

    Parameters
    ----------
    in_channels : int
        1 (mel) or 3 (mel + CQT/VQT chroma).
    n_classes : int
    width : int
        Channels after the stem; the next stages use 1.5x and 2x.
    embed : int
        Per-time-step embedding size (divisible by ``heads`` and by 4).
    heads : int
        Attention-pooling heads.
    dropout : float
        Dropout before the classifier.
    n_mels : int
        Mel bands of the input (224).
    """

    #: Shortest clip accepted (about 0.37 s).
    min_frames = 32

    def __init__(self, in_channels: int = 1, n_classes: int = 8, width: int = 32, embed: int = 160,
                 heads: int = 4, dropout: float = 0.2, n_mels: int = 224):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError("in_channels must be 1 (mel) or 3 (mel + two chroma channels)")
        if n_mels % 32:
            raise ValueError("n_mels must be a multiple of 32")
        self.in_channels, self.n_classes, self.width = in_channels, n_classes, width
        self.embed_dim, self.heads, self.dropout_p, self.n_mels = embed, heads, dropout, n_mels
        w1, w2, w3 = width, (3 * width) // 2, 2 * width
        self.features = nn.Sequential(
            *conv_bn_relu(in_channels, w1, (8, 4), (8, 4), 0),  # patchify: F/8, T/4
            *conv_bn_relu(w1, w2, 3, (2, 1), 1),                # F/16
            *conv_bn_relu(w2, w3, 3, (2, 1), 1),                # F/32
            ResidualConv(w3),
        )
        f_out = n_mels // 32
        self.project = nn.Sequential(nn.Conv1d(w3 * f_out, embed, 1, bias=False), nn.BatchNorm1d(embed),
                                     nn.ReLU(inplace=True))
        self.temporal = nn.ModuleList([
            nn.Sequential(nn.Conv1d(embed, embed, 3, padding=d, dilation=d, groups=4, bias=False),
                          nn.BatchNorm1d(embed), nn.ReLU(inplace=True))
            for d in (1, 4)
        ])
        self.pool = AttentionPool(embed, heads)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(x))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The attention-pooled clip embedding ``(batch, embed)`` (the classifier's input).

        The exported model returns it beside the probabilities; the novelty score is a
        Mahalanobis distance on it (:mod:`..run.novelty`).
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] != self.n_mels:
            raise ValueError(f"expected input (batch, {self.in_channels}, {self.n_mels}, frames), got {tuple(x.shape)}")
        h = self.features(x)  # (b, c, f, t)
        b, c, f, t = h.shape
        h = self.project(h.reshape(b, c * f, t))
        for layer in self.temporal:
            h = h + layer(h)
        return self.pool(h)

    def config(self) -> dict:
        """Constructor arguments as plain types (stored in checkpoints)."""
        return {"arch": "default", "in_channels": self.in_channels, "n_classes": self.n_classes,
                "width": self.width, "embed": self.embed_dim, "heads": self.heads,
                "dropout": float(self.dropout_p), "n_mels": self.n_mels}
