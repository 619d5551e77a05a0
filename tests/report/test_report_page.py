"""The Report page: contents ticks, comments, live preview and export signals."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.report.conftest import XSS
from views.report_page import ReportPage


def chart_item(page, chart_id):
    top = page.tree.topLevelItem(0)
    charts = top.child(0)
    for i in range(charts.childCount()):
        if charts.child(i).data(0, Qt.ItemDataRole.UserRole)[2] == chart_id:
            return charts.child(i)
    raise KeyError(chart_id)


def test_page_options_preview_and_export(qtbot, mini_model):
    page = ReportPage()
    qtbot.addWidget(page)
    page.set_model(mini_model)
    assert all(b.isEnabled() for b in page.buttons.values())
    opts = page.options()
    assert opts["studies"] == ["mini"] and "drop" in opts["charts"]["mini"] and "best" in opts["tables"]["mini"]
    html = page.preview.toHtml()
    assert "Key findings" in html and "Relative drop from clean accuracy" in html
    assert page.preview.images  # figures drawn for the preview

    item = chart_item(page, "drop")
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert "drop" not in page.options()["charts"]["mini"]
    page.refresh_preview()
    assert "Relative drop from clean accuracy" not in page.preview.toPlainText()
    item.setCheckState(0, Qt.CheckState.Checked)

    page.tree.setCurrentItem(item)
    assert page.comment.isEnabled()
    page.comment.setPlainText(f"Look here {XSS}")
    page.title.setText("Board review")
    page.refresh_preview()
    text = page.preview.toPlainText()
    assert f"Look here {XSS}" in text and "Board review" in text
    assert page.options()["comments"] == {"mini": {"drop": f"Look here {XSS}"}}
    assert page.model().studies[0].chart("drop").comment == f"Look here {XSS}"

    with qtbot.waitSignal(page.exportRequested) as sig:
        page.buttons["pdf"].click()
    fmt, options = sig.args
    assert fmt == "pdf" and options["title"] == "Board review"


def test_page_without_model(qtbot):
    page = ReportPage()
    qtbot.addWidget(page)
    page.set_model(None)
    assert not any(b.isEnabled() for b in page.buttons.values())
    assert page.model() is None
