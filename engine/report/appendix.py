"""The report's reproducibility appendix: study files, models, data, packages, devices, runs and compute."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.core import queries as Q
from engine.core.header import STUDY_SUFFIX
from engine.core.sources import outside_path
from engine.report.schema import Appendix, StudySection

# ---------------------------------------------------------------------------------------------
# appendix


def _juxta_version() -> str:
    try:
        return metadata.version("juxta")
    except metadata.PackageNotFoundError:
        return "unknown"


def _report_packages() -> dict[str, str]:
    out = {}
    for name in ("juxta", "numpy", "scipy", "pandas", "duckdb", "PySide6-Essentials", "PySide6", "pyqtgraph", "reportlab", "Jinja2"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "PySide6-Essentials" in out and "PySide6" not in out:
        out["PySide6"] = out.pop("PySide6-Essentials")
    else:
        out.pop("PySide6-Essentials", None)
    return out


def build_appendix(store, project: Any, sections: list[StudySection], recorded: pd.DataFrame) -> Appendix:
    names = [s.name for s in sections]
    files = []
    for s in sections:
        rec = recorded[recorded.study == s.name].iloc[0]
        text = str(rec.spec_toml or "")
        filename = str(rec.path or f"{s.name}{STUDY_SUFFIX}")
        disk = Path(project.root) / filename
        changed = False
        if disk.is_file():
            try:
                changed = disk.read_text(encoding="utf-8") != text
            except (OSError, UnicodeDecodeError):
                changed = True
        files.append({"name": s.name, "filename": Path(filename).name, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                      "text": text, "changed_on_disk": changed})

    runs = store.query(
        """SELECT run_id, study, started, finished, status, backend, workers, devices, versions, planned, skipped, done, failed
           FROM runs WHERE study IN ? ORDER BY started""", [names])
    run_rows = []
    packages: dict[str, str] = {}
    juxta_version = "unknown"
    for r in runs.itertuples():
        dur = (r.finished - r.started).total_seconds() if pd.notna(r.finished) and pd.notna(r.started) else None
        run_rows.append({
            "study": r.study, "run_id": r.run_id, "started": _ts(r.started), "finished": _ts(r.finished),
            "duration_s": dur, "status": r.status, "backend": r.backend, "workers": _int(r.workers),
            "devices": r.devices or "", "computed": _int(r.done), "skipped": _int(r.skipped), "failed": _int(r.failed),
        })
        try:
            v = json.loads(r.versions) if isinstance(r.versions, str) else {}
        except ValueError:
            v = {}
        if isinstance(v, dict):
            packages.update({str(k): str(val) for k, val in v.items()})
            juxta_version = str(v.get("juxta", juxta_version))

    cells = Q.finished_cells(store, names)
    devices = sorted({str(d) for d in cells.device.dropna().unique()})
    compute = []
    for (study, cell_type), g in cells.groupby(["study", "type"], sort=True):
        compute.append({"study": study, "type": cell_type, "cells": int(len(g)), "total_s": float(g.duration_s.sum()),
                        "mean_s": float(g.duration_s.mean())})

    # what the models and data were: each kind says for its own cells; artifacts are anyone's
    models: dict[tuple[str, str, int], dict[str, Any]] = {}
    for s in sections:
        for row in s.models:
            models.setdefault((row["study"], row["arm"], int(row["seed"])),
                              {**row, "artifact": "", "sha256": "", "bytes": None})
    data = {(row["study"], str(row["source"]), str(row.get("fingerprint", ""))): row for s in sections for row in s.data}
    arts = Q.artifacts(store, names)
    for a in arts.itertuples():
        key = (a.study, a.arm, int(a.seed))
        entry = models.setdefault(key, {"study": a.study, "arm": a.arm, "seed": int(a.seed), "source": "", "identity": "",
                                        "artifact": "", "sha256": "", "bytes": None})
        entry.update({"artifact": str(a.path or a.name), "sha256": str(a.sha256 or ""), "bytes": _int(a.bytes)})
    n_params = {}
    for s in sections:
        for arm in s.compared:
            n_params[(s.name, arm.id)] = arm.n_params
    model_rows = sorted(models.values(), key=lambda d: (d["study"], d["arm"], d["seed"]))
    for mrow in model_rows:
        mrow["n_params"] = n_params.get((mrow["study"], mrow["arm"]))
    data_rows = sorted((dict(d) for d in data.values()), key=lambda d: (d["study"], d["source"]))
    _mark_outside(model_rows, Path(project.root), "model")
    _mark_outside(data_rows, Path(project.root), "data")

    return Appendix(
        study_files=files, models=model_rows, data=data_rows,
        packages=dict(sorted(packages.items())), report_packages=_report_packages(), devices=devices,
        seeds={s.name: s.seeds for s in sections}, runs=run_rows, compute=compute, juxta_version=juxta_version,
        report_juxta_version=_juxta_version(), generated=datetime.now().astimezone().isoformat(timespec="seconds"),
    )


def _mark_outside(rows: list[dict[str, Any]], root: Path, kind: str) -> None:
    """Flag rows whose source reads files outside the project, in the shown source too, so a reader of a
    shared project knows its folder alone does not hold everything the results came from."""
    for row in rows:
        row["outside_project"] = bool(row.get("source")) and outside_path(str(row["source"]), root, kind=kind) is not None
        if row["outside_project"]:
            row["source"] = f"{row['source']} (reads outside the project)"


def _ts(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v):
        return ""
    return pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S UTC")


def _int(v: Any) -> int | None:
    try:
        return None if v is None or pd.isna(v) else int(v)
    except (TypeError, ValueError):
        return None
