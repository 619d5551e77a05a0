"""Hugging Face models: ``hf:org/name[@revision]`` from the hub cache, or an HF-format local folder.

Only image-classification and text-classification checkpoints are loaded. Loading follows the
design's safety rules:

* weights come from safetensors (``use_safetensors=True``) when the folder has them; a folder with
  only ``pytorch_model*.bin`` is read here with ``torch.load(..., weights_only=True)`` (a file that
  holds anything but tensors is refused with :class:`UnsafeModelError` and nothing in it runs), and
  the resulting state dict is handed to ``from_pretrained`` — transformers never unpickles a file;
* a config that maps to custom code (``auto_map``) is refused unless the caller passes
  ``trust_remote_code=True`` for that source (the user ticked "trust remote code").

Hub repositories download through ``huggingface_hub.snapshot_download`` into its cache and work
offline once cached. ``offline`` defaults to the environment (``HF_HUB_OFFLINE=1``); otherwise the
hub is tried first and, when it cannot be reached, the cache is used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.errors import ModelError, SourceError
from engine.models.base import Classifier, ModelInfo, count_parameters
from engine.models.hf_files import (
    BIN_PROBE_BYTES,
    CONFIG_NAME,
    PROCESSOR_FILES,
    TOKENIZER_FILES,
    check_safetensors,
    find_weights,
    first_line,
    hub_param_count,
    is_offline,
    load_bin_state_dict,
    resolve_folder,
    safetensors_param_count,
)
from engine.core.sources import Source

if TYPE_CHECKING:  # torch and transformers stay out of import time
    import torch


IMAGE_TASK = "image-classification"
TEXT_TASK = "text-classification"
_IMAGE_SUFFIXES = ("ForImageClassification", "ForImageClassificationWithTeacher")
_TEXT_SUFFIXES = ("ForSequenceClassification",)
_AUTO_CLASS = {IMAGE_TASK: "AutoModelForImageClassification", TEXT_TASK: "AutoModelForSequenceClassification"}


# --------------------------------------------------------------------------------------------
# public API


def load_hf_model(
    src: Source,
    root: Path,
    *,
    trust_remote_code: bool = False,
    offline: bool | None = None,
    cache_dir: str | Path | None = None,
) -> Classifier:
    """Load an image- or text-classification model from the hub cache or an HF-format folder.

    ``cache_dir`` overrides the Hugging Face hub cache (default: ``HF_HUB_CACHE``).
    """
    folder, revision = resolve_folder(
        src, root, offline=offline, cache_dir=cache_dir, weights=True, code=trust_remote_code
    )
    raw = _read_config(folder, src)
    _refuse_remote_code(raw, folder, src, trust_remote_code)
    task = _detect_task(raw, folder, src)
    weights, weight_files = find_weights(folder, src)

    import transformers

    # Always explicit: left as None, transformers may *ask on the terminal* whether to run remote code.
    trc = {"trust_remote_code": bool(trust_remote_code)}
    try:
        config = transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True, **trc)
    except Exception as exc:  # noqa: BLE001 - any failure here means the config is unusable
        raise ModelError(f"Model '{src}' has a config.json that transformers cannot read ({first_line(exc)}).") from exc
    cls = _model_class(task, raw, config, folder, src, trust_remote_code)
    # Preprocessing first: a folder without a processor or tokenizer fails before weights are read.
    prep = _image_preprocessing(folder, config, src, trust_remote_code) if task == IMAGE_TASK else None
    tokenizer = _load_tokenizer(folder, src, trust_remote_code) if task == TEXT_TASK else None

    try:
        if weights == "safetensors":
            module, loading = cls.from_pretrained(
                str(folder), config=config, use_safetensors=True, local_files_only=True,
                output_loading_info=True, **trc,
            )
        else:
            state_dict = load_bin_state_dict(weight_files, src)
            module, loading = cls.from_pretrained(
                None, config=config, state_dict=state_dict, output_loading_info=True, **trc
            )
    except (ModelError, SourceError):
        raise
    except Exception as exc:  # noqa: BLE001 - report any loader failure as a plain sentence
        raise ModelError(f"Model '{src}' could not be loaded from {folder} ({first_line(exc)}).") from exc
    module.eval()

    missing = sorted(loading.get("missing_keys") or [])
    extra: dict[str, Any] = {
        "revision": revision,
        "path": str(folder),
        "task": task,
        "weights": "safetensors" if weights == "safetensors" else "pytorch_model.bin (weights_only)",
    }
    if missing:
        # e.g. a base checkpoint whose classification head is freshly initialised: usable for
        # fine-tuning, not for evaluation; the caller decides.
        extra["missing_keys"] = missing
    info = ModelInfo(
        source=str(src),
        architecture=_architecture(raw, config),
        n_params=count_parameters(module),
        class_names=_class_names(raw, config),
        modality="image" if task == IMAGE_TASK else "text",
        input_shape=None,
        extra=extra,
    )
    if prep is not None:
        info.extra["image_size"] = list(prep["size"])
        return HFImageClassifier(module, info, **prep)
    max_length = _max_length(tokenizer, config)
    _ensure_pad_token(tokenizer, module, src)
    info.extra["max_length"] = max_length
    return HFTextClassifier(module, info, tokenizer=tokenizer, max_length=max_length)


def describe_hf_model(
    src: Source,
    root: Path,
    *,
    offline: bool | None = None,
    cache_dir: str | Path | None = None,
) -> ModelInfo:
    """What a picker shows, read from config.json (and safetensors headers); no weights are loaded.

    ``n_params`` is the sum of tensor sizes in the safetensors headers (local, cached, or read from
    the hub's metadata when online), or -1 when unknown.
    """
    folder, revision = resolve_folder(src, root, offline=offline, cache_dir=cache_dir, weights=False, code=False)
    raw = _read_config(folder, src)
    task = _detect_task(raw, folder, src)
    n_params = safetensors_param_count(folder)
    if n_params < 0 and not (src.scheme == "file" or src.is_local_path) and not is_offline(offline):
        n_params = hub_param_count(src.value, revision or src.revision)
    extra: dict[str, Any] = {"revision": revision, "path": str(folder), "task": task}
    if _remote_code_maps(raw, folder):
        extra["needs_remote_code"] = True
    return ModelInfo(
        source=str(src),
        architecture=_architecture(raw, None),
        n_params=n_params,
        class_names=_class_names(raw, None),
        modality="image" if task == IMAGE_TASK else "text",
        input_shape=None,
        extra=extra,
    )


def inspect_hf_model(
    src: Source,
    root: Path,
    *,
    trust_remote_code: bool = False,
    offline: bool | None = None,
    cache_dir: str | Path | None = None,
) -> ModelInfo:
    """What validation can know about an HF model without loading it, raising what loading would raise.

    The folder (or hub cache entry) and its config.json, the task, remote code without trust, and the
    weights: present (for local folders, and hub models when offline), safetensors headers intact,
    small ``pytorch_model*.bin`` files free of pickled objects.
    """
    info = describe_hf_model(src, root, offline=offline, cache_dir=cache_dir)
    folder = Path(info.extra["path"])
    _refuse_remote_code(_read_config(folder, src), folder, src, trust_remote_code)
    local = src.scheme == "file" or src.is_local_path
    try:
        weights, files = find_weights(folder, src)
    except ModelError:
        if local:
            raise
        if not is_offline(offline):
            return info  # the weights download on first use
        raise SourceError(
            f"Model '{src}' has its config but not its weights in the local Hugging Face cache, and the hub cannot be "
            "reached; connect once to download it, or use a local folder."
        ) from None
    if weights == "safetensors":
        for path in files:
            check_safetensors(path, src)
    elif sum(p.stat().st_size for p in files) <= BIN_PROBE_BYTES:
        load_bin_state_dict(files, src)
    return info


# --------------------------------------------------------------------------------------------
# classifiers


class HFImageClassifier(Classifier):
    """Takes float (B, C, H, W) in [0, 1] on the device; adapts channels, size and normalisation in torch."""

    def __init__(
        self,
        module: "torch.nn.Module",
        info: ModelInfo,
        *,
        size: tuple[int, int],
        channels: int,
        mean: list[float] | None,
        std: list[float] | None,
    ):
        super().__init__(module, info)
        self.size = (int(size[0]), int(size[1]))
        self.channels = int(channels)
        self.mean = mean
        self.std = std

    def preprocess(self, batch: Any) -> "torch.Tensor":
        """Turn a [0, 1] image batch into the ``pixel_values`` the model expects (on the batch's device)."""
        import torch
        import torch.nn.functional as F

        x = batch if isinstance(batch, torch.Tensor) else torch.as_tensor(batch)
        if x.ndim == 3:  # (B, H, W): one channel
            x = x.unsqueeze(1)
        if x.ndim != 4:
            raise ModelError(
                f"Model '{self.info.source}' takes image batches shaped (B, C, H, W), got shape {tuple(x.shape)}."
            )
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        c = x.shape[1]
        if c != self.channels:
            if c == 1:
                x = x.repeat(1, self.channels, 1, 1)
            elif self.channels == 1 and c in (3, 4):
                w = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
                x = (x[:, :3] * w).sum(dim=1, keepdim=True)
            elif c == 4 and self.channels == 3:
                x = x[:, :3]
            else:
                raise ModelError(
                    f"Model '{self.info.source}' takes {self.channels}-channel images but got {c} channels."
                )
        if tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
            std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
            x = (x - mean) / std
        dtype = next((p.dtype for p in self.module.parameters() if p.is_floating_point()), x.dtype)
        return x.to(dtype)

    def logits(self, batch: Any) -> "torch.Tensor":
        return self.module(pixel_values=self.preprocess(batch)).logits


class HFTextClassifier(Classifier):
    """Takes a list of strings; tokenises (padding, truncation) and moves the tensors to the device."""

    def __init__(self, module: "torch.nn.Module", info: ModelInfo, *, tokenizer: Any, max_length: int):
        super().__init__(module, info)
        self.tokenizer = tokenizer
        self.max_length = int(max_length)

    def encode(self, batch: Any) -> dict[str, "torch.Tensor"]:
        texts = [batch] if isinstance(batch, str) else [str(t) for t in batch]
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return {k: v.to(self.device) for k, v in enc.items()}

    def logits(self, batch: Any) -> "torch.Tensor":
        return self.module(**self.encode(batch)).logits


# --------------------------------------------------------------------------------------------
# locating the folder










# --------------------------------------------------------------------------------------------
# reading the folder


def _read_config(folder: Path, src: Source) -> dict:
    path = folder / CONFIG_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"Model '{src}' has an unreadable config.json at {path} ({first_line(exc)}).") from exc
    if not isinstance(raw, dict):
        raise ModelError(f"Model '{src}' has a config.json at {path} that is not a JSON object.")
    return raw


def _remote_code_maps(raw: dict, folder: Path) -> list[str]:
    """Names the config, tokenizer or processor map to custom classes (``auto_map``)."""
    names: list[str] = []
    sources = [raw]
    for extra_file in ("tokenizer_config.json", *PROCESSOR_FILES):
        p = folder / extra_file
        if p.is_file():
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            if isinstance(data, dict):
                sources.append(data)
    for data in sources:
        auto_map = data.get("auto_map")
        if isinstance(auto_map, dict):
            names.extend(k for k in auto_map if k not in names)
        elif auto_map:
            names.append(str(auto_map))
    return names


def _refuse_remote_code(raw: dict, folder: Path, src: Source, trust_remote_code: bool) -> None:
    mapped = _remote_code_maps(raw, folder)
    if mapped and not trust_remote_code:
        names = ", ".join(sorted(mapped))
        raise ModelError(
            f"Model '{src}' needs its own Python code to load (its files map {names} to custom classes); "
            "enable \"trust remote code\" for this source only if you trust its author."
        )


def _detect_task(raw: dict, folder: Path, src: Source) -> str:
    archs = [a for a in (raw.get("architectures") or []) if isinstance(a, str)]
    for arch in archs:
        if arch.endswith(_IMAGE_SUFFIXES):
            return IMAGE_TASK
        if arch.endswith(_TEXT_SUFFIXES):
            return TEXT_TASK
    if archs:
        raise ModelError(
            f"Model '{src}' is a {archs[0]}, not a classifier; Juxta loads image-classification "
            "(...ForImageClassification) and text-classification (...ForSequenceClassification) models."
        )
    model_type = raw.get("model_type")
    has_processor = any((folder / f).is_file() for f in PROCESSOR_FILES)
    has_tokenizer = any((folder / f).is_file() for f in TOKENIZER_FILES)
    image_types, text_types = _task_model_types()
    if has_processor and model_type in image_types:
        return IMAGE_TASK
    if has_tokenizer and model_type in text_types:
        return TEXT_TASK
    raise ModelError(
        f"Model '{src}' does not say which task it does (its config lists no architectures and model type "
        f"'{model_type}' with {'an image processor' if has_processor else 'a tokenizer' if has_tokenizer else 'no processor'}); "
        "Juxta loads image- and text-classification models."
    )


def _task_model_types() -> tuple[set, set]:
    try:
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES,
            MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
        )
    except Exception:  # noqa: BLE001
        return set(), set()
    return set(MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES), set(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES)


def _architecture(raw: dict, config: Any) -> str:
    archs = raw.get("architectures") or (getattr(config, "architectures", None) if config is not None else None)
    if archs:
        return str(archs[0])
    return str(raw.get("model_type") or getattr(config, "model_type", "") or "unknown")


def _class_names(raw: dict, config: Any) -> list[str]:
    id2label = raw.get("id2label")
    if config is not None and getattr(config, "id2label", None):
        id2label = config.id2label
    if isinstance(id2label, dict) and id2label:
        try:
            items = sorted(((int(k), str(v)) for k, v in id2label.items()), key=lambda kv: kv[0])
        except (TypeError, ValueError):
            items = list(enumerate(map(str, id2label.values())))
        return [name for _, name in items]
    n = raw.get("num_labels") or (getattr(config, "num_labels", None) if config is not None else None) or 2
    return [f"LABEL_{i}" for i in range(int(n))]












def _model_class(task: str, raw: dict, config: Any, folder: Path, src: Source, trust_remote_code: bool) -> Any:
    import transformers

    auto_name = _AUTO_CLASS[task]
    auto_map = raw.get("auto_map") or {}
    if trust_remote_code and isinstance(auto_map, dict) and auto_name in auto_map:
        from transformers.dynamic_module_utils import get_class_from_dynamic_module

        ref = auto_map[auto_name]
        ref = ref[0] if isinstance(ref, (list, tuple)) else ref
        try:
            return get_class_from_dynamic_module(ref, str(folder), local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"Model '{src}' custom code could not be loaded ({first_line(exc)}).") from exc
    suffixes = _IMAGE_SUFFIXES if task == IMAGE_TASK else _TEXT_SUFFIXES
    for arch in raw.get("architectures") or []:
        if isinstance(arch, str) and arch.endswith(suffixes):
            cls = getattr(transformers, arch, None)
            if cls is not None:
                return cls
    auto = getattr(transformers, auto_name)
    try:
        return auto._model_mapping[type(config)]
    except Exception as exc:  # noqa: BLE001 - KeyError and lazy-import failures alike
        raise ModelError(
            f"Model '{src}' has model type '{getattr(config, 'model_type', '?')}', which the installed transformers "
            f"({transformers.__version__}) cannot load for {task}."
        ) from exc


# --------------------------------------------------------------------------------------------
# preprocessing


def _image_preprocessing(folder: Path, config: Any, src: Source, trust_remote_code: bool) -> dict:
    proc_cfg: dict | None = None
    try:
        from transformers import AutoImageProcessor

        kw = {"trust_remote_code": bool(trust_remote_code)}
        proc = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True, **kw)
        proc_cfg = proc.to_dict()
    except Exception:  # noqa: BLE001 - fall back to the JSON the processor would have read
        for name in PROCESSOR_FILES:
            p = folder / name
            if p.is_file():
                try:
                    data = json.loads(p.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                proc_cfg = data.get("image_processor", data) if isinstance(data, dict) else None
                break
    if not proc_cfg:
        raise ModelError(
            f"Model '{src}' has no image processor settings (preprocessor_config.json), "
            "so Juxta cannot tell how to resize and normalise images for it."
        )
    size = _target_size(proc_cfg, config)
    if size is None:
        raise ModelError(f"Model '{src}' does not say which image size it takes (no size in its processor or config).")
    channels = int(getattr(config, "num_channels", 3) or 3)
    mean = std = None
    if proc_cfg.get("do_normalize", True) and proc_cfg.get("image_mean") is not None:
        mean = _as_list(proc_cfg.get("image_mean"), channels)
        std = _as_list(proc_cfg.get("image_std", 1.0), channels)
    return {"size": size, "channels": channels, "mean": mean, "std": std}


def _as_list(v: Any, channels: int) -> list[float]:
    if isinstance(v, (int, float)):
        return [float(v)] * channels
    out = [float(x) for x in v]
    return out if len(out) == channels or len(out) != 1 else out * channels


def _size_from(v: Any) -> tuple[int, int] | None:
    if v is None:
        return None
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return (int(v[0]), int(v[1]))
    if isinstance(v, dict):
        if v.get("height") and v.get("width"):
            return (int(v["height"]), int(v["width"]))
        if v.get("shortest_edge"):
            return (int(v["shortest_edge"]),) * 2
        if v.get("longest_edge"):
            return (int(v["longest_edge"]),) * 2
    return None


def _target_size(proc_cfg: dict, config: Any) -> tuple[int, int] | None:
    if proc_cfg.get("do_center_crop") and proc_cfg.get("crop_size"):
        got = _size_from(proc_cfg["crop_size"])
        if got:
            return got
    if proc_cfg.get("do_resize", True):
        got = _size_from(proc_cfg.get("size"))
        if got:
            return got
    return _size_from(getattr(config, "image_size", None))


def _load_tokenizer(folder: Path, src: Source, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    kw = {"trust_remote_code": bool(trust_remote_code)}
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, **kw)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"Model '{src}' has no usable tokenizer in {folder} ({first_line(exc)}).") from exc


def _max_length(tokenizer: Any, config: Any) -> int:
    limits = [512]
    mml = getattr(tokenizer, "model_max_length", None)
    if isinstance(mml, int) and 0 < mml:
        limits.append(mml)
    mpe = getattr(config, "max_position_embeddings", None)
    if isinstance(mpe, int) and 0 < mpe:
        limits.append(mpe)
    return min(limits)


def _ensure_pad_token(tokenizer: Any, module: Any, src: Source) -> None:
    if getattr(tokenizer, "pad_token", None) is None:
        if getattr(tokenizer, "eos_token", None) is None:
            raise ModelError(f"Model '{src}' has a tokenizer with neither a padding nor an end-of-text token.")
        tokenizer.pad_token = tokenizer.eos_token
    cfg = getattr(module, "config", None)
    if cfg is not None and getattr(cfg, "pad_token_id", None) is None:
        cfg.pad_token_id = tokenizer.pad_token_id


# --------------------------------------------------------------------------------------------
# parameter counts without weights








