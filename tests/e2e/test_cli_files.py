"""Files the system refuses are the user's problem, said plainly with exit 2, never "Internal error" (issue 8 item 28).

Running as root, chmod cannot make a file unreadable or a folder read-only, so most tests make the
operating system's refusal happen another way: a path under a regular file, or the one call that
touches the file raising the PermissionError the OS would raise. The chmod tests run where they can.
"""

from __future__ import annotations

import os
import pathlib
import stat
import tempfile

import numpy as np
import pytest
from PIL import Image

from app.cli import EXIT_USER, main
from tests.conftest import write_study

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def squashed(text: str) -> str:
    """Console text with all whitespace removed: rich wraps long paths anywhere, even inside a name."""
    return "".join(text.split())


def said(expected: str, text: str) -> bool:
    return squashed(expected) in squashed(text)


def refuse(monkeypatch, module, name: str, match: str) -> None:
    """Make ``module.name(path, …)`` raise the PermissionError the OS gives when ``match`` is in the path."""
    real = getattr(module, name)

    def guarded(*args, **kwargs):
        where = str(kwargs.get("dir") or (args[0] if args else ""))
        if match in where:
            raise PermissionError(13, "Permission denied", where)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, guarded)


@pytest.fixture
def project(project_dir):
    write_study(project_dir)
    return project_dir


def test_export_to_a_read_only_project_says_cannot_write(project, monkeypatch, capsys):
    real = tempfile.NamedTemporaryFile

    def read_only(*args, dir=None, **kwargs):  # the probe file is the first thing written
        if dir is not None and str(dir).startswith(str(project)):
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    assert main(["export", str(project)]) == EXIT_USER
    err = capsys.readouterr().err
    assert said(f"Cannot write to {project / 'exports'}: permission denied.", err) and "Internal error" not in err
    assert not (project / "exports").exists()


def test_report_to_a_read_only_project_says_cannot_write(project, monkeypatch, capsys):
    real = tempfile.NamedTemporaryFile

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(project)):
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    assert main(["report", str(project), "--format", "html", "--out", "out/r.html"]) == EXIT_USER
    err = capsys.readouterr().err
    assert said(f"Cannot write to {project / 'out'}: permission denied.", err) and "Internal error" not in err


def test_export_under_a_regular_file_says_cannot_write(project, capsys):
    (project / "exports").write_text("a file, not a folder")
    assert main(["export", str(project), "--out", str(project / "exports" / "csv")]) == EXIT_USER
    assert said(f"Cannot write to {project / 'exports' / 'csv'}: not a directory.", capsys.readouterr().err)


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only folders; the simulated tests above cover this path")
def test_export_into_a_chmod_read_only_project(project, capsys):
    project.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert main(["export", str(project)]) == EXIT_USER
    finally:
        project.chmod(stat.S_IRWXU)
    assert said("permission denied", capsys.readouterr().err)


def test_an_unreadable_model_file_is_named_at_validation(project, monkeypatch, capsys):
    (project / "m.safetensors").write_bytes(b"\0" * 16)
    path = project / "mini.study.toml"
    path.write_text(path.read_text().replace("[data]", '[[models]]\nid = "m"\nsource = "file:m.safetensors"\n[data]'))
    refuse(monkeypatch, pathlib.Path, "open", "m.safetensors")
    assert main(["validate", str(path)]) == EXIT_USER
    err = capsys.readouterr().err
    assert said(f"models[2].source: cannot read 'm.safetensors' ({project / 'm.safetensors'}): permission denied.", err)


def test_an_unreadable_study_file_is_named(project, monkeypatch, capsys):
    refuse(monkeypatch, pathlib.Path, "read_text", "mini.study.toml")
    assert main(["validate", str(project / "mini.study.toml")]) == EXIT_USER
    assert said("mini.study.toml: cannot be read: permission denied", capsys.readouterr().err)


@pytest.mark.skipif(AS_ROOT, reason="root reads files whatever their mode; the simulated test above covers this path")
def test_a_chmod_unreadable_data_file_is_named(project, capsys):
    (project / "t.csv").write_text("a,label\n1,x\n2,y\n")
    (project / "t.csv").chmod(0)
    path = project / "mini.study.toml"
    path.write_text(path.read_text().replace('source = "builtin:digits"', 'source = "csv:t.csv"').replace("corruptions", "tabular")
                    .replace('"gaussian_noise"', '"feature_noise"'))
    assert main(["validate", str(path)]) == EXIT_USER
    assert said("cannot read 't.csv'", capsys.readouterr().err)


def test_an_image_over_the_decompression_bomb_limit_is_named(project, monkeypatch, capsys):
    for cls in ("0", "1"):
        (project / "imgs" / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(project / "imgs" / cls / "a.png")
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(project / "imgs" / "1" / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    path = project / "mini.study.toml"
    path.write_text(path.read_text().replace('source = "builtin:digits"', 'source = "folder:imgs"\ngrayscale = true'))
    assert main(["validate", str(path)]) == EXIT_USER
    err = capsys.readouterr().err
    assert said(f"the image {project / 'imgs' / '1' / 'huge.png'} is too large (1,600 pixels)", err) and "Internal error" not in err
