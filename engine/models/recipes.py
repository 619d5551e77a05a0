"""Built-in architectures and their training recipes, importable without torch (for planning)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.core.errors import SourceError

# name -> (modality, one-line description)
ARCHITECTURES = {
    "mlp": ("image|tabular", "Multi-layer perceptron: two hidden layers of 128 and 64 units."),
    "cnn": ("image", "Small convolutional network: three 3×3 conv layers with batch norm."),
    "vit": ("image", "Tiny vision transformer: 16 patches, 2 layers, 4 heads, width 64."),
    "bow": ("text", "Bag of hashed character 3-grams feeding an MLP (for short texts)."),
}
BUILTIN_DATA = ("digits", "wine", "breast-cancer")


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained built-in model besides the data and seed."""

    arch: str
    epochs: int
    lr: float
    batch_size: int
    weight_decay: float
    optimizer: str = "adamw"
    schedule: str = "cosine"
    version: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_RECIPES = {
    "mlp": Recipe("mlp", epochs=30, lr=2e-3, batch_size=64, weight_decay=1e-4),
    "cnn": Recipe("cnn", epochs=15, lr=3e-3, batch_size=64, weight_decay=1e-4),
    "vit": Recipe("vit", epochs=40, lr=2e-3, batch_size=64, weight_decay=5e-2),
    "bow": Recipe("bow", epochs=20, lr=2e-3, batch_size=64, weight_decay=1e-4),
}


def parse_builtin(value: str) -> tuple[str | None, str]:
    """``digits-cnn`` -> ('digits', 'cnn'); ``cnn`` -> (None, 'cnn'): train on the study's data."""
    data, _, arch = value.rpartition("-")
    if arch not in ARCHITECTURES:
        raise SourceError(
            f"Unknown built-in model '{value}'; expected an architecture ({', '.join(ARCHITECTURES)}), "
            f"optionally prefixed by a built-in dataset, e.g. 'digits-cnn'."
        )
    if data and data not in BUILTIN_DATA:
        raise SourceError(f"Unknown built-in dataset '{data}' in model '{value}'; expected one of {', '.join(BUILTIN_DATA)}.")
    return (data or None), arch
