"""Helper widgets of the kinds' Results pages: the page's scrolling frame and heading, the formatted table model,
its filter proxy and the chart frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from views import charts as C

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
MIN_CHART_FRAME_HEIGHT = 290


# --------------------------------------------------------------------------------------------
# the page's frame


def scrolling_page(page: QtWidgets.QWidget, empty_text: str
                   ) -> tuple[QtWidgets.QStackedLayout, QtWidgets.QLabel, QtWidgets.QWidget, QtWidgets.QScrollArea]:
    """A Results page's two states on ``page``: its empty-state label, and its content in a scroll area (at
    1280×720 the page scrolls instead of squashing the charts). Returns (stack, empty label, content, scroll
    area); the empty state is shown until the page puts the scroll area in front."""
    stack = QtWidgets.QStackedLayout(page)
    empty = QtWidgets.QLabel(empty_text)
    empty.setObjectName("emptyState")
    empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
    empty.setWordWrap(True)
    empty.setAccessibleName("No results")
    stack.addWidget(empty)
    content = QtWidgets.QWidget()
    content.setObjectName("pageContent")
    scroll = QtWidgets.QScrollArea()
    scroll.setObjectName("pageScroll")
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    scroll.setWidget(content)
    stack.addWidget(scroll)
    return stack, empty, content, scroll


def page_heading(outer: QtWidgets.QBoxLayout) -> tuple[QtWidgets.QLabel, QtWidgets.QLabel, QtWidgets.QLabel]:
    """The heading, the one-line summary under it and the (hidden) banner that says why results may be partial,
    added to ``outer``."""
    heading = QtWidgets.QLabel()
    heading.setObjectName("pageHeading")
    subheading = QtWidgets.QLabel()
    subheading.setObjectName("pageSubheading")
    subheading.setWordWrap(True)
    banner = QtWidgets.QLabel()
    banner.setObjectName("banner")
    banner.setWordWrap(True)
    banner.setAccessibleName("About these results")
    banner.hide()
    for label in (heading, subheading, banner):
        outer.addWidget(label)
    return heading, subheading, banner


# --------------------------------------------------------------------------------------------
# table model


class FrameModel(QtCore.QAbstractTableModel):
    """A read-only table over a pandas frame, formatted once (no per-row Python work on paint)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._display: np.ndarray = np.empty((0, 0), dtype=object)
        self._sort: list[np.ndarray] = []
        self._headers: list[str] = []
        self._header_tips: list[str] = []
        self._numeric: list[bool] = []
        self._icons: dict[str, QtGui.QIcon] = {}
        self._icon_col = -1
        self._cell_tips: dict[int, np.ndarray] = {}

    def set_table(self, display: pd.DataFrame, sort_keys: list[np.ndarray], header_tips: list[str],
                  numeric: list[bool], icons: dict[str, QtGui.QIcon] | None = None, icon_col: int = -1,
                  cell_tips: dict[int, np.ndarray] | None = None) -> None:
        """``cell_tips``: per column, a tooltip per row (e.g. a condition's id beside its display name)."""
        self.beginResetModel()
        self._cell_tips = cell_tips or {}
        self._display = display.to_numpy(dtype=object)
        self._headers = list(display.columns)
        self._sort = sort_keys
        self._header_tips = header_tips
        self._numeric = numeric
        self._icons = icons or {}
        self._icon_col = icon_col
        self.endResetModel()

    def rowCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else self._display.shape[0]

    def columnCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display[r, c]
        if role == SORT_ROLE:
            v = self._sort[c][r]
            return v.item() if hasattr(v, "item") else v
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if self._numeric[c]:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and c in self._cell_tips:
            return self._cell_tips[c][r]
        if role == Qt.ItemDataRole.DecorationRole and c == self._icon_col:
            return self._icons.get(self._display[r, c])
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or section >= len(self._headers):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._header_tips[section]
        return None


class FilterProxy(QtCore.QSortFilterProxyModel):
    """Sorts by the raw values; keeps rows whose arm or condition (display name or id, the id being
    in the tooltip) contains every typed word."""

    def __init__(self, parent=None, columns: tuple[int, ...] = (0, 1)):
        super().__init__(parent)
        self._words: list[str] = []
        self._columns = columns
        self.setSortRole(SORT_ROLE)

    @property
    def words(self) -> list[str]:
        return list(self._words)

    def set_filter_text(self, text: str) -> None:
        words = [w.lower() for w in text.split()]
        if hasattr(self, "beginFilterChange"):  # Qt ≥ 6.10
            self.beginFilterChange()
            self._words = words
            self.endFilterChange()
        else:  # pragma: no cover - older Qt
            self._words = words
            self.invalidateFilter()

    def filterAcceptsRow(self, row, parent) -> bool:
        if not self._words:
            return True
        m = self.sourceModel()
        cells = [m.index(row, c, parent) for c in self._columns]
        text = " ".join(f"{m.data(i)} {m.data(i, Qt.ItemDataRole.ToolTipRole) or ''}" for i in cells).lower()
        return all(w in text for w in self._words)


# --------------------------------------------------------------------------------------------
# chart frame


class ChartFrame(QtWidgets.QFrame):
    """A chart with its title, an optional selector and an export button."""

    exportRequested = Signal(str, str)  # chart_id, format

    def __init__(self, chart: C.ArmChart, selector_label: str | None = None, parent=None,
                 selector: QtWidgets.QComboBox | None = None):
        super().__init__(parent)
        self.chart = chart
        self.setObjectName("chartFrame")
        self.setAccessibleName(f"{chart.title} chart")
        self.setAccessibleDescription(chart.description)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 4)
        lay.setSpacing(2)
        head = QtWidgets.QHBoxLayout()
        head.setSpacing(6)
        self.title = QtWidgets.QLabel(chart.title)
        self.title.setObjectName("chartTitle")
        self.title.setToolTip(f"<p>{chart.description}</p>")
        self.title.setAccessibleName(chart.title)
        head.addWidget(self.title)
        self.selector: QtWidgets.QComboBox | None = None
        if selector_label:
            self.selector = selector or QtWidgets.QComboBox()
            self.selector.setAccessibleName(f"{chart.title}: {selector_label}")
            self.selector.setToolTip(selector_label)
            self.selector.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
            self.selector.setMinimumContentsLength(12)
            self.selector.setSizePolicy(QtWidgets.QSizePolicy.Policy.Minimum, QtWidgets.QSizePolicy.Policy.Fixed)
            head.addWidget(self.selector)
        head.addStretch(1)
        self.export_button = QtWidgets.QToolButton()
        self.export_button.setText("Export ▾")
        self.export_button.setObjectName("exportButton")
        self.export_button.setAccessibleName(f"Export the {chart.title} chart")
        self.export_button.setToolTip("Save this chart as PNG or SVG, or its numbers as CSV")
        self.export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.export_button.setAutoRaise(True)
        menu = QtWidgets.QMenu(self.export_button)
        for fmt, text in (("png", "PNG image…"), ("svg", "SVG vector image…"), ("csv", "CSV data…")):
            act = menu.addAction(text)
            act.triggered.connect(lambda _=False, f=fmt: self.exportRequested.emit(self.chart.chart_id, f))
        self.export_button.setMenu(menu)
        head.addWidget(self.export_button)
        lay.addLayout(head)
        lay.addWidget(chart, 1)
        # tall enough that the plot area keeps at least ~170 px: the page scrolls rather than squash it
        self.setMinimumHeight(MIN_CHART_FRAME_HEIGHT)
