"""A fresh machine: the window's missing system libraries are named (with their Debian packages)
before Qt starts, instead of Qt's abort about the xcb plugin (issue 8 item 4)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from app import system_check


def test_missing_libraries_are_read_from_the_loader_and_named_by_package(monkeypatch):
    fake = ("\tlibQt6Gui.so.6 => /x/libQt6Gui.so.6 (0x1)\n\tlibxcb-cursor.so.0 => not found\n"
            "\tlibxcb-icccm.so.4 => not found\n\tlibxcb-keysyms.so.1 => not found\n")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: SimpleNamespace(stdout=fake, returncode=0))
    missing = system_check.missing_libraries()
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    packages = system_check.packages_for(missing)
    assert packages == ["libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"]
    text = system_check.instruction(packages)
    assert "apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text


def test_juxta_open_says_what_to_install_before_qt_starts(monkeypatch, capsys):
    import app.gui as gui

    monkeypatch.setenv("DISPLAY", ":42")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(system_check, "missing_libraries", lambda: ["libxcb-cursor.so.0"])

    def no_qt(*_a, **_k):
        raise AssertionError("Qt was started although its plugin cannot load")

    monkeypatch.setattr(gui, "create_window", no_qt)
    assert gui.launch() == 2
    err = capsys.readouterr().err
    assert "libxcb-cursor0" in err and "apt-get install" in err


def test_setup_check_exits_nonzero_and_names_packages_when_it_cannot_install(monkeypatch, capsys):
    monkeypatch.setattr(system_check, "missing_libraries", lambda: ["libxkbcommon-x11.so.0"])
    monkeypatch.setattr(system_check.os, "geteuid", lambda: 1000)  # not root: nothing is installed
    assert system_check.main([]) == 1
    assert "sudo apt-get install -y libxkbcommon-x11-0" in capsys.readouterr().err


def test_the_check_agrees_with_qt_on_this_machine(qapp):
    """When Qt's X11 plugin loaded (the tests run on xcb), the loader check finds nothing missing."""
    if qapp.platformName() != "xcb":
        pytest.skip(f"the tests run on Qt's {qapp.platformName()} platform, not xcb: nothing to compare")
    assert system_check.missing_libraries() == []
