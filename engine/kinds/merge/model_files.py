"""A model to merge, as files: a Hugging Face folder (sharded or not), a single .safetensors file, or
a PyTorch checkpoint (``.bin``/``.pt``, read with ``weights_only``); its tensors, read one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from engine.core.errors import JuxtaError
from engine.kinds.merge.safetensors_io import Entry, SafetensorsFile


class ModelFiles:
    """Tensor names, dtypes and shapes of one model, and reads of single tensors (each a fresh copy)."""

    fresh_reads = True

    def __init__(self, path: str | Path, label: str | None = None):
        self.path = Path(path).expanduser()
        self.label = label or str(path)
        self.config: dict = {}
        self._files: dict[str, SafetensorsFile] = {}
        self._pickled: dict[str, torch.Tensor] | None = None
        if not self.path.exists():
            raise JuxtaError(f"Model '{self.label}' not found: {self.path} does not exist.")
        if self.path.is_dir():
            cfg = self.path / "config.json"
            if cfg.is_file():
                try:
                    self.config = json.loads(cfg.read_text())
                except json.JSONDecodeError as exc:
                    raise JuxtaError(f"Model '{self.label}': {cfg} is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
            self._open_folder()
        elif self.path.suffix == ".safetensors":
            self._add_safetensors(self.path)
        elif self.path.suffix in (".bin", ".pt", ".pth"):
            self._open_pickle([self.path])
        else:
            raise JuxtaError(f"Model '{self.label}': {self.path} is neither a model folder nor a .safetensors, .bin or .pt file.")

    def _open_folder(self) -> None:
        index = self.path / "model.safetensors.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            for shard in shards:
                self._add_safetensors(self.path / shard)
            return
        single = sorted(self.path.glob("*.safetensors"))
        if single:
            for f in single:
                self._add_safetensors(f)
            return
        bins = sorted(self.path.glob("pytorch_model*.bin"))
        if bins:
            self._open_pickle(bins)
            return
        raise JuxtaError(f"Model '{self.label}': {self.path} has no weights (no *.safetensors or pytorch_model*.bin).")

    def _add_safetensors(self, path: Path) -> None:
        try:
            f = SafetensorsFile(path)
        except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise JuxtaError(f"Model '{self.label}': cannot read {path}: {exc}") from None
        for name in f.entries:
            self._files[name] = f

    def _open_pickle(self, paths: list[Path]) -> None:
        state: dict[str, torch.Tensor] = {}
        for p in paths:
            try:
                loaded = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
            except Exception as exc:  # noqa: BLE001 - any unpickling failure is the user's file
                raise JuxtaError(f"Model '{self.label}': cannot read {p} safely: {str(exc).splitlines()[0]}") from None
            if isinstance(loaded, dict) and "state_dict" in loaded and isinstance(loaded["state_dict"], dict):
                loaded = loaded["state_dict"]
            if not isinstance(loaded, dict):
                raise JuxtaError(f"Model '{self.label}': {p} does not hold a state dict of tensors.")
            state.update({k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)})
        self._pickled = state

    def names(self) -> list[str]:
        return list(self._pickled) if self._pickled is not None else list(self._files)

    def __contains__(self, name: str) -> bool:
        return name in (self._pickled if self._pickled is not None else self._files)

    def entry(self, name: str) -> tuple[torch.dtype, tuple[int, ...]]:
        if self._pickled is not None:
            t = self._pickled[name]
            return t.dtype, tuple(t.shape)
        e: Entry = self._files[name].entries[name]
        return e.dtype, e.shape

    def read(self, name: str) -> torch.Tensor:
        if self._pickled is not None:
            return self._pickled[name].clone()
        return self._files[name].read(name)

    def architecture(self) -> str | None:
        """``model_type (Architecture)`` from config.json, or ``Juxta <arch>`` from a Juxta model file's metadata."""
        if not self.config:
            meta = next(iter(self._files.values())).metadata if self._files else {}
            arch = meta.get("arch") if str(meta.get("format", "")).startswith("juxta-model") else None
            return f"Juxta {arch}" if arch else None
        arch = ", ".join(self.config.get("architectures") or [])
        mt = self.config.get("model_type")
        return f"{mt} ({arch})" if mt and arch else (mt or arch or None)
