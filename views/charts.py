"""Charts to files, whatever the study kind: PNG, SVG and CSV exports of an :class:`ArmChart`, and the
palette and formatting every chart shares (re-exported from ``views.chart_base``).

A kind defines each of its charts once (``views/kinds/<kind>/charts.py``); the same class draws it on
screen (it is a ``pg.GraphicsLayoutWidget``) and into a report: build it hidden, then call
:func:`export_png` / :func:`export_svg` / :func:`export_csv`. Every chart has a ``title``, a
one-sentence plain-language ``description`` (tooltip and report caption), ``to_frame()`` /
``csv_rows()`` with exactly the numbers it draws, hover tooltips on its points and
``set_highlight(arm)`` for linked highlighting.

Colours are the Okabe–Ito palette and every arm also gets a marker shape, both assigned by sorted
arm name (:class:`ArmPalette`), so an arm looks the same in every chart, table and report.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from PySide6 import QtCore, QtGui, QtWidgets

from views.chart_base import (
    MARKER_NAMES, MARKERS, OKABE_ITO, THEMES, ArmChart, ArmPalette, ProbitAxis, Theme, pct, pts, theme_of,
)

__all__ = [
    "DEFAULT_EXPORT_SIZE", "MARKERS", "MARKER_NAMES", "OKABE_ITO", "THEMES", "ArmChart", "ArmPalette", "ProbitAxis",
    "Theme", "export", "export_csv", "export_png", "export_svg", "pct", "pts", "theme_of", "titled",
]


# --------------------------------------------------------------------------------------------
# export


DEFAULT_EXPORT_SIZE = (720, 450)


@contextmanager
def titled(chart: ArmChart, title: str) -> Iterator[None]:
    """Draw ``title`` above the chart while it is exported on its own (a file needs its title; the
    screen and the report show theirs around the chart)."""
    chart.set_title(title)
    try:
        yield
    finally:
        chart.set_title(None)


def _prepare(chart: ArmChart, size: tuple[int, int] | None) -> None:
    """Lay out a chart that is not on screen (the report path) at ``size`` logical pixels."""
    if size is None and chart.isVisible():
        return
    w, h = size or DEFAULT_EXPORT_SIZE
    chart.resize(int(w), int(h))
    chart.resizeEvent(None)
    chart.ci.layout.activate()
    QtWidgets.QApplication.processEvents()


def export_png(chart: ArmChart, path: str | Path, width: int = 1600, size: tuple[int, int] | None = None) -> Path:
    """Write the chart as a PNG ``width`` pixels wide (scaled up from its on-screen layout, so text
    stays proportionate). A hidden chart is laid out at ``size`` (default 720×450) first."""
    from pyqtgraph.exporters import ImageExporter

    _prepare(chart, size)
    exp = ImageExporter(chart.ci)
    exp.parameters()["width"] = int(width)
    path = Path(path)
    exp.export(str(path))
    return path


def export_svg(chart: ArmChart, path: str | Path, size: tuple[int, int] | None = None) -> Path:
    """Write the chart as SVG (vector; the heatmap's cells are an embedded image).

    Rendered with Qt's own SVG generator: pyqtgraph's SVGExporter cannot parse the path data that
    recent Qt versions write (a trailing ``Z``)."""
    from PySide6.QtSvg import QSvgGenerator

    _prepare(chart, size)
    source = chart.ci.sceneBoundingRect()
    w, h = int(round(source.width())), int(round(source.height()))
    path = Path(path)
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QtCore.QSize(w, h))
    gen.setViewBox(QtCore.QRect(0, 0, w, h))
    # the screen's DPI, so that QPicture-cached items (axes) replay at the size they were recorded
    screen = QtGui.QGuiApplication.primaryScreen()
    gen.setResolution(int(round(screen.logicalDotsPerInchX())) if screen is not None else 96)
    gen.setTitle(chart.title)
    gen.setDescription(chart.description)
    painter = QtGui.QPainter(gen)
    # export mode: markers are drawn as vector paths instead of cached pixmap fragments
    items = [i for i in chart.scene().items() if hasattr(i, "setExportMode")]
    opts = {"painter": painter, "antialias": True, "background": QtGui.QColor(chart.theme.background), "resolutionScale": 1.0}
    try:
        for item in items:
            item.setExportMode(True, opts)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.fillRect(QtCore.QRectF(0, 0, w, h), QtGui.QColor(chart.theme.background))
        chart.scene().render(painter, QtCore.QRectF(0, 0, w, h), source)
    finally:
        painter.end()
        for item in items:
            item.setExportMode(False, None)
    return path


def export_csv(chart: ArmChart, path: str | Path) -> Path:
    path = Path(path)
    chart.to_frame().to_csv(path, index=False)
    return path


def export(chart: ArmChart, path: str | Path, **kw) -> Path:
    """Export by file suffix: .png, .svg or .csv."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return export_png(chart, path, **kw)
    if suffix == ".svg":
        return export_svg(chart, path, **{k: v for k, v in kw.items() if k == "size"})
    if suffix == ".csv":
        return export_csv(chart, path)
    raise ValueError(f"Cannot export a chart as '{suffix}'; use .png, .svg or .csv.")
