"""Before Qt starts on Linux: name the system packages its X11 (xcb) platform plugin needs.

When one of them is missing, Qt aborts the whole process with "Could not load the Qt platform
plugin "xcb"" and often blames another library; nothing can catch that abort. So the window's
entry point checks the libraries first and prints what to install. Never imports Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys

# Shared library (soname) -> Debian/Ubuntu package: what `ldd`
# lists for PyQt6's libqxcb.so and libQt6XcbQpa.so.6 (Qt 6.5+). Minimal images (containers,
# WSL, fresh servers) lack some, most often libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0.
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def uses_xcb(platform: str | None = None, environ=None) -> bool:
    """Qt will try its xcb plugin: Linux, and no other platform chosen (offscreen, wayland).
    platform, environ: sys.platform and os.environ unless given."""
    platform = sys.platform if platform is None else platform
    chosen = (os.environ if environ is None else environ).get("QT_QPA_PLATFORM", "")
    return platform.startswith("linux") and (chosen == "" or chosen.startswith("xcb"))


def loadable(soname: str) -> bool:
    """The dynamic loader finds and loads the library, as it would for Qt's plugin."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_packages(load=loadable) -> list[str]:
    """Packages (sorted) whose libraries the xcb plugin needs and the loader cannot load."""
    return sorted({package for lib, package in XCB_LIBRARIES.items() if not load(lib)})


def missing_message(packages: list[str]) -> str:
    """One `error:` line and the command that installs what is missing."""
    return (
        "error: Qt's X11 platform plugin needs system libraries that are not installed: "
        + ", ".join(packages)
        + "\ninstall them (Debian/Ubuntu) with:\n  sudo apt-get install "
        + " ".join(packages)
        + "\n(or run headless with QT_QPA_PLATFORM=offscreen)"
    )
