"""Can this machine open Juxta's window? Checked before Qt starts, so a missing system library is a
one-line instruction naming the packages instead of Qt's abort ("could not load the Qt platform
plugin xcb").

On Linux, Qt's X11 plugin needs a handful of system libraries that a minimal Debian/Ubuntu does not
have. ``missing_libraries()`` asks the dynamic loader (``ldd``) which of them do not resolve and
``packages_for()`` names the Debian/Ubuntu packages that provide them. ``python -m app.system_check``
prints the instruction, or installs the packages with apt when run as root with ``--install``
(scripts/setup.sh does that).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# shared library -> Debian/Ubuntu package that provides it (what Qt's xcb plugin and QtGui load)
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
TEST_PACKAGES = ("xvfb",)  # a virtual X server: the GUI tests drive the real window on it


def _qt_dir() -> Path | None:
    spec = importlib.util.find_spec("PySide6")  # finds the package without loading any Qt library
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "Qt"


def missing_libraries() -> list[str]:
    """System libraries Qt's X11 plugin needs that the loader cannot find (empty when all resolve,
    when not on Linux, or when ``ldd`` is not available)."""
    qt = _qt_dir()
    ldd = shutil.which("ldd")
    if not sys.platform.startswith("linux") or qt is None or ldd is None:
        return []
    targets = [qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6", qt / "lib" / "libQt6Gui.so.6"]
    missing: list[str] = []
    for target in targets:
        if not target.exists():
            continue
        out = subprocess.run([ldd, str(target)], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            name, _, where = line.strip().partition(" => ")
            if where.strip() == "not found" and name not in missing:
                missing.append(name)
    return missing


def packages_for(libraries: list[str]) -> list[str]:
    """Debian/Ubuntu packages providing ``libraries`` (unknown ones are named as they are)."""
    return list(dict.fromkeys(PACKAGES.get(lib, lib) for lib in libraries))


def instruction(packages: list[str]) -> str:
    sudo = "" if os.geteuid() == 0 else "sudo "
    return (f"Juxta's window needs system packages that are missing: {' '.join(packages)}. "
            f"Install them with: {sudo}apt-get install -y {' '.join(packages)}")


def _apt_install(packages: list[str]) -> bool:
    cmd = ["apt-get", "install", "-y", "-q", *packages]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False).returncode == 0:
        return True
    subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)
    return subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False).returncode == 0


def main(argv: list[str] | None = None) -> int:
    """Report (or, with ``--install`` as root with apt, install) what the window and GUI tests need."""
    args = sys.argv[1:] if argv is None else argv
    packages = packages_for(missing_libraries())
    test_packages = [p for p in TEST_PACKAGES if "--tests" in args and shutil.which("Xvfb") is None]
    can_install = "--install" in args and os.geteuid() == 0 and shutil.which("apt-get") is not None
    if can_install and (packages or test_packages):
        print(f"Installing system packages: {' '.join(packages + test_packages)}", file=sys.stderr)
        _apt_install(packages + test_packages)
        packages = packages_for(missing_libraries())
        test_packages = [p for p in test_packages if shutil.which("Xvfb") is None]
    if test_packages:
        print(f"The GUI tests drive the window on a virtual X server; without it they are skipped. "
              f"Install it with: {'' if os.geteuid() == 0 else 'sudo '}apt-get install -y xvfb", file=sys.stderr)
    if packages:
        print(instruction(packages), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
