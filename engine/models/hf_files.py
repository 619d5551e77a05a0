"""Where a Hugging Face model's files come from and what they hold, before anything is loaded.

A source resolves to a local folder: an HF-format folder given as ``file:``/``folder:``, or a hub
repository downloaded through ``huggingface_hub.snapshot_download`` into its cache (offline once
cached). This module also finds the weight files (safetensors first, then ``pytorch_model*.bin``
read with ``torch.load(weights_only=True)``) and counts parameters from safetensors headers, so a
model can be described without loading it.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import struct
import warnings
from pathlib import Path

from engine.core.errors import ModelError, SourceError, UnsafeModelError
from engine.core.sources import Source

CONFIG_NAME = "config.json"
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
SMALL_PATTERNS = [CONFIG_NAME, *PROCESSOR_FILES, *TOKENIZER_FILES]
SAFETENSORS_PATTERNS = ["model.safetensors", "model-*.safetensors", "model.safetensors.index.json"]
BIN_PATTERNS = ["pytorch_model.bin", "pytorch_model-*.bin", "pytorch_model.bin.index.json"]
CODE_PATTERNS = ["*.py"]
_TRUE = {"1", "ON", "YES", "TRUE"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
BIN_PROBE_BYTES = 64 * 2**20  # validation reads pytorch_model*.bin up to this size to look for pickled objects


def is_offline(offline: bool | None) -> bool:
    """Whether to stay off the network: the caller's choice, else HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE."""
    if offline is not None:
        return bool(offline)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in _TRUE:
            return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001
        return False


def _is_connection_error(exc: BaseException) -> bool:
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 8:
        name = type(e).__name__
        if isinstance(e, (ConnectionError, TimeoutError)) or "Connect" in name or "Timeout" in name:
            return True
        if name == "OfflineModeIsEnabled":
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return False


def resolve_folder(
    src: Source,
    root: Path,
    *,
    offline: bool | None,
    cache_dir: str | Path | None,
    weights: bool,
    code: bool,
) -> tuple[Path, str | None]:
    """Return the local folder holding the model's files and the resolved commit (hub only)."""
    if src.scheme == "file" or src.is_local_path:
        folder = src.path(Path(root))
        if not folder.exists():
            raise SourceError(f"Model folder {folder} (from '{src}') does not exist.")
        if not folder.is_dir():
            raise SourceError(f"Model source '{src}' points to the file {folder}; a Hugging Face model is a folder.")
        if not (folder / CONFIG_NAME).is_file():
            raise SourceError(
                f"Model folder {folder} (from '{src}') has no config.json, so it is not a Hugging Face model folder."
            )
        return folder, None
    if src.scheme != "hf":
        raise SourceError(f"Model source '{src}' is not a Hugging Face source (expected 'hf:org/name').")

    repo_id = src.value
    patterns = list(SMALL_PATTERNS) + (CODE_PATTERNS if code else [])
    if not weights:
        folder = _snapshot(src, repo_id, patterns, offline, cache_dir)
    else:
        folder = _snapshot(src, repo_id, patterns + SAFETENSORS_PATTERNS, offline, cache_dir)
        if not _safetensors_files(folder):
            folder = _snapshot(src, repo_id, patterns + BIN_PATTERNS, offline, cache_dir)
    if not (folder / CONFIG_NAME).is_file():
        raise SourceError(f"Hub repository '{repo_id}' (from '{src}') has no config.json, so it is not a transformers model.")
    commit = folder.name if _COMMIT.match(folder.name) else None
    return folder, commit


def _snapshot(src: Source, repo_id: str, patterns: list[str], offline: bool | None, cache_dir: str | Path | None) -> Path:
    import huggingface_hub
    from huggingface_hub.utils import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    not_cached = SourceError(
        f"Model '{src}' is not in the local Hugging Face cache and the hub cannot be reached; "
        "connect once to download it, or use a local folder."
    )
    local_only = is_offline(offline)
    kwargs = dict(revision=src.revision, allow_patterns=patterns, cache_dir=str(cache_dir) if cache_dir else None)
    try:
        try:
            return Path(huggingface_hub.snapshot_download(repo_id, local_files_only=local_only, **kwargs))
        except LocalEntryNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            if local_only or not _is_connection_error(exc):
                raise
            # The hub went away mid-way: use the cache if the files are there.
            return Path(huggingface_hub.snapshot_download(repo_id, local_files_only=True, **kwargs))
    except LocalEntryNotFoundError as exc:
        raise not_cached from exc
    except RevisionNotFoundError as exc:
        raise SourceError(f"Revision '{src.revision}' does not exist for model '{repo_id}' on the Hugging Face hub.") from exc
    except GatedRepoError as exc:
        raise SourceError(
            f"Model '{repo_id}' is gated on the Hugging Face hub; request access on its page and log in (hf auth login)."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise SourceError(
            f"Model '{repo_id}' does not exist on the Hugging Face hub or is private (log in to use a private one)."
        ) from exc
    except HfHubHTTPError as exc:
        raise SourceError(f"The Hugging Face hub refused model '{repo_id}' ({first_line(exc)}).") from exc
    except ValueError as exc:  # HFValidationError: not a repo id
        raise SourceError(
            f"'{repo_id}' in '{src}' is not a Hugging Face repo id (expected 'org/name'); "
            "start a local folder with './' or '/'."
        ) from exc
    except OSError as exc:
        if _is_connection_error(exc):
            raise not_cached from exc
        raise SourceError(f"Model '{src}' could not be fetched ({first_line(exc)}).") from exc


def _indexed_shards(folder: Path, index_name: str) -> list[Path]:
    """The shard files a sharded checkpoint's index names, if it has one and they all exist."""
    index = folder / index_name
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
            files = sorted({folder / f for f in weight_map.values()})
            if files and all(f.is_file() for f in files):
                return files
        except (OSError, ValueError, AttributeError):
            pass
    return []


def _safetensors_files(folder: Path) -> list[Path]:
    files = _indexed_shards(folder, "model.safetensors.index.json")
    if files:
        return files
    files = sorted(folder.glob("model*.safetensors"))
    return files or sorted(folder.glob("*.safetensors"))


def _bin_files(folder: Path) -> list[Path]:
    files = _indexed_shards(folder, "pytorch_model.bin.index.json")
    if files:
        return files
    single = folder / "pytorch_model.bin"
    return [single] if single.is_file() else sorted(folder.glob("pytorch_model-*.bin"))


def find_weights(folder: Path, src: Source) -> tuple[str, list[Path]]:
    """The weight format (``safetensors`` or ``bin``) and its files, safetensors preferred."""
    st = _safetensors_files(folder)
    if st:
        return "safetensors", st
    bins = _bin_files(folder)
    if bins:
        return "bin", bins
    others = [p.name for p in folder.iterdir() if p.suffix in (".h5", ".msgpack", ".ckpt", ".pt", ".pth", ".onnx")]
    hint = f" (found {', '.join(sorted(others))}, which Juxta does not load)" if others else ""
    raise ModelError(f"Model '{src}' has no weights in {folder}: expected model.safetensors or pytorch_model.bin{hint}.")


def torch_load_weights_only(path: Path):
    """``torch.load(weights_only=True)`` without torch's warnings reaching the console.

    torch warns about the pickle protocol of files it did not write (e.g. "Detected pickle protocol 4");
    Juxta reports what matters about such a file in its own error instead.
    """
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(str(path), map_location="cpu", weights_only=True)


def load_bin_state_dict(files: list[Path], src: Source) -> dict:
    """Read pytorch_model*.bin with ``weights_only=True``: tensors and plain containers only."""
    import torch

    state: dict = {}
    for path in files:
        try:
            part = torch_load_weights_only(path)
        except pickle.UnpicklingError as exc:
            raise UnsafeModelError(
                f"Model file {path} (from '{src}') contains pickled Python objects besides tensors; "
                "Juxta refuses to unpickle it because that could run code. Use a safetensors copy of the model."
            ) from exc
        except Exception as exc:  # noqa: BLE001 - corrupt or truncated file
            raise ModelError(f"Model file {path} (from '{src}') cannot be read ({first_line(exc)}).") from exc
        if isinstance(part, dict) and "state_dict" in part and isinstance(part["state_dict"], dict):
            part = part["state_dict"]
        if not isinstance(part, dict) or not all(isinstance(v, torch.Tensor) for v in part.values()):
            raise ModelError(f"Model file {path} (from '{src}') does not hold a dictionary of tensors.")
        state.update(part)
    return state


def check_safetensors(path: Path, src: Source) -> None:
    """Refuse a safetensors file whose header is damaged or whose data is cut short (reads the header only)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(
            f"Model file {path} (from '{src}') is not a valid safetensors file ({first_line(exc)}); it may be truncated or corrupt."
        ) from None


def _safetensors_header(path: Path) -> dict:
    """Read only the JSON header of a safetensors file (8-byte length, then the header)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) != 8:
            raise ValueError("file too short")
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_SAFETENSORS_HEADER:
            raise ValueError("header too large")
        return json.loads(fh.read(n))


def safetensors_param_count(folder: Path) -> int:
    """Parameter count from the safetensors headers alone (−1 when there are none or they are unreadable)."""
    files = _safetensors_files(folder)
    if not files:
        return -1
    total = 0
    try:
        for f in files:
            for name, entry in _safetensors_header(f).items():
                if name == "__metadata__" or not isinstance(entry, dict):
                    continue
                total += math.prod(int(d) for d in entry.get("shape", []))
    except (OSError, ValueError, TypeError):
        return -1
    return total


def hub_param_count(repo_id: str, revision: str | None) -> int:
    """Parameter count from the hub's safetensors metadata (−1 when it cannot be asked)."""
    try:
        from huggingface_hub import get_safetensors_metadata

        meta = get_safetensors_metadata(repo_id, revision=revision)
        return int(sum(meta.parameter_count.values()))
    except Exception:  # noqa: BLE001 - unknown is an acceptable answer for a picker
        return -1


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, for one-sentence errors."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")
