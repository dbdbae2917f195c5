"""The main window: data, settings and run on the left; views in the centre; clusters right."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, QThreadPool, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dant_core.errors import DantError

from . import dialogs
from .controller import Controller
from .forms import SettingsForm
from .jobs import warm_up_engine
from .views.clusters import ClusterTableView
from .views.drift import DriftView

# Views written beside this window: (tab title, module, class).
EXTERNAL_VIEWS = (
    ("Cluster detail", "dant_gui.views.detail", "ClusterDetailView"),
    ("Similarity", "dant_gui.views.similarity", "SimilarityView"),
    ("Overview", "dant_gui.views.overview", "OverviewView"),
)
UI_REFRESH_MS = 100  # progress bars repaint at most this often, however often the engine reports
LOG_MAX_LINES = 5000


class _Placeholder(QLabel):
    """Stands in for a view that failed to import, saying why."""

    def __init__(self, title: str, error: str, parent=None):
        super().__init__(f"{title} is not available:\n{error}", parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)

    def export_image(self, path) -> None:
        self.grab().save(str(path))


class MainWindow(QMainWindow):
    def __init__(self, controller: Controller | None = None, parent=None):
        super().__init__(parent)
        self.controller = controller or Controller(self)
        self.setWindowTitle("DANT Desktop")
        self.setAcceptDrops(True)
        self._progress: dict[str, tuple[int, int]] = {}
        self._current_stage = ""
        self._run_started_at = 0.0

        self._build_actions()
        self._build_menus()
        self._build_left_panel()
        self._build_centre()
        self.statusBar().showMessage("Open a data folder to start (File ▸ Open data folder…)")

        self._ui_timer = QTimer(self)
        self._ui_timer.setInterval(UI_REFRESH_MS)
        self._ui_timer.timeout.connect(self._update_progress)

        c = self.controller
        c.dataset_changed.connect(self._dataset_changed)
        c.result_changed.connect(self._result_changed)
        c.settings_changed.connect(self._update_summary)
        c.problems_changed.connect(self._update_actions)
        c.busy_changed.connect(self._busy_changed)
        c.run_progress.connect(self._on_progress)
        c.run_log.connect(self._append_log)
        c.run_failed.connect(self._run_failed)
        c.run_cancelled.connect(self._run_cancelled)
        c.run_finished.connect(self._run_finished)
        self._update_summary()
        self._update_actions()
        warm_up_engine()

    # ----- construction -----------------------------------------------------------------------

    def _build_actions(self) -> None:
        style = self.style()
        icon = style.standardIcon
        self.open_action = QAction(
            icon(QStyle.StandardPixmap.SP_DirOpenIcon), "&Open data folder…", self
        )
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_folder)
        self.run_action = QAction(icon(QStyle.StandardPixmap.SP_MediaPlay), "&Run tracking", self)
        self.run_action.setShortcut(QKeySequence("Ctrl+R"))
        self.run_action.triggered.connect(self.start_run)
        self.cancel_action = QAction(icon(QStyle.StandardPixmap.SP_MediaStop), "&Cancel run", self)
        self.cancel_action.triggered.connect(self.controller.cancel_run)
        self.load_settings_action = QAction("&Load settings…", self)
        self.save_settings_action = QAction("&Save settings…", self)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        self.recent_menu = menu.addMenu("Recent folders")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        menu.addSeparator()
        menu.addAction(self.load_settings_action)
        menu.addAction(self.save_settings_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.cancel_action)
        self.view_menu = self.menuBar().addMenu("&View")

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.run_action)
        toolbar.addAction(self.cancel_action)

    def _build_left_panel(self) -> None:
        panel = QWidget(self)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 4, 4, 4)

        box = QGroupBox("Dataset", panel)
        self.summary_form = QFormLayout(box)
        self.summary_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.summary_labels: dict[str, QLabel] = {}
        for key in (
            "Folder",
            "Sessions",
            "Units",
            "Per session",
            "Channels",
            "Shanks",
            "Features",
            "Output",
        ):
            label = QLabel("–", box)
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.summary_labels[key] = label
            self.summary_form.addRow(f"{key}:", label)
        layout.addWidget(box)

        run_box = QGroupBox("Tracking", panel)
        run_layout = QVBoxLayout(run_box)
        buttons = QHBoxLayout()
        self.run_button = QPushButton(self.run_action.icon(), "Run", run_box)
        self.run_button.setToolTip("Track units across sessions with these settings (Ctrl+R)")
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button = QPushButton(self.cancel_action.icon(), "Cancel", run_box)
        self.cancel_button.clicked.connect(self.controller.cancel_run)
        buttons.addWidget(self.run_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        run_layout.addLayout(buttons)
        self.stage_label = QLabel("Idle", run_box)
        self.stage_bar = QProgressBar(run_box)
        self.stage_bar.setTextVisible(True)
        self.overall_label = QLabel("Overall", run_box)
        self.overall_bar = QProgressBar(run_box)
        self.overall_bar.setTextVisible(True)
        for w in (self.stage_label, self.stage_bar, self.overall_label, self.overall_bar):
            run_layout.addWidget(w)
        layout.addWidget(run_box)

        self.left_tabs = QTabWidget(panel)
        self.settings_form = SettingsForm(self.controller)
        scroll = QScrollArea(self.left_tabs)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.settings_form)
        self.log_view = QPlainTextEdit(self.left_tabs)
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_MAX_LINES)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.left_tabs.addTab(scroll, "Settings")
        self.left_tabs.addTab(self.log_view, "Log")
        layout.addWidget(self.left_tabs, 1)

        self.load_settings_action.triggered.connect(self.settings_form.load_clicked)
        self.save_settings_action.triggered.connect(self.settings_form.save_clicked)

        dock = QDockWidget("Data and run", self)
        dock.setObjectName("left_dock")
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        dock.setWidget(panel)
        dock.setMinimumWidth(400)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.left_dock = dock
        self.view_menu.addAction(dock.toggleViewAction())

    def _build_centre(self) -> None:
        self.tabs = QTabWidget(self)
        self.drift_view = DriftView(self.controller)
        self.tabs.addTab(self.drift_view, "Drift")
        self.views: dict[str, QWidget] = {"Drift": self.drift_view}
        for title, module, name in EXTERNAL_VIEWS:
            try:
                cls = getattr(importlib.import_module(module), name)
                view = cls(self.controller)
            except Exception as exc:  # noqa: BLE001 - one broken view must not take the window down
                view = _Placeholder(title, f"{type(exc).__name__}: {exc}")
            self.views[title] = view
            self.tabs.addTab(view, title)
        self.cluster_table = ClusterTableView(self.controller)
        self.views["Clusters"] = self.cluster_table

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.tabs)
        splitter.addWidget(self.cluster_table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([780, 440])
        splitter.setChildrenCollapsible(False)
        self.centre_splitter = splitter
        self.setCentralWidget(splitter)

    # ----- public intents ------------------------------------------------------------------------

    def show_tab(self, name: str) -> bool:
        """Make the tab whose title starts with (else contains) `name` current; case-insensitive."""
        titles = [self.tabs.tabText(i).lower() for i in range(self.tabs.count())]
        name = name.lower()
        for match in (str.startswith, str.__contains__):
            for i, title in enumerate(titles):
                if match(title, name):
                    self.tabs.setCurrentIndex(i)
                    return True
        return False

    def open_folder(self, folder) -> bool:
        """Load a data folder; a bad one gives an error dialog and changes nothing."""
        try:
            self.controller.open_folder(folder)
        except DantError as exc:
            dialogs.error(self, "Cannot open the data folder", str(exc))
            return False
        except OSError as exc:
            dialogs.error(self, "Cannot open the data folder", f"{folder}: {exc}")
            return False
        return True

    def choose_folder(self) -> None:
        start = str(self.controller.data_folder or QSettings().value("last_folder", ""))
        folder = dialogs.open_folder(self, "Open data folder", start)
        if folder is not None:
            QSettings().setValue("last_folder", str(folder))
            self.open_folder(folder)

    def start_run(self) -> bool:
        try:
            self.controller.start_run()
        except DantError as exc:
            dialogs.error(self, "Cannot run", str(exc))
            return False
        return True

    # ----- reactions to the controller ------------------------------------------------------------

    def _dataset_changed(self) -> None:
        folder = self.controller.data_folder
        self.setWindowTitle(f"DANT Desktop — {folder.name}" if folder else "DANT Desktop")
        self._update_summary()
        self._update_actions()

    def _result_changed(self) -> None:
        result = self.controller.result
        if result is not None:
            self.statusBar().showMessage(result.summary_text())
        elif self.controller.dataset is not None:
            s = self.controller.dataset.summary()
            self.statusBar().showMessage(
                f"{s['units']} units in {s['sessions']} sessions loaded — press Run to track them"
            )
        self._update_summary()

    def _update_summary(self) -> None:
        c = self.controller
        lab = self.summary_labels
        if c.dataset is None:
            for label in lab.values():
                label.setText("–")
            lab["Folder"].setText("No data folder open")
            return
        s = c.dataset.summary()
        lab["Folder"].setText(Path(s["folder"]).name)
        lab["Folder"].setToolTip(s["folder"])
        lab["Sessions"].setText(str(s["sessions"]))
        lab["Units"].setText(str(s["units"]))
        per = s["units_per_session"]
        lab["Per session"].setText(", ".join(str(n) for n in per))
        lab["Per session"].setToolTip(
            "\n".join(f"Session {i + 1}: {n} units" for i, n in enumerate(per))
        )
        lab["Channels"].setText(f"{s['channels']} ({s['samples']} samples per waveform)")
        shanks = s["shanks"]
        lab["Shanks"].setText(
            str(shanks)
            if shanks == 1
            else f"{shanks} ("
            + ", ".join(f"{n} ch" for n in s["channels_per_shank"].values())
            + ")"
        )
        lab["Features"].setText(", ".join(s["features"]))
        out = c.output_folder
        has_result = c.result is not None
        lab["Output"].setText(
            f"{out}" + (" (results loaded)" if has_result else "") if out else "–"
        )
        lab["Output"].setToolTip(str(out) if out else "")

    def _update_actions(self) -> None:
        c = self.controller
        can_run = c.can_run()
        self.run_action.setEnabled(can_run)
        self.run_button.setEnabled(can_run)
        if c.dataset is not None and not c.is_running and not can_run:
            self.run_button.setToolTip("Fix the settings marked in red first")
        else:
            self.run_button.setToolTip("Track units across sessions with these settings (Ctrl+R)")
        self.cancel_action.setEnabled(c.is_running)
        self.cancel_button.setEnabled(c.is_running)
        self.open_action.setEnabled(not c.is_running)
        self.recent_menu.setEnabled(not c.is_running)
        self.load_settings_action.setEnabled(not c.is_running)
        self.settings_form.setEnabled(not c.is_running)

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            self._progress.clear()
            self._current_stage = ""
            self._run_started_at = time.monotonic()
            self.stage_bar.setValue(0)
            self.overall_bar.setRange(0, 100)
            self.overall_bar.setValue(0)
            self.stage_label.setText("Starting…")
            self.left_tabs.setCurrentWidget(self.log_view)
            self._ui_timer.start()
            self.statusBar().showMessage("Tracking…")
        else:
            self._ui_timer.stop()
            self._update_progress()
        self._update_actions()

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        # Only remember; the timer paints, so a burst of reports costs no repaints.
        self._progress[stage] = (done, total)
        if stage != "Overall":
            self._current_stage = stage

    def _update_progress(self) -> None:
        overall = self._progress.get("Overall")
        if overall is not None:
            done, total = overall
            self.overall_bar.setRange(0, max(total, 1))
            self.overall_bar.setValue(min(done, max(total, 1)))
        stage = self._current_stage
        if stage and stage in self._progress:
            done, total = self._progress[stage]
            self.stage_label.setText(stage)
            self.stage_bar.setRange(0, max(total, 1))
            self.stage_bar.setValue(min(done, max(total, 1)))
        if self.controller.is_running:
            elapsed = time.monotonic() - self._run_started_at
            self.overall_label.setText(f"Overall ({elapsed:.0f} s)")

    def _append_log(self, line: str) -> None:
        self.log_view.appendPlainText(f"{time.strftime('%H:%M:%S')}  {line}")

    def _run_finished(self) -> None:
        self.stage_label.setText("Done")
        self.stage_bar.setRange(0, 1)
        self.stage_bar.setValue(1)
        self.overall_bar.setRange(0, 1)
        self.overall_bar.setValue(1)

    def _run_failed(self, message: str, tb: str) -> None:
        self.stage_label.setText("Failed")
        self.statusBar().showMessage("The run failed: " + message.splitlines()[0])
        dialogs.error(self, "Tracking failed", message, detail=tb)

    def _run_cancelled(self) -> None:
        self.stage_label.setText("Cancelled")
        self.stage_bar.setValue(0)
        self.statusBar().showMessage("Run cancelled")

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        folders = self.controller.recent_folders()
        if not folders:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for folder in folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_folder(f))

    # ----- Qt events ----------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls or self.controller.is_running:
            return
        path = Path(urls[0].toLocalFile())
        event.acceptProposedAction()
        self.open_folder(path if path.is_dir() else path.parent)

    def closeEvent(self, event) -> None:
        if self.controller.is_running:
            if not dialogs.question(self, "Quit", "A run is in progress. Cancel it and quit?"):
                event.ignore()
                return
            self.controller.wait_for_job()
        self.stop_background_work()
        super().closeEvent(event)

    def stop_background_work(self) -> None:
        """Let the views' thread pools drain now, while the GIL can be released.

        A QThreadPool destroyed with its parent widget waits for its tasks inside a C++
        destructor that holds the GIL; a task still running Python then deadlocks the exit.
        """
        for view in (*self.views.values(), self.cluster_table):
            stop = getattr(view, "stop_background", None)
            if callable(stop):
                stop()
        for pool in self.findChildren(QThreadPool):
            pool.clear()
            pool.waitForDone(30_000)
