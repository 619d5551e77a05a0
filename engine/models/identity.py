"""What a model's results depend on, for cell keys: a training cell's key, a file's hash, an artifact's
path, or a hub id at the commit the local cache holds."""

from __future__ import annotations

from pathlib import Path

from engine.core.errors import SourceError
from engine.core.sources import hash_path, parse_source
from engine.models.spec import ModelSpec


def model_identity(m: ModelSpec, root: Path, train_key: str | None, artifacts: dict[str, str]) -> str:
    """``train:<key>`` for a built-in model trained by the study (``train_key``), ``artifact:<path>``,
    ``file:<sha256>`` or ``hf:<id>@<commit>``; ``artifacts`` maps artifact names to their paths."""
    src = parse_source(m.source, kind="model")
    if src.scheme == "builtin":
        return f"train:{train_key}"
    if src.scheme == "artifact":
        if src.value not in artifacts:
            raise SourceError(
                f"Model '{m.id}': artifact '{src.value}' does not exist yet; run the study that makes it first "
                f"(known artifacts: {', '.join(sorted(artifacts)) or 'none'})."
            )
        return f"artifact:{artifacts[src.value]}"
    if src.is_local_path:
        path = src.path(root)
        if not path.exists():
            raise SourceError(f"Model '{m.id}': {path} does not exist.")
        return f"file:{hash_path(path)}"
    return f"hf:{src.value}@{cached_commit(src.value, src.revision) or src.revision or 'main'}"


def cached_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit a hub revision resolves to in the local cache, so a moved branch re-plans cells."""
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(repo_id, revision=revision, local_files_only=True, allow_patterns=["config.json"])
    except Exception:  # not cached (or not reachable): the cell itself reports that clearly
        return None
    return Path(path).name
