"""Screenshots of the new-study wizard and the study page, with providers backed by the real engine.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/shot_wizard.py [--out docs/screenshots] [--wizard-only]

Writes wizard-<page>.png (light theme) and wizard-<page>-dark.png (dark theme) for each wizard page at
the wizard's default size, then study-page.png and study-file.png (the demo study
``projects/digits-demo/robustness.study.toml``) unless ``--wizard-only``. ``real_providers`` below is also a reference for
the app's ``StudyProviders`` (what each callable returns); it imports the engine freely, torch
included, which views may not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.data.base import DataOptions  # noqa: E402
from engine.data.loaders import BUILTIN_DATASETS, load_data  # noqa: E402
from engine.core.errors import JuxtaError, ModelError, SourceError, StudyFileError  # noqa: E402
from engine.models.recipes import ARCHITECTURES, parse_builtin  # noqa: E402
from engine.core.sources import parse_source  # noqa: E402
from engine.kinds import get_kind, parse_study_text  # noqa: E402
from views.providers import DatasetPreview, ModelChoice, StudyProviders  # noqa: E402

DEMO = ROOT / "projects" / "digits-demo"
SIZE = (1100, 750)  # the wizard's default size (StudyWizard resizes itself to it)


def _options(options: dict) -> DataOptions:
    known = {f.name for f in fields(DataOptions)}
    kw = {k: v for k, v in options.items() if k in known}
    if kw.get("feature_columns") is not None:
        kw["feature_columns"] = tuple(kw["feature_columns"])
    return DataOptions(**kw)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> uint8 HxW (grey) or HxWx3."""
    a = np.clip(np.asarray(x, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return a[0] if a.shape[0] == 1 else np.transpose(a[:3], (1, 2, 0))


def real_providers(root: Path) -> StudyProviders:
    root = Path(root)

    @lru_cache(maxsize=8)
    def _load(source: str, opts: DataOptions):
        return load_data(source, root, opts)

    @lru_cache(maxsize=None)
    def _builtin_params(source: str) -> int | None:
        data_name, arch = parse_builtin(source.partition(":")[2])
        if data_name is None:
            return None
        import torch

        from engine.models.base import count_parameters
        from engine.models.builtin import build

        data = _load(f"builtin:{data_name}", DataOptions())
        shape = data.input_shape
        feat = int(np.prod(shape))
        module = build(arch, shape, data.num_classes, torch.zeros(feat), torch.ones(feat))
        return count_parameters(module)

    def builtin_models() -> list[ModelChoice]:
        out = []
        for data_name, archs in (("digits", ("cnn", "mlp", "vit")), ("wine", ("mlp",)), ("breast-cancer", ("mlp",))):
            for arch in archs:
                source = f"builtin:{data_name}-{arch}"
                label = f"{arch.upper() if arch != 'vit' else 'ViT'} trained on {data_name}"
                out.append(ModelChoice(source, label, ARCHITECTURES[arch][1], _builtin_params(source)))
        for arch in ("cnn", "mlp", "vit", "bow"):
            label = f"{arch.upper() if arch not in ('vit', 'bow') else ('ViT' if arch == 'vit' else 'Bag of words')}" \
                    " trained on the study's own data"
            out.append(ModelChoice(f"builtin:{arch}", label, ARCHITECTURES[arch][1], None))
        return out

    def builtin_datasets() -> list[ModelChoice]:
        return [ModelChoice(f"builtin:{k}", k.replace("-", " ").capitalize(), v) for k, v in BUILTIN_DATASETS.items()]

    def describe_model(source: str) -> dict:
        src = parse_source(source, kind="model")
        if src.scheme == "builtin":
            data_name, arch = parse_builtin(src.value)
            classes = _load(f"builtin:{data_name}", DataOptions()).class_names if data_name else []
            return {"architecture": ARCHITECTURES[arch][1], "n_params": _builtin_params(source) or -1,
                    "class_names": classes, "modality": ARCHITECTURES[arch][0].split("|")[0]}
        if src.scheme == "file":
            path = src.path(root)
            if not path.exists():
                raise SourceError(f"Model '{source}' not found: {path} does not exist.")
            if path.is_dir():
                from engine.models.hf import describe_hf_model

                info = describe_hf_model(src, root)
            elif path.suffix.lower() == ".safetensors":
                from engine.models.loaders import describe_file

                info = describe_file(path, source)
            else:
                raise ModelError(f"{path.name} is not a .safetensors file or a model folder.")
        elif src.scheme == "hf":
            from engine.models.hf import describe_hf_model

            info = describe_hf_model(src, root)
        else:
            raise SourceError(f"{source}: this kind of model is described when the study runs.")
        return {"architecture": info.architecture, "n_params": info.n_params, "class_names": list(info.class_names),
                "modality": info.modality}

    def preview_dataset(source: str, options: dict) -> DatasetPreview:
        data = _load(source, _options(options))
        counts = np.bincount(data.y, minlength=data.num_classes)
        rng = np.random.default_rng(0)
        picks: list[int] = []
        for c in range(data.num_classes):  # one of each class first, then random rows
            rows = np.flatnonzero(data.y == c)
            if len(rows) and len(picks) < 12:
                picks.append(int(rows[0]))
        rest = [int(i) for i in rng.permutation(len(data)) if int(i) not in picks]
        picks = (picks + rest)[:12]
        samples = []
        for i in picks:
            label = data.class_names[int(data.y[i])]
            if data.modality == "image":
                samples.append((_to_uint8(data.x[i]), label))
            elif data.modality == "text":
                samples.append((data.x[i], label))
            else:
                names = data.feature_names or [f"f{j}" for j in range(data.x.shape[1])]
                samples.append(({n: float(v) for n, v in zip(names[:8], data.x[i][:8])}, label))
        return DatasetPreview(source, data.modality, len(data), list(data.class_names), [int(c) for c in counts], samples,
                              has_groups=data.groups is not None)

    def corruption_gallery(source: str, options: dict, names: list[str], severities: list[int]) -> dict:
        import torch

        from engine.conditions.corruptions import corrupt

        data = _load(source, _options(options))
        if data.modality != "image":
            raise JuxtaError(f"{source} holds {data.modality} data; the corruption gallery needs images.")
        row = int(np.flatnonzero(data.y == min(7, data.num_classes - 1))[0])  # a digit that shows blur and rotation well
        x = torch.from_numpy(np.asarray(data.x[row : row + 1], dtype=np.float32))
        index = torch.tensor([int(data.index[row])])
        out = {}
        for name in names:
            pictures = [_to_uint8(x[0].numpy())]
            for s in severities:
                pictures.append(_to_uint8(corrupt(x, name, int(s), 0, index)[0].numpy()))
            out[name] = pictures
        return out

    def validate(text: str) -> list[str]:
        try:
            study = parse_study_text(text, "study")
            get_kind(study.kind).check_files(study, root, "study", text)
        except StudyFileError as exc:
            return list(exc.problems)
        return []

    return StudyProviders(builtin_models, builtin_datasets, describe_model, preview_dataset, corruption_gallery,
                          validate, lambda: str(root))


def _spin(app, seconds: float = 0.2, until=None, timeout: float = 60.0) -> None:
    end = time.monotonic() + (timeout if until else seconds)
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            break
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()


def shoot_wizard(app, providers: StudyProviders, out: Path, suffix: str) -> None:
    """Walk the wizard through a typical study, grabbing each page as wizard-<page><suffix>.png."""
    from views.kinds.shift.wizard.study_wizard import StudyWizard

    wiz = StudyWizard(providers, existing_names=["robustness"])
    wiz.resize(*SIZE)
    wiz.show()
    _spin(app, until=lambda: wiz.data_page.preview is not None)

    def shot(name: str) -> None:
        _spin(app, 0.3)
        path = out / f"wizard-{name}{suffix}.png"
        wiz.grab().save(str(path))
        print("wrote", path)

    n = wiz.name_page
    n.name_edit.setText("noisy-scans")
    n.title_edit.setText("Which digits model survives noisy scans?")
    n.description_edit.setPlainText("Three small models trained on handwritten digits, tested on the held-out part "
                                    "under scanner noise, blur and rotation, and under changing class mixes.")
    shot("name")

    wiz.next()
    m = wiz.models_page
    for source in ("builtin:digits-cnn", "builtin:digits-mlp", "builtin:digits-vit"):
        m.check_builtin(source)
    m.hf_edit.setText("google/vit-base-patch16-224")
    m._on_hf_add()  # offline and not cached here: shows the hub's message inline
    _spin(app, until=lambda: not m._pending, timeout=30)
    m.table.clearSelection()
    shot("models")

    wiz.next()
    _spin(app, until=lambda: wiz.data_page.preview is not None)
    shot("data")

    wiz.next()
    c = wiz.conditions_page
    _spin(app, until=lambda: c.gallery.image_count() >= 6 * len(c.gallery.images), timeout=120)
    c.set_corruptions(["gaussian_noise", "shot_noise", "impulse_noise", "gaussian_blur", "motion_blur", "rotate"])
    c.label_box.setChecked(True)
    c.set_alpha(1.0)
    c.add_alpha()
    c.set_alpha(0.3)
    c.add_alpha()
    shot("conditions")

    wiz.next()
    shot("seeds")
    wiz.next()
    shot("review")
    wiz.close()
    wiz.deleteLater()
    _spin(app, 0.1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--wizard-only", action="store_true", help="only the wizard pages, not the study page")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from app import theme
    from views.study_page import StudyPage

    app = QApplication.instance() or QApplication([])
    providers = real_providers(DEMO)
    for name, suffix in (("light", ""), ("dark", "-dark")):
        theme.apply(app, name)
        shoot_wizard(app, providers, out, suffix)
    theme.apply(app, "light")
    if args.wizard_only:
        return 0

    page = StudyPage(providers)
    page.resize(*SIZE)
    text = (DEMO / "robustness.study.toml").read_text(encoding="utf-8")
    page.set_study("robustness", text)
    page.show()
    _spin(app, 0.3)
    page.grab().save(str(out / "study-page.png"))
    print("wrote", out / "study-page.png")
    page.set_text_mode(True)
    _spin(app, 0.3)
    page.grab().save(str(out / "study-file.png"))
    print("wrote", out / "study-file.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
