"""Built-in architectures for small inputs, trained on demand with a recorded recipe.

Each model normalises its own inputs (statistics of its training split are buffers), so shifts are
always applied to raw data in [0, 1] (images) or raw units (tables), as a deployed model sees them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.core.errors import SourceError


class Standardize(nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    def __init__(self, in_features: int, num_classes: int, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.norm = Standardize(mean.reshape(-1), std.reshape(-1))
        self.body = nn.Sequential(
            nn.Linear(in_features, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.norm(x.flatten(1)))


class SmallCNN(nn.Module):
    def __init__(self, channels: int, num_classes: int, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.norm = Standardize(mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.norm(x)).flatten(1))


class TinyViT(nn.Module):
    def __init__(self, channels: int, side: int, num_classes: int, mean: torch.Tensor, std: torch.Tensor, width: int = 64):
        super().__init__()
        self.norm = Standardize(mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1))
        patch = max(1, side // 4)
        tokens = (side // patch) ** 2
        self.embed = nn.Conv2d(channels, width, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, width * 2, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.embed(self.norm(x)).flatten(2).transpose(1, 2)
        z = torch.cat([self.cls.expand(len(z), -1, -1), z], dim=1) + self.pos
        return self.head(self.ln(self.encoder(z)[:, 0]))


class HashedBow(nn.Module):
    """Text model: character 3-grams hashed into a fixed-size count vector, then an MLP."""

    def __init__(self, num_classes: int, buckets: int = 4096):
        super().__init__()
        self.buckets = buckets
        self.body = nn.Sequential(nn.Linear(buckets, 128), nn.ReLU(), nn.Linear(128, num_classes))

    def featurize(self, texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.buckets)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            ids = [_stable_hash(padded[i : i + 3]) % self.buckets for i in range(len(padded) - 2)]
            if ids:
                out[row].index_add_(0, torch.tensor(ids), torch.ones(len(ids)))
                out[row] /= math.sqrt(len(ids))
        return out

    def forward(self, x: torch.Tensor | list[str]) -> torch.Tensor:
        if isinstance(x, list):
            x = self.featurize(x).to(self.body[0].weight.device)
        return self.body(x)


def _stable_hash(s: str) -> int:
    """FNV-1a: Python's ``hash`` is salted per process, which would break reproducibility."""
    h = 2166136261
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def build(arch: str, input_shape: tuple[int, ...], num_classes: int, mean: torch.Tensor, std: torch.Tensor) -> nn.Module:
    """Create an untrained built-in model for the given input shape."""
    if arch == "mlp":
        return MLP(int(math.prod(input_shape)), num_classes, mean, std)
    if arch == "bow":
        return HashedBow(num_classes)
    if len(input_shape) != 3:
        raise SourceError(f"Built-in model '{arch}' needs images; this data has shape {input_shape}. Use 'mlp' for tables.")
    channels, side = input_shape[0], input_shape[1]
    if arch == "cnn":
        return SmallCNN(channels, num_classes, mean, std)
    return TinyViT(channels, side, num_classes, mean, std)
