"""The ``juxta`` command line: run, status, results, export, report, validate, merge. Needs no display.

Exit codes: 0 success; 1 the run finished but some cells failed; 2 bad input (study file, source,
data); 3 an internal error; 130 interrupted (finished cells are kept, run again to resume).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

EXIT_OK, EXIT_FAILED_CELLS, EXIT_USER, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        from app.gui import launch

        return launch()
    from engine.core.errors import JuxtaError

    try:
        return args.func(args)
    except JuxtaError as exc:
        if args.debug:
            raise
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}")
        return EXIT_USER
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/] Finished cells are saved; run again to resume.")
        return EXIT_INTERRUPTED
    except OSError as exc:  # a file the user's system refuses (permissions, a full or read-only disk)
        if args.debug or not exc.filename:
            raise
        from engine.core.errors import os_reason

        err_console.print(f"[bold red]Error:[/] cannot use {escape(str(exc.filename))}: {escape(os_reason(exc))}.")
        return EXIT_USER
    except Exception as exc:  # a bug: say so plainly, show the traceback only with --debug
        if args.debug:
            raise
        err_console.print(f"[bold red]Internal error:[/] {type(exc).__name__}: {escape(str(exc))}\nRun again with --debug for details.")
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="juxta", description="Comparative model studies: shift, merging, fine-tuning. "
                                "With no command, opens the desktop app.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    o = sub.add_parser("open", help="open the desktop app (on a project folder, or the last one)")
    o.add_argument("project", nargs="?", help="project folder")
    o.set_defaults(func=lambda a: __import__("app.gui", fromlist=["launch"]).launch(a.project))

    r = sub.add_parser("run", help="compute the missing cells of a project's studies")
    r.add_argument("project", help="project folder (or a .study.toml file in it)")
    r.add_argument("studies", nargs="*", help="study names (default: all)")
    r.add_argument("--backend", choices=["loky", "dask", "sequential"], help="override [execution].backend")
    r.add_argument("--workers", type=int, help="override the number of workers")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("status", help="what is planned, done, failed and missing")
    s.add_argument("project")
    s.set_defaults(func=cmd_status)

    res = sub.add_parser("results", help="a study's results: a metric with 95%% intervals per arm and condition")
    res.add_argument("project")
    res.add_argument("study")
    res.add_argument("--metric", help="accuracy (default), macro_f1, nll, ece, brier, ...")
    res.add_argument("--full", action="store_true", help="one row per severity instead of one per corruption")
    res.add_argument("--compare", nargs=2, metavar=("ARM_A", "ARM_B"), help="paired comparison of two arms")
    res.add_argument("--condition", help="condition for --compare (default: the reference condition, clean)")
    res.add_argument("--drop", action="store_true", help="relative drop from clean instead of the metric itself")
    res.add_argument("--ood", action="store_true", help="how well each model's scores detect shifted inputs (AUROC, FPR95)")
    res.set_defaults(func=cmd_results)

    e = sub.add_parser("export", help="write the results tables as CSV or Parquet")
    e.add_argument("project")
    e.add_argument("--study", help="only this study")
    e.add_argument("--format", choices=["csv", "parquet"], default="csv")
    e.add_argument("--out", help="output folder inside the project (default: PROJECT/exports)")
    e.set_defaults(func=cmd_export)

    em = sub.add_parser("export-model", help="copy a model a study made (artifact:STUDY/ARM) as safetensors, a "
                        "Hugging Face folder or a PEFT adapter folder")
    em.add_argument("project", help="project folder")
    em.add_argument("model", help="the model: STUDY/ARM (or artifact:STUDY/ARM), e.g. adapt/lora-r8")
    em.add_argument("out", nargs="?", help="where to put it: a folder, or a .safetensors path "
                    "(default: PROJECT/exports/models)")
    em.add_argument("--format", choices=["safetensors", "hf", "adapter"],
                    help="default: the model as it was saved")
    em.set_defaults(func=cmd_export_model)

    rp = sub.add_parser("report", help="write a stakeholder report: a folder, a single HTML file or a PDF")
    rp.add_argument("project", help="project folder")
    rp.add_argument("--study", action="append", metavar="NAME", help="only this study (repeat for several; default: all with results)")
    rp.add_argument("--format", choices=["folder", "html", "pdf"], default="folder", help="what to write (default: folder)")
    rp.add_argument("--out", help="where: relative paths stay inside the project, absolute paths are used as given "
                    "(default: PROJECT/reports/<timestamp>-report[.html|.pdf])")
    rp.add_argument("--title", help="report title (default: the study's title)")
    rp.add_argument("--author", help="author shown on the title page")
    rp.add_argument("--introduction", help="a short introduction shown on the title page")
    rp.add_argument("--overwrite", action="store_true", help="replace an existing HTML or PDF file at --out")
    rp.set_defaults(func=cmd_report)

    mg = sub.add_parser("merge", help="merge models from a mergekit YAML into a Hugging Face folder")
    mg.add_argument("config", help="mergekit YAML (merge_method, base_model, models or slices, parameters, dtype)")
    mg.add_argument("out", help="output folder (config, sharded safetensors, the base's tokenizer)")
    mg.add_argument("--random-seed", type=int, default=0, help="seed for the random methods (DARE, DELLA); default 0")
    mg.add_argument("--conventions", choices=["mergekit", "paper"], default="mergekit",
                    help="mergekit's conventions (default) or the papers'/FusionBench's")
    mg.add_argument("--device", default="cpu", help="where to compute: cpu (default) or cuda")
    mg.add_argument("--out-shard-size", default="5B", help="bytes per output shard, with K/M/B suffixes (default 5B, as mergekit)")
    mg.add_argument("--submatrix-embeddings", action="store_true",
                    help="merge embeddings of different vocabulary sizes on their common submatrix (mergekit's rule)")
    mg.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    mg.add_argument("--quiet", action="store_true", help="no progress bar")
    mg.set_defaults(func=cmd_merge)

    v = sub.add_parser("validate", help="check a study file (schema, sources, data) without running it")
    v.add_argument("file", help="a .study.toml file, or a project folder to check all its studies")
    v.set_defaults(func=cmd_validate)
    return p


# -- run -----------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from engine import RunControl, open_project

    from engine.core.header import STUDY_SUFFIX

    project = open_project(args.project)
    names = args.studies or list(project.study_paths())
    if Path(args.project).name.endswith(STUDY_SUFFIX) and not args.studies:
        names = [Path(args.project).name[: -len(STUDY_SUFFIX)]]
    if not names:
        err_console.print(f"[bold red]Error:[/] {project.root} has no *.study.toml files.")
        return EXIT_USER
    order = project.run_order(names)  # studies whose models these start from, not made yet, run first
    for extra in (n for n in order if n not in names):
        err_console.print(f"[dim]{extra} runs first: a study asked for starts from the models it makes.[/]")
    names = order
    worst = EXIT_OK
    for name in names:
        control = RunControl()
        previous = signal.getsignal(signal.SIGINT)

        def on_sigint(signum, frame, control=control):
            if control.cancelled:  # second Ctrl+C: stop now
                raise KeyboardInterrupt
            err_console.print("[yellow]Cancelling: finishing cells stop at their next batch (Ctrl+C again to stop now)…[/]")
            control.cancel()

        signal.signal(signal.SIGINT, on_sigint)
        try:
            summary = _run_with_progress(project, name, control, args)
        finally:
            signal.signal(signal.SIGINT, previous)
        worst = max(worst, _report_summary(summary, listed=not args.quiet))
        if summary.status == "cancelled":
            return EXIT_INTERRUPTED
    return worst


def _run_with_progress(project, name: str, control, args):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [
        TextColumn("[bold]{task.fields[study]}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("cells"),
        TimeElapsedColumn(), TextColumn("· ETA {task.fields[eta]}"), TextColumn("{task.fields[note]}", style="dim"),
    ]
    with Progress(*columns, console=console, disable=args.quiet, refresh_per_second=8) as progress:
        task = progress.add_task("run", total=None, study=name, eta="--:--", note="planning…")

        def on_event(e) -> None:
            if e.kind == "planned":
                progress.update(task, total=e.total, visible=e.total > 0, note=f"{e.skipped} already done" if e.skipped else "")
            elif e.kind == "cell_started" and e.cell is not None:
                progress.update(task, note=escape(f"{e.cell.label()} on {e.device}"))
            elif e.kind == "cell_progress" and e.cell is not None:
                progress.update(task, note=escape(f"{e.cell.label()}: {e.note}"))
            elif e.kind == "cell_finished":
                progress.update(task, completed=e.done + e.failed, eta=_fmt_eta(e.eta_s))
                if e.status == "failed" and e.cell is not None and not args.quiet:  # --quiet: listed once at the end
                    progress.console.print(f"[red]failed[/] {escape(e.cell.label())}: {escape(str(e.error))}")
            elif e.kind == "finished":
                progress.update(task, completed=e.done + e.failed, eta="0:00", note=e.status)

        return project.run(name, on_event=on_event, control=control, backend=args.backend, workers=args.workers)


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _report_summary(s, listed: bool = False) -> int:
    """One line per study; failed cells are listed unless they were already printed as they failed (``listed``)."""
    if s.status == "up-to-date":
        console.print(f"[green]{s.study}[/]: up to date ({s.planned} cells already computed).")
        return EXIT_OK
    line = f"{s.study}: {s.done} cells computed, {s.skipped} already done"
    if s.failed:
        line += f", [red]{s.failed} failed[/]"
    console.print(f"{line} in {s.duration_s:.1f} s.")
    if s.status == "cancelled":
        console.print(f"[yellow]Cancelled[/]: {s.cancelled} cells not computed; run again to resume.")
        return EXIT_INTERRUPTED
    if listed:
        return EXIT_FAILED_CELLS if s.failed else EXIT_OK
    for label, error in s.errors[:10]:
        console.print(f"  [red]✗[/] {escape(label)}: {escape(str(error))}")
    if len(s.errors) > 10:
        console.print(f"  … and {len(s.errors) - 10} more (juxta status shows them all).")
    return EXIT_FAILED_CELLS if s.failed else EXIT_OK


# -- status / results / export / validate ------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    from engine import open_project
    from engine.core.queries import failures, status

    project = open_project(args.project)
    names = list(project.study_paths())
    if not project.db_path.exists():
        console.print(f"{project.root}: no results yet ({len(names)} studies: {', '.join(names)}). Run: juxta run {args.project}")
        return EXIT_OK
    with project.store(read_only=True) as store:
        table = Table(title=f"Project {project.name}")
        for col in ("study", "cells", "planned", "done", "failed", "missing", "compute time"):
            table.add_column(col, justify="left" if col in ("study", "cells") else "right")
        for name in names:
            st = status(store, name)
            if st.empty:
                table.add_row(name, "—", "not run yet", "", "", "", "")
            for row in st.itertuples():
                table.add_row(name, row.type, str(row.planned), str(row.done),
                              f"[red]{row.failed}[/]" if row.failed else "0", str(row.missing),
                              f"{(row.compute_s or 0):.1f} s")
        console.print(table)
        for name in names:
            bad = failures(store, name)
            for row in bad.head(10).itertuples():
                console.print(f"[red]✗[/] {escape(name)}: {escape(row.arm)} · {escape(row.condition)} · seed {row.seed}: {escape(str(row.error))}")
    return EXIT_OK


def cmd_results(args: argparse.Namespace) -> int:
    """Any kind's results, as the kind summarises them (``StudyKind.results_summary``), read as the kind the
    study was run as."""
    from engine import open_project
    from engine.core.errors import JuxtaError
    from engine.kinds import get_kind

    project = open_project(args.project)
    project.study_path(args.study)
    if not project.db_path.exists():
        raise JuxtaError(f"Project {project.root} has no results yet; run: juxta run {args.project}")
    options = {"metric": args.metric, "full": args.full, "compare": tuple(args.compare) if args.compare else None,
               "condition": args.condition, "drop": args.drop, "ood": args.ood}
    with project.store(read_only=True) as store:
        row = store.con.execute("SELECT kind FROM studies WHERE study = ?", [args.study]).fetchone()
        if row is None:
            raise JuxtaError(f"Study '{args.study}' has no results yet; run it first: juxta run {args.project} {args.study}")
        summary = get_kind(row[0]).results_summary(store, args.study, options)
    for table in summary.tables:
        console.print(_rich_table(table))
    for line in summary.lines:
        console.print(escape(line))
    return EXIT_OK


def _rich_table(table) -> Table:
    """An ``engine.report.schema.Table`` as a terminal table: each cell's text, then its interval."""
    out = Table(title=escape(table.title), caption=escape(table.caption))
    for i, column in enumerate(table.columns):
        out.add_column(escape(column), justify="right" if (table.align[i:i + 1] or ["l"])[0] == "r" else "left")
    for row in table.rows:
        out.add_row(*(escape(f"{c.text} {c.sub}" if c.sub else c.text) for c in row),
                    style="bold" if row and row[0].bold else None)
    return out


def cmd_export(args: argparse.Namespace) -> int:
    from engine import open_project
    from engine.core.errors import JuxtaError
    from engine.export import export_tables

    project = open_project(args.project)
    out = Path(args.out).expanduser() if args.out else project.root / "exports"
    out = out if out.is_absolute() else project.root / out  # relative paths are inside the project, like report --out
    if not out.resolve().is_relative_to(project.root):
        raise JuxtaError(f"Export folder {out} is outside the project {project.root}; Juxta writes only inside the project.")
    with project.store(read_only=True) as store:
        if args.study:
            _check_study_has_results(project, store, args.study)
        written = export_tables(store, out, args.format, args.study)
    for path, rows in written:
        console.print(f"wrote {path} ({rows} rows)")
    return EXIT_OK


def cmd_export_model(args: argparse.Namespace) -> int:
    from engine import open_project
    from engine.core.errors import JuxtaError
    from engine.models.exports import export_model

    project = open_project(args.project)
    name = args.model.removeprefix("artifact:")
    with project.store(read_only=True) if project.db_path.exists() else nullcontext() as store:
        index = store.artifact_index() if store is not None else {}
    if name not in index:
        study = name.split("/", 1)[0]
        made = sorted(n for n in index if "/seed" not in n)
        hint = (f"run it first: juxta run {project.root} {study}" if study in project.study_paths() and
                not any(n.startswith(f"{study}/") for n in index) else f"the models this project has made: {', '.join(made) or 'none'}")
        raise JuxtaError(f"Project {project.root} has no model '{name}'; {hint}.")
    out = Path(args.out).expanduser() if args.out else project.root / "exports" / "models"  # a path the user picked
    fmt, target = export_model(project.root / index[name], out, args.format, name)
    console.print(f"wrote {escape(str(target))} ({fmt})")
    return EXIT_OK


def _check_study_has_results(project, store, name: str) -> None:
    """Refuse a study that does not exist, or has nothing in the database yet, before writing anything."""
    from engine.core.errors import JuxtaError

    recorded = set(store.query("SELECT study FROM studies").study)
    if name in recorded:
        return
    files = list(project.study_paths())
    if name in files:
        raise JuxtaError(f"Study '{name}' has no results yet; run it first: juxta run {project.root} {name}")
    known = sorted(set(files) | recorded)
    raise JuxtaError(f"Project {project.root} has no study '{name}'; its studies are: {', '.join(known) or 'none'}.")


def cmd_report(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # charts are drawn offscreen; no display needed
    from app.report import main_file, resolve_output, write_report
    from engine import open_project
    from engine.core.errors import JuxtaError, os_reason
    from engine.export import ensure_writable

    project = open_project(args.project)
    options = {k: getattr(args, k) for k in ("title", "author", "introduction") if getattr(args, k)}
    t0 = time.perf_counter()
    ensure_writable(resolve_output(project.root, args.format, args.out, overwrite=args.overwrite).parent)
    try:
        files = write_report(project, args.format, args.out, studies=args.study, options=options or None,
                             overwrite=args.overwrite)
    except OSError as exc:
        raise JuxtaError(f"Cannot write to {exc.filename or args.out or project.root / 'reports'}: {os_reason(exc)}.") from None
    target = main_file(args.format, files)
    where = target.parent if args.format == "folder" else target
    extra = f" ({len(files)} files)" if args.format == "folder" else ""
    console.print(f"[green]✓[/] wrote the {args.format} report {escape(str(where))}{extra} in {time.perf_counter() - t0:.1f} s")
    if args.format == "folder":
        console.print(f"  open {escape(str(target))}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from engine import open_project
    from engine.core.header import STUDY_SUFFIX

    target = Path(args.file)
    project = open_project(target if target.is_dir() else target.parent)
    names = list(project.study_paths()) if target.is_dir() else [target.name.removesuffix(STUDY_SUFFIX)]
    if not target.is_dir() and not target.is_file():
        from engine.core.errors import StudyFileError

        raise StudyFileError(str(target), ["file not found"])
    if not names:
        from engine.core.errors import JuxtaError

        raise JuxtaError(f"{project.root} has no study files (*.study.toml) to validate; create one in the app "
                         "(Study ▸ New Study…, Ctrl+N) or write one (docs/study-files.md).")
    for name in names:
        t0 = time.perf_counter()
        plan = project.validate(name)
        console.print(f"[green]✓[/] {escape(str(project.study_path(name)))}: valid — {escape(plan.summary)} "
                      f"({time.perf_counter() - t0:.1f} s).")
        for warning in plan.warnings:
            console.print(f"  [yellow]warning:[/] {escape(str(warning))}")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from engine.core.errors import JuxtaError
    from engine.kinds.merge import conventions, merge_to_folder, read_mergekit_yaml

    suffix = {"K": 10**3, "M": 10**6, "B": 10**9}
    size = args.out_shard_size.strip().upper()
    try:
        params = int(float(size[:-1]) * suffix[size[-1]]) if size[-1:] in suffix else int(size)
    except ValueError:
        raise JuxtaError(f"--out-shard-size '{args.out_shard_size}' is not a size in bytes (e.g. 5B, 500M).") from None
    config = Path(args.config)
    plan = read_mergekit_yaml(config, conventions=conventions(args.conventions), seed=args.random_seed)
    if args.submatrix_embeddings:
        plan.embeddings = "submatrix"
    columns = [TextColumn("[bold]merging[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("tensors"),
               TimeElapsedColumn(), TextColumn("{task.fields[note]}", style="dim")]
    with Progress(*columns, console=console, disable=args.quiet, refresh_per_second=8) as progress:
        bar = progress.add_task("merge", total=None, note="checking the models…")

        def on_tensor(done: int, total: int, name: str) -> None:
            progress.update(bar, completed=done, total=total, note=escape(name))

        report = merge_to_folder(plan, args.out, progress=on_tensor, device=args.device, max_shard_bytes=params,
                                 overwrite=args.overwrite, relative_to=config.resolve().parent,
                                 yaml_text=config.read_text(encoding="utf-8"))
    console.print(f"[green]✓[/] {plan.method}: {report.merged} tensors merged, {report.copied} copied"
                  + (f", {report.heads} task heads kept per model" if report.heads else "")
                  + f" in {report.seconds:.1f} s → {escape(str(Path(args.out).resolve()))}")
    for note in report.notes:
        console.print(f"  [yellow]note:[/] {escape(note)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
