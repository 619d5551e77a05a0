"""Reading and writing safetensors one tensor at a time.

Reading: the header is parsed once; each tensor is then read with a positioned read straight into
a buffer the caller owns. Nothing is memory-mapped, so a model's file pages never count as this
process's memory, and a tensor's bytes are gone as soon as its last user drops it.

Writing: every output tensor's dtype and shape are known before any is computed, so each shard's
header is written first and each tensor lands at its final offset the moment it is ready
(``os.pwrite``): one tensor in memory at a time, in any order, and no shard is ever held whole.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}
NAMES: dict[torch.dtype, str] = {v: k for k, v in DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int  # absolute byte offset in the file
    end: int


class SafetensorsFile:
    """One .safetensors file: its tensor entries, and reads of single tensors."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError(f"{self.path} is not a safetensors file (too short).")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER:
                raise ValueError(f"{self.path} is not a safetensors file (header of {n} bytes).")
            header = json.loads(f.read(n))
        self.metadata = header.pop("__metadata__", None) or {}
        self.entries: dict[str, Entry] = {}
        for name, e in header.items():
            if e["dtype"] not in DTYPES:
                raise ValueError(f"{self.path}: tensor '{name}' has dtype {e['dtype']}, which Juxta cannot read.")
            start, end = e["data_offsets"]
            self.entries[name] = Entry(DTYPES[e["dtype"]], tuple(e["shape"]), 8 + n + start, 8 + n + end)

    def read(self, name: str) -> torch.Tensor:
        e = self.entries[name]
        nbytes = e.end - e.start
        buf = torch.empty(nbytes, dtype=torch.uint8)
        if nbytes:
            view = memoryview(buf.numpy())
            fd = os.open(self.path, os.O_RDONLY)
            try:
                got = 0
                while got < nbytes:
                    n = os.preadv(fd, [view[got:]], e.start + got)
                    if n <= 0:
                        raise ValueError(f"{self.path} ends inside tensor '{name}' (the file is truncated).")
                    got += n
            finally:
                os.close(fd)
        return buf.view(e.dtype).reshape(e.shape)


def _header_bytes(entries: list[tuple[str, torch.dtype, tuple[int, ...]]], metadata: dict[str, str]) -> tuple[bytes, dict[str, int]]:
    header: dict = {"__metadata__": metadata}
    offsets: dict[str, int] = {}
    pos = 0
    for name, dtype, shape in entries:
        size = _nbytes(dtype, shape)
        header[name] = {"dtype": NAMES[dtype], "shape": list(shape), "data_offsets": [pos, pos + size]}
        offsets[name] = pos
        pos += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, offsets


def _nbytes(dtype: torch.dtype, shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n * torch.empty((), dtype=dtype).element_size()


class ShardedWriter:
    """Writes known tensors into shards of at most ``max_shard_bytes`` (Hugging Face's file names and
    index), each tensor at its final place as soon as it is given."""

    def __init__(self, folder: Path, entries: list[tuple[str, torch.dtype, tuple[int, ...]]], max_shard_bytes: int,
                 metadata: dict[str, str] | None = None):
        self.folder = Path(folder)
        groups: list[list[tuple[str, torch.dtype, tuple[int, ...]]]] = [[]]
        size = 0
        for entry in entries:
            b = _nbytes(entry[1], entry[2])
            if groups[-1] and size + b > max_shard_bytes:
                groups.append([])
                size = 0
            groups[-1].append(entry)
            size += b
        count = len(groups)
        self.files: list[Path] = []
        self.where: dict[str, tuple[int, int, int]] = {}  # name -> (shard, absolute offset, nbytes)
        self._fds: list[int] = []
        self.total_size = sum(_nbytes(d, s) for _, d, s in entries)
        meta = {"format": "pt", **(metadata or {})}
        for i, group in enumerate(groups):
            name = "model.safetensors" if count == 1 else f"model-{i + 1:05d}-of-{count:05d}.safetensors"
            path = self.folder / name
            head, offsets = _header_bytes(group, meta)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, head)
            data = sum(_nbytes(d, s) for _, d, s in group)
            os.ftruncate(fd, len(head) + data)
            self._fds.append(fd)
            self.files.append(path)
            for tname, dtype, shape in group:
                self.where[tname] = (i, len(head) + offsets[tname], _nbytes(dtype, shape))

    def write(self, name: str, tensor: torch.Tensor) -> None:
        shard, offset, nbytes = self.where[name]
        data = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
        if data.numel() != nbytes:
            raise ValueError(f"tensor '{name}' has {data.numel()} bytes, {nbytes} were planned")
        view = memoryview(data.numpy())
        done = 0
        while done < nbytes:
            done += os.pwrite(self._fds[shard], view[done:], offset + done)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        if len(self.files) > 1:
            index = {"metadata": {"total_size": self.total_size},
                     "weight_map": {n: self.files[s].name for n, (s, _, _) in self.where.items()}}
            (self.folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
