"""Persistent settings (QSettings): recent projects, last project, theme, window geometry."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8


class Settings:
    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings("Juxta", "Juxta")

    def recent_projects(self) -> list[str]:
        value = self.q.value("recentProjects", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [p for p in items if Path(p).is_dir()]

    def add_recent(self, path: str) -> None:
        items = [p for p in self.recent_projects() if p != path]
        self.q.setValue("recentProjects", [path, *items][:MAX_RECENT])
        self.q.setValue("lastProject", path)

    def last_project(self) -> str | None:
        value = self.q.value("lastProject")
        return value if value and Path(value).is_dir() else None

    def theme(self) -> str:
        return str(self.q.value("theme", "system"))

    def set_theme(self, name: str) -> None:
        self.q.setValue("theme", name)

    def geometry(self) -> QByteArray | None:
        value = self.q.value("geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, data: QByteArray) -> None:
        self.q.setValue("geometry", data)
