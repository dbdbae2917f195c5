"""Before Qt starts: a missing xcb library is named with the package that installs it."""

from __future__ import annotations

from dant_gui import app
from dant_gui.qt_libraries import XCB_LIBRARIES, missing_packages, uses_xcb


def test_missing_libraries_are_named_by_package():
    present = {"libxcb.so.1", "libxcb-cursor.so.0", "libEGL.so.1"}
    found = missing_packages(lambda lib: lib in present)
    assert "libxcb-icccm4" in found and "libxcb-keysyms1" in found
    assert "libxcb1" not in found and "libegl1" not in found
    assert len(found) == len(XCB_LIBRARIES) - len(present)
    assert missing_packages(lambda lib: True) == []


def test_only_the_xcb_platform_is_checked():
    assert uses_xcb("linux", {})
    assert uses_xcb("linux", {"QT_QPA_PLATFORM": "xcb"})
    assert not uses_xcb("linux", {"QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb("linux", {"QT_QPA_PLATFORM": "wayland"})
    assert not uses_xcb("darwin", {})


def test_dant_gui_prints_what_to_install_and_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setattr(
        "dant_gui.qt_libraries.missing_packages",
        lambda: missing_packages(lambda lib: "icccm" not in lib),
    )
    assert app.main(["--demo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "sudo apt-get install libxcb-icccm4" in err


def test_loadable_asks_the_dynamic_loader():
    from dant_gui.qt_libraries import loadable

    assert loadable("libc.so.6")
    assert not loadable("libdant-no-such-library.so.9")
