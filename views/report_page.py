"""The Report page: choose what goes into a stakeholder report, see it live, export it.

The page shows a report model (``engine.report.ReportModel``, built by the app off the GUI thread
with ``build_report``) and never touches the database or the file system itself:

* ``set_model(model)`` fills the contents tree (studies, their charts and tables, each with a tick
  box) and draws the live preview;
* editing the title, author, introduction, ticks or a chart's comment re-applies the options to the
  model (``engine.report.apply_options``, no database) and refreshes the preview after a short pause;
* the Export buttons emit ``exportRequested(fmt, options)`` with ``fmt`` in 'folder' | 'html' | 'pdf';
  the app asks where to save and calls ``app.report.write_report(project, fmt, path, options=options,
  model=page.model(), overwrite=True)``;
* the title, author, introduction and chart comments are the project's *report notes*: the page
  emits ``notesChanged(notes)`` on every edit of them and shows saved ones with ``set_notes(notes)``;
  ``app.report.ReportNotesKeeper`` keeps them in the project (``reports/notes.json``).

The preview is the report's own HTML (no scripts) in a ``QTextBrowser``, styled in the app's theme
(``views.report_render.preview_css``) and redrawn when the theme changes; figures come from the same
chart definitions as the Results page, drawn in the app's theme at the screen's device pixel ratio
and laid out at the preview's width (text keeps its size), once, then cached.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QSignalBlocker, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QApplication, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QScrollArea,
    QSplitter, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QTextBrowser, QTreeWidget, QTreeWidgetItem,
    QVBoxLayout, QWidget,
)

from engine.report.options import apply_options
from engine.report.schema import ReportModel
from views.theme import current, current_name, watch_theme

ROLE = Qt.ItemDataRole.UserRole
PREVIEW_WIDTH = 600  # widest figure in the preview, in pixels
FIG_SCHEME = "juxta-fig"


class TickDelegate(QStyledItemDelegate):
    """Outlines tick boxes in the theme's muted text colour. Fusion outlines them in a darker shade
    of the window colour, which vanishes on the dark theme (unticked boxes could not be seen); the
    muted colour stands out from the surface in both themes (WCAG asks 3:1 of controls)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        if index.data(Qt.ItemDataRole.CheckStateRole) is None:
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        box = style.subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, opt, opt.widget)
        painter.save()
        painter.setPen(QColor(current().muted))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box.adjusted(0, 0, -1, -1))
        painter.restore()


class PreviewBrowser(QTextBrowser):
    """A QTextBrowser that serves figures from memory (``juxta-fig:slug``) and never follows links out."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.images: dict[str, QImage] = {}
        self.anchorClicked.connect(self._anchor)

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 (Qt API)
        if url.scheme() == FIG_SCHEME:
            img = self.images.get(url.path())
            if img is not None:
                return img
            return QImage()
        if url.scheme() in ("", "file", "http", "https", "data"):
            return None  # nothing is fetched from anywhere
        return super().loadResource(kind, url)

    def _anchor(self, url: QUrl) -> None:
        if url.hasFragment() and not url.path():
            self.scrollToAnchor(url.fragment())


class ReportPage(QWidget):
    exportRequested = Signal(str, dict)  # format ('folder' | 'html' | 'pdf'), options for apply_options/write_report
    optionsChanged = Signal(dict)
    notesChanged = Signal(dict)  # title, author, introduction, comments: on every edit (the keeper debounces)
    previewUpdated = Signal()  # the preview shows the current options, theme and pixel ratio

    def __init__(self, parent=None):
        super().__init__(parent)
        self._base: ReportModel | None = None
        self._applied: ReportModel | None = None
        self._renderer = None
        self._comments: dict[str, dict[str, str]] = {}
        self._current_chart: tuple[str, str] | None = None
        self._filling = False
        self._stale = False  # the theme changed while the page was hidden: redraw when shown

        self.title = QLineEdit()
        self.title.setPlaceholderText("Title (default: the study's title)")
        self.author = QLineEdit()
        self.author.setPlaceholderText("Author, team or organisation")
        self.introduction = QPlainTextEdit()
        self.introduction.setPlaceholderText("A short introduction for the readers (optional)")
        self.introduction.setFixedHeight(96)
        form = QFormLayout()
        form.addRow("Title", self.title)
        form.addRow("Author", self.author)
        form.addRow("Introduction", self.introduction)
        page_box = QGroupBox("Title page")
        page_box.setLayout(form)

        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setMinimumHeight(220)
        self.tree.setAccessibleName("Report contents")
        self.tree.setItemDelegate(TickDelegate(self.tree))
        contents_box = QGroupBox("What goes in")
        cl = QVBoxLayout(contents_box)
        hint = QLabel("Tick the studies, charts and tables to include. Select a chart to add a comment under it.")
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        cl.addWidget(hint)
        cl.addWidget(self.tree)

        self.comment_label = QLabel("Select a chart to comment on it.")
        self.comment_label.setWordWrap(True)
        self.comment = QPlainTextEdit()
        self.comment.setPlaceholderText("Comment shown under the chart")
        self.comment.setFixedHeight(80)
        self.comment.setEnabled(False)
        comment_box = QGroupBox("Comment")
        cml = QVBoxLayout(comment_box)
        cml.addWidget(self.comment_label)
        cml.addWidget(self.comment)

        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for fmt, text, tip in (("pdf", "Export PDF…", "A PDF with page numbers, for printing and e-mail"),
                               ("html", "Export HTML…", "One self-contained HTML file that opens offline in any browser"),
                               ("folder", "Export folder…", "index.html, figures (SVG and PNG), results.csv and a manifest")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setEnabled(False)
            b.clicked.connect(lambda _=False, f=fmt: self._export(f))
            row.addWidget(b)
            self.buttons[fmt] = b
        self.buttons["pdf"].setDefault(True)
        self.status = QLabel("No report yet: open a project with results.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.addWidget(page_box)
        sl.addWidget(contents_box, 1)
        sl.addWidget(comment_box)
        sl.addLayout(row)
        sl.addWidget(self.status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side_width = (side.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                      + 2 * scroll.frameWidth())
        scroll.setMinimumWidth(side_width)  # the controls never hide behind a horizontal scroll bar

        self.preview = PreviewBrowser()
        self.preview.setAccessibleName("Report preview")
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([side_width, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh_preview)
        for w in (self.title, self.author):
            w.textChanged.connect(self._notes_edited)
        self.introduction.textChanged.connect(self._notes_edited)
        self.comment.textChanged.connect(self._comment_changed)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._select)
        watch_theme(self, lambda _c: self._invalidate_preview())

    # -- public API ----------------------------------------------------------------------------

    def set_model(self, model: ReportModel | None) -> None:
        """Show a freshly built report model (keeps the title, author, introduction and comments typed so far)."""
        self._base = model
        self._renderer = None
        self.preview.images.clear()
        self._fill_tree()
        for b in self.buttons.values():
            b.setEnabled(model is not None)
        if model is None:
            self.preview.clear()
            self.status.setText("No report yet: open a project with results.")
            return
        self.title.setPlaceholderText(model.title or "Title")
        self.status.setText(f"Project {model.project}: {len(model.studies)} stud{'ies' if len(model.studies) != 1 else 'y'} "
                            "with results." + (" " + " ".join(model.notes) if model.notes else ""))
        self.refresh_preview()

    def model(self) -> ReportModel | None:
        """The report as it would be exported now (options applied)."""
        if self._base is None:
            return None
        return apply_options(self._base, self.options())

    def options(self) -> dict[str, Any]:
        """Options for ``engine.report.apply_options`` / ``app.report.write_report``."""
        studies, charts, tables = [], {}, {}
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            name = top.data(0, ROLE)[1]
            if top.checkState(0) != Qt.CheckState.Unchecked:
                studies.append(name)
            charts[name], tables[name] = [], []
            for j in range(top.childCount()):
                group = top.child(j)
                for k in range(group.childCount()):
                    item = group.child(k)
                    kind, _study, ident = item.data(0, ROLE)
                    if item.checkState(0) == Qt.CheckState.Checked:
                        (charts if kind == "chart" else tables)[name].append(ident)
        return {**self.notes(), "studies": studies, "charts": charts, "tables": tables}

    def notes(self) -> dict[str, Any]:
        """The title, author, introduction and every chart comment typed so far (what ``notesChanged``
        carries and ``set_notes`` takes: keys title, author, introduction, comments)."""
        comments = {s: {c: t for c, t in d.items() if t.strip()} for s, d in self._comments.items()}
        return {"title": self.title.text(), "author": self.author.text(), "introduction": self.introduction.toPlainText(),
                "comments": {s: d for s, d in comments.items() if d}}

    def set_notes(self, notes: dict[str, Any]) -> None:
        """Show saved notes (a project's ``reports/notes.json``); missing keys are empty. Emits no
        ``notesChanged``: nothing was edited."""
        comments = notes.get("comments") or {}
        self._comments = {str(s): {str(c): str(t) for c, t in d.items()} for s, d in comments.items()}
        for widget, key in ((self.title, "title"), (self.author, "author"), (self.introduction, "introduction")):
            blocker = QSignalBlocker(widget)
            if isinstance(widget, QLineEdit):
                widget.setText(str(notes.get(key) or ""))
            else:
                widget.setPlainText(str(notes.get(key) or ""))
            del blocker
        self._select(self.tree.currentItem())
        if self._base is not None:
            self._timer.start()

    def show_message(self, text: str) -> None:
        self.status.setText(text)

    def set_busy(self, busy: bool, text: str = "") -> None:
        for b in self.buttons.values():
            b.setEnabled(not busy and self._base is not None)
        if text:
            self.status.setText(text)

    # -- contents tree ---------------------------------------------------------------------------

    def _fill_tree(self) -> None:
        self._filling = True
        blocker = QSignalBlocker(self.tree)
        self.tree.clear()
        self._current_chart = None
        self.comment.setEnabled(False)
        model = self._base
        if model is not None:
            for s in model.studies:
                top = QTreeWidgetItem([s.title if s.title == s.name else f"{s.title}  ({s.name})"])
                top.setData(0, ROLE, ("study", s.name, s.name))
                top.setFlags(top.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate)
                top.setCheckState(0, Qt.CheckState.Checked if s.included else Qt.CheckState.Unchecked)
                charts = QTreeWidgetItem(["Charts"])
                charts.setData(0, ROLE, ("group", s.name, "charts"))
                charts.setFlags(charts.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate)
                for c in s.charts:
                    it = QTreeWidgetItem([c.title])
                    it.setToolTip(0, c.caption)
                    it.setData(0, ROLE, ("chart", s.name, c.chart_id))
                    it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    it.setCheckState(0, Qt.CheckState.Checked if c.included else Qt.CheckState.Unchecked)
                    charts.addChild(it)
                    if c.comment:
                        self._comments.setdefault(s.name, {}).setdefault(c.chart_id, c.comment)
                tables = QTreeWidgetItem(["Tables"])
                tables.setData(0, ROLE, ("group", s.name, "tables"))
                tables.setFlags(tables.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate)
                for t in s.tables:
                    it = QTreeWidgetItem([t.title])
                    it.setToolTip(0, t.caption)
                    it.setData(0, ROLE, ("table", s.name, t.table_id))
                    it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    it.setCheckState(0, Qt.CheckState.Checked if t.included else Qt.CheckState.Unchecked)
                    tables.addChild(it)
                top.addChildren([charts, tables])
                self.tree.addTopLevelItem(top)
                top.setExpanded(True)
                charts.setExpanded(True)
        del blocker
        self._filling = False

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if not self._filling:
            self._changed()

    def _select(self, current: QTreeWidgetItem | None, _previous=None) -> None:
        data = current.data(0, ROLE) if current is not None else None
        blocker = QSignalBlocker(self.comment)
        if data and data[0] == "chart":
            self._current_chart = (data[1], data[2])
            self.comment.setEnabled(True)
            self.comment.setPlainText(self._comments.get(data[1], {}).get(data[2], ""))
            self.comment_label.setText(f"Comment under \u201c{current.text(0)}\u201d:")
        else:
            self._current_chart = None
            self.comment.setEnabled(False)
            self.comment.setPlainText("")
            self.comment_label.setText("Select a chart to comment on it.")
        del blocker

    def _comment_changed(self) -> None:
        if self._current_chart is None:
            return
        study, chart = self._current_chart
        self._comments.setdefault(study, {})[chart] = self.comment.toPlainText()
        self._notes_edited()

    # -- preview ---------------------------------------------------------------------------------

    def _notes_edited(self, *_args) -> None:
        self.notesChanged.emit(self.notes())
        self._changed()

    def _changed(self, *_args) -> None:
        if self._base is None:
            return
        self._timer.start()
        self.optionsChanged.emit(self.options())

    def device_pixel_ratio(self) -> float:
        """Device pixels per logical pixel where the preview is shown (2 on most high-DPI screens)."""
        return max(1.0, float(self.preview.devicePixelRatioF()))

    def _invalidate_preview(self) -> None:
        """Drop the figures and redraw the preview (a new theme or pixel ratio): from the event loop
        if the page is shown, else when it is shown. Never from inside a theme switch itself: Qt is
        then still restyling every widget, and the offscreen charts drawn here are widgets created
        and deleted on the spot (that crashed the app's style sheet change)."""
        self._renderer = None
        self.preview.images.clear()
        self._stale = self._base is not None
        if self._stale and self.isVisible():
            QTimer.singleShot(0, self, self._redraw_if_stale)

    def _redraw_if_stale(self) -> None:
        if self._stale and self.isVisible():
            self.refresh_preview()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._stale:
            QTimer.singleShot(0, self, self._redraw_if_stale)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        super().changeEvent(event)
        if event.type() == QEvent.Type.DevicePixelRatioChange and self._renderer is not None \
                and self._renderer.png_scale != self.device_pixel_ratio():
            self._invalidate_preview()  # another screen: draw the figures again at its pixel ratio

    def refresh_preview(self) -> None:
        """Re-apply the options and redraw the preview (charts drawn once, then cached)."""
        if self._base is None:
            return
        from views.report_render import ReportRenderer

        self._stale = False
        applied = self.model()
        self._applied = applied
        dpr = self.device_pixel_ratio()
        if self._renderer is None or self._renderer.png_scale != dpr:
            self.preview.images.clear()
            self._renderer = ReportRenderer(applied, png_scale=dpr, svg=False, theme=current_name(),
                                            max_width=PREVIEW_WIDTH)
        self._renderer.model = applied

        def src(fig) -> str:
            if fig.slug not in self.preview.images and fig.png is not None:
                image = QImage.fromData(fig.png)
                image.setDevicePixelRatio(dpr)  # shown at its logical size, one image pixel per device pixel
                self.preview.images[fig.slug] = image
            return f"{FIG_SCHEME}:{fig.slug}"

        html = self._renderer.html("preview", figure_src=src, max_figure_width=PREVIEW_WIDTH, colours=current())
        bar = self.preview.verticalScrollBar()
        pos = bar.value()
        self.preview.document().setDefaultStyleSheet("")
        self.preview.setHtml(html)
        bar.setValue(pos)
        self.previewUpdated.emit()

    def _export(self, fmt: str) -> None:
        self.exportRequested.emit(fmt, self.options())

