"""`dant-gui [DATA] [--demo] [--run] [--screenshot FILE]`: the DANT Desktop window."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

APP_NAME = "dant-desktop"
ORG_NAME = "DANT"
SCREENSHOT_SIZE = (1600, 1000)
DEMO_ARGS = {"n_units": 600, "n_sessions": 8, "seed": 0}
DEMO_MARKER = ".dant_demo.json"
SETTLE_MS = 400  # let layouts and plots settle before grabbing the window


def _parser() -> argparse.ArgumentParser:
    from dant_core.cli_arguments import Parser, whole_number

    p = Parser(  # a bad argument is one `error:` line naming it, as for `dant`
        prog="dant-gui",
        description="DANT Desktop: track the same neurons across days of Neuropixels recordings.",
    )
    p.add_argument("data", nargs="?", help="data folder to open (waveform_all.npy, ...)")
    p.add_argument("--demo", action="store_true", help="open a synthetic demo dataset (made once)")
    p.add_argument("--run", action="store_true", help="start tracking as soon as data is loaded")
    p.add_argument(
        "--screenshot",
        metavar="FILE",
        help="save the window as PNG once loaded (or the run is done), then exit",
    )
    p.add_argument("--tab", help=argparse.SUPPRESS)  # tab shown in a screenshot
    p.add_argument("--select-cluster", type=whole_number, help=argparse.SUPPRESS)
    return p


def _arguments(argv: list[str]) -> argparse.Namespace | None:
    """The parsed arguments; None after one `error:` line naming a bad one (docs GQ02)."""
    from dant_core.cli_arguments import ArgumentsError

    try:
        return _parser().parse_args(argv)
    except ArgumentsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def demo_folder() -> Path:
    """Where the demo data lives: the user's cache folder for this app."""
    from PyQt6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    root = Path(base) if base else Path.home() / ".cache" / APP_NAME
    return root / "demo"


def ensure_demo(folder: Path) -> Path:
    """Make the demo data in `folder` unless a complete one made by this generator with the
    same parameters is there."""
    from dant_core.synthetic import generator_fingerprint, make_demo

    marker = folder / DEMO_MARKER
    wanted = {**DEMO_ARGS, "generator": generator_fingerprint()}
    try:
        if json.loads(marker.read_text()) == wanted:
            return folder
    except (OSError, ValueError):
        pass
    folder.mkdir(parents=True, exist_ok=True)
    make_demo(folder, replace=True, **DEMO_ARGS)  # an older demo of ours may be there
    marker.write_text(json.dumps(wanted))
    return folder


def _screenshot_when_ready(app, window, path: Path, status: dict) -> None:
    """Save the window to `path` once the table's similarity columns and the tab shown are
    filled (or after 30 s anyway) and no view has plots still to draw, then quit with
    status["code"] (1 when the file could not be written)."""
    from PyQt6.QtCore import QTimer

    def grab(waited_ms: int = 0) -> None:
        drawing = any(getattr(v, "drawing", False) for v in window.views.made())
        if drawing and waited_ms < 30_000:  # plots drawn over turns: all of them first
            QTimer.singleShot(50, lambda: grab(waited_ms + 50))
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path), "PNG"):
            print(f"{path}: could not write the screenshot", file=sys.stderr)
            status["code"] = 1
        window.close()
        app.exit(status["code"])

    waits = []
    if window.cluster_table.model.computing:
        waits.append(window.cluster_table.similarity_ready)
    view = window.current_view()
    if getattr(view, "computing", False):
        waits.append(view.ready)
    state = {"left": len(waits), "done": False}

    def one_done(force: bool = False) -> None:
        state["left"] -= 1
        if not state["done"] and (force or state["left"] <= 0):
            state["done"] = True
            QTimer.singleShot(SETTLE_MS, grab)

    for signal in waits:
        signal.connect(lambda *_: one_done())
    if waits:
        QTimer.singleShot(30_000, lambda: one_done(force=True))
    else:
        QTimer.singleShot(SETTLE_MS, grab)


def main(argv: list[str] | None = None) -> int:
    if (args := _arguments(sys.argv[1:] if argv is None else argv)) is None:
        return 2  # a bad argument, said in one line

    from .qt_libraries import missing_message, missing_packages, uses_xcb

    if uses_xcb() and (missing := missing_packages()):
        print(missing_message(missing), file=sys.stderr)  # Qt itself would abort unclearly
        return 2

    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName("DANT Desktop")

    from . import dialogs
    from .main_window import MainWindow

    headless = args.screenshot is not None
    if headless:
        # Nobody is there to click a dialog away: print it and go on.
        def _print_dialog(request):
            if request.kind in ("error", "warning", "info"):
                print(f"{request.title}: {request.text}", file=sys.stderr)
                if request.detail:
                    print(request.detail, file=sys.stderr)
            return None

        dialogs.hook = _print_dialog

    window = MainWindow()
    window.resize(*SCREENSHOT_SIZE)
    if args.tab and not window.show_tab(args.tab):
        print(f"warning: no tab named {args.tab!r}", file=sys.stderr)
    window.show()
    status = {"code": 0}

    if headless:
        window.controller.run_log.connect(lambda line: print(line, file=sys.stderr))

    def finish(code: int) -> None:
        status["code"] = max(status["code"], code)
        if not headless:
            return
        if args.select_cluster is not None:
            window.controller.select_cluster(args.select_cluster)
        if args.tab:
            window.show_tab(args.tab)

        _screenshot_when_ready(app, window, Path(args.screenshot), status)

    def start() -> None:
        folder = args.data
        if args.demo:
            try:
                window.statusBar().showMessage("Making the demo dataset…")
                folder = ensure_demo(demo_folder())
            except Exception as exc:  # noqa: BLE001 - report and leave the window usable
                dialogs.error(window, "Demo", f"could not make the demo dataset: {exc}")
                finish(1)
                return
        if folder is None:
            finish(0)
            return
        c = window.controller
        c.folder_ready.connect(opened)  # shown, and its data folder checked (Run needs it)
        if not window.open_folder(folder):
            finish(1)

    def opened(ok: bool) -> None:
        """The folder is shown (or could not be opened): run, or take the screenshot."""
        if not ok:
            finish(1)
            return
        if not args.run:
            finish(0)
            return
        c = window.controller
        c.run_finished.connect(lambda: finish(0))
        c.run_failed.connect(lambda *_: finish(1))
        c.run_cancelled.connect(lambda: finish(1))
        if not window.start_run():
            finish(1)

    QTimer.singleShot(0, start)
    code = app.exec()
    return code if code else status["code"]


if __name__ == "__main__":
    sys.exit(main())
