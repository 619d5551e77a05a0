"""The `juxta` command line end to end, including a reduced copy of the shipped demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from app.cli import EXIT_FAILED_CELLS, EXIT_OK, EXIT_USER, main
from tests.conftest import write_study

ROOT = Path(__file__).resolve().parents[2]


def juxta(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=600, env=env)


def flat(text: str) -> str:
    """Console output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def reduced_demo(tmp_path_factory) -> Path:
    """The demo study with one seed, two severities, fewer corruptions and shorter training."""
    root = tmp_path_factory.mktemp("demo")
    doc = tomlkit.parse((ROOT / "projects/digits-demo/robustness.study.toml").read_text())
    doc["study"]["seeds"] = [0]
    doc["shift"]["corruptions"] = doc["shift"]["corruptions"][:4]
    doc["shift"]["severities"] = [1, 5]
    doc["metrics"]["bootstrap"] = 200
    for m in doc["models"]:
        m["train"] = {"epochs": 2}
    (root / "robustness.study.toml").write_text(tomlkit.dumps(doc))
    return root


def test_reduced_demo_runs_resumes_and_reports(reduced_demo):
    first = juxta("run", str(reduced_demo))
    assert first.returncode == EXIT_OK, first.stdout + first.stderr
    assert "cells computed" in first.stdout
    again = juxta("run", str(reduced_demo))
    assert again.returncode == EXIT_OK and "up to date" in again.stdout
    res = juxta("results", str(reduced_demo), "robustness")
    assert res.returncode == EXIT_OK, res.stderr
    for token in ("clean", "gaussian_noise", "dirichlet/0.3", "mlp", "cnn", "vit", "95% CI", "effective robustness"):
        assert token in res.stdout, token
    full = juxta("results", str(reduced_demo), "robustness", "--full", "--metric", "ece")
    assert "gaussian_noise/5" in full.stdout
    cmp = juxta("results", str(reduced_demo), "robustness", "--compare", "cnn", "mlp")
    assert "McNemar" in cmp.stdout and ("within noise" in cmp.stdout or "beyond noise" in cmp.stdout)
    status = juxta("status", str(reduced_demo))
    assert "robustness" in status.stdout and status.returncode == EXIT_OK


def test_export_writes_csv_and_parquet(reduced_demo):
    import duckdb

    juxta("run", str(reduced_demo))
    for fmt in ("csv", "parquet"):
        out = juxta("export", str(reduced_demo), "--format", fmt, "--study", "robustness")
        assert out.returncode == EXIT_OK, out.stderr
        path = reduced_demo / "exports" / f"predictions.{fmt}"
        n = duckdb.sql(f"SELECT count(*) FROM '{path}'").fetchall()[0][0]
        assert n > 0
    outside = juxta("export", str(reduced_demo), "--out", "/tmp/elsewhere-juxta")
    assert outside.returncode == EXIT_USER and "outside the project" in outside.stderr


def test_validate_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.study.toml"
    bad.write_text('schema_version = 1\n[study]\nname = "bad"\n[[models]]\nid = "m"\nsource = "ftp:x"\n[data]\nsource = "builtin:digits"\n')
    out = juxta("validate", str(bad))
    assert out.returncode == EXIT_USER
    assert "Unknown model source scheme 'ftp'" in out.stderr and "Traceback" not in out.stderr
    ok = write_study(tmp_path, name="good")
    out = juxta("validate", str(ok))
    assert out.returncode == EXIT_OK and "valid" in out.stdout


def test_malformed_toml_and_missing_project(tmp_path, capsys):
    (tmp_path / "m.study.toml").write_text("schema_version = 1\n[study\n")
    assert main(["validate", str(tmp_path / "m.study.toml")]) == EXIT_USER
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nowhere")]) == EXIT_USER
    assert main(["results", str(tmp_path), "ghost"]) == EXIT_USER


def test_failed_cells_give_exit_code_1(project_dir, capsys):
    (project_dir / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    write_study(project_dir)
    text = (project_dir / "mini.study.toml").read_text().replace(
        "[data]", '[[models]]\nid = "pickled"\nsource = "file:model.pkl"\n[data]')
    (project_dir / "mini.study.toml").write_text(text)
    assert main(["run", str(project_dir), "--quiet"]) == EXIT_FAILED_CELLS
    out = capsys.readouterr().out
    assert "failed" in out and "pickle" in out
    failed = [line for line in out.splitlines() if "pickled ·" in line]
    assert len(failed) == 4 and len(set(failed)) == 4  # each failed cell once (clean, two noises, dirichlet)


def test_validate_prints_warnings_apart_from_errors(tmp_path, capsys):
    (tmp_path / "one.csv").write_text("a,b,label\n1,2,cat\n")
    (tmp_path / "one.study.toml").write_text('schema_version = 1\n[study]\nname = "one"\n[[models]]\nid = "mlp"\n'
                                             'source = "builtin:mlp"\n[data]\nsource = "csv:one.csv"\nsplit = "all"\n')
    assert main(["validate", str(tmp_path / "one.study.toml")]) == EXIT_OK
    out = capsys.readouterr()
    text = flat(out.out)
    assert "valid" in text and "all split 1 example (" in text
    assert "warning:" in text and "only one class ('cat')" in text and out.err == ""


def test_validate_catches_a_model_whose_cells_would_all_fail(project_dir, capsys):
    (project_dir / "broken.safetensors").write_bytes(b"not a model at all")
    write_study(project_dir)
    path = project_dir / "mini.study.toml"
    path.write_text(path.read_text().replace("[data]", '[[models]]\nid = "broken"\nsource = "file:broken.safetensors"\n[data]'))
    assert main(["validate", str(path)]) == EXIT_USER
    out = capsys.readouterr()
    assert "valid —" not in out.out
    err = flat(out.err)
    assert "models[2].source: model 'broken' (file:broken.safetensors)" in err and "not a valid safetensors file" in err
    assert "Traceback" not in err


def test_export_out_is_inside_the_project_and_an_unknown_study_is_named(reduced_demo, tmp_path, capsys):
    juxta("run", str(reduced_demo))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    out = juxta("export", str(reduced_demo), "--out", "myexport", "--study", "robustness", cwd=elsewhere)
    assert out.returncode == EXIT_OK, out.stderr
    assert (reduced_demo / "myexport" / "cells.csv").is_file() and not (elsewhere / "myexport").exists()
    assert main(["export", str(reduced_demo), "--study", "nostudy", "--out", "nostudy-export"]) == EXIT_USER
    err = flat(capsys.readouterr().err)
    assert "has no study 'nostudy'; its studies are: robustness." in err
    assert not (reduced_demo / "nostudy-export").exists()
    (reduced_demo / "later.study.toml").write_text((reduced_demo / "robustness.study.toml").read_text()
                                                   .replace('name = "robustness"', 'name = "later"'))
    try:
        assert main(["export", str(reduced_demo), "--study", "later"]) == EXIT_USER
        assert "Study 'later' has no results yet; run it first" in flat(capsys.readouterr().err)
    finally:
        (reduced_demo / "later.study.toml").unlink()


def test_results_with_an_unknown_or_uncomputed_metric(reduced_demo, capsys):
    juxta("run", str(reduced_demo))
    assert main(["results", str(reduced_demo), "robustness", "--metric", "bogus"]) == EXIT_USER
    err = flat(capsys.readouterr().err)
    assert "Unknown metric 'bogus'; the metrics are: accuracy, macro_f1, nll, ece, brier, worst_group_accuracy" in err
    assert "run it first" not in err
    assert main(["results", str(reduced_demo), "robustness", "--metric", "brier"]) == EXIT_OK
    assert main(["results", str(reduced_demo), "robustness", "--metric", "worst_group_accuracy"]) == EXIT_USER
    assert "Study 'robustness' did not compute 'worst_group_accuracy'; it computed accuracy" in flat(capsys.readouterr().err)


def test_validate_a_folder_without_studies_says_so(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == EXIT_USER
    assert f"{tmp_path} has no study files (*.study.toml) to validate" in flat(capsys.readouterr().err)


def test_a_study_on_another_studys_models_validates_and_runs_after_it(tmp_path, capsys):
    from tests.engine.test_study_order import shift_on, tuned_study

    (tmp_path / "tuned.study.toml").write_text(tuned_study())
    (tmp_path / "after.study.toml").write_text(shift_on("after", "artifact:tuned/full"))
    assert main(["validate", str(tmp_path)]) == EXIT_OK
    out = flat(capsys.readouterr().out)
    assert "after.study.toml: valid — planned once tuned has run" in out
    assert main(["run", str(tmp_path), "after", "--quiet"]) == EXIT_OK
    captured = capsys.readouterr()
    assert "tuned runs first" in flat(captured.err)
    assert main(["run", str(tmp_path), "after", "--quiet"]) == EXIT_OK
    assert "runs first" not in flat(capsys.readouterr().err)  # its models are made now


def test_export_model_copies_a_made_model_in_the_forms_it_has(tmp_path, capsys):
    from safetensors import safe_open

    from tests.engine.test_study_order import tuned_study

    (tmp_path / "tuned.study.toml").write_text(tuned_study().replace('method = "full"', 'method = "lora"\nrank = [2]'))
    assert main(["export-model", str(tmp_path), "tuned/lora-r2"]) == EXIT_USER
    assert "run it first: juxta run" in flat(capsys.readouterr().err)
    assert main(["run", str(tmp_path), "--quiet"]) == EXIT_OK
    capsys.readouterr()
    assert not (tmp_path / "exports").exists()  # a refused export wrote nothing
    assert main(["export-model", str(tmp_path), "artifact:tuned/nope"]) == EXIT_USER
    assert "has no model 'tuned/nope'; the models this project has made:" in flat(capsys.readouterr().err)
    from engine import open_project

    (arm,) = {n.split("/")[1] for n in open_project(tmp_path).artifact_names() if n.startswith("tuned/lora")}
    assert main(["export-model", str(tmp_path), f"tuned/{arm}"]) == EXIT_OK
    file = tmp_path / "exports" / "models" / f"tuned-{arm}.safetensors"
    assert file.is_file() and "(safetensors)" in flat(capsys.readouterr().out)
    with safe_open(str(file), "pt") as f:
        assert len(list(f.keys())) > 0
    out = tmp_path / "elsewhere"
    assert main(["export-model", str(tmp_path), f"tuned/{arm}", str(out), "--format", "adapter"]) == EXIT_OK
    assert (out / f"tuned-{arm}-adapter" / "adapter_config.json").is_file()
    assert main(["export-model", str(tmp_path), f"tuned/{arm}", str(out), "--format", "adapter"]) == EXIT_USER
    assert "already exists" in flat(capsys.readouterr().err)
    assert main(["export-model", str(tmp_path), f"tuned/{arm}", "--format", "hf"]) == EXIT_USER
    err = flat(capsys.readouterr().err)
    assert "has no hf form" in err and "exported as safetensors or adapter" in err
