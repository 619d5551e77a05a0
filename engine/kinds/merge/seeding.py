"""Seeds for random methods, derived per tensor and per model so results are order-independent."""

from __future__ import annotations

import hashlib


def tensor_seed(seed: int, tensor: str, model_index: int) -> int:
    """A 63-bit seed from the run's seed, the tensor name and the model's index."""
    digest = hashlib.blake2b(f"{seed}\x00{tensor}\x00{model_index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)
