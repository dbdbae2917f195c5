"""The main window: data, settings and run on the left; views in the centre; on the right the
clusters, the review queue and the curation history. Curation is keyboard first (phy's
keys); every key is a window-wide QAction, listed in Help ▸ Keyboard shortcuts."""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import QEvent, QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from dant_core.curation import CurationError
from dant_core.errors import DantError

from . import curation_guard, dialogs
from .controller import Controller, SelectionNeeded
from .engine_warmup import warm_up_soon
from .forms import SettingsForm
from .keys import CURATION_KEYS, NAVIGATION_KEYS, OTHER_KEYS, bare_keys
from .lazy_views import LazyViews
from .load_status import LoadStatus
from .status_bar import ElidingStatusBar
from .views import plot_pool
from .views.base import ViewBase
from .views.clusters import ClusterTableView
from .views.detail import ClusterDetailView
from .views.drift import DriftView
from .views.history import HistoryView
from .views.overview import OverviewView
from .views.report import ReportView
from .views.review import ReviewQueueView
from .views.similarity import SimilarityView
from .worker import wait_for_all
from .write_back_action import WriteBackAction

RUN_TIP = "Track units across sessions with these settings (F5)"
UI_REFRESH_MS = 100  # progress bars repaint at most this often, however often the engine reports
LOG_MAX_LINES = 5000
STATUS_MS = 8000  # how long a curation message stays in the status bar


class MainWindow(QMainWindow):
    def __init__(self, controller: Controller | None = None, parent=None):
        super().__init__(parent)
        self.controller = controller or Controller(self)
        self.setWindowTitle("DANT Desktop[*]")
        self.setAcceptDrops(True)
        self._progress: dict[str, tuple[int, int]] = {}
        self._current_stage = ""
        self._run_started_at = 0.0

        self._warned_curators: set[int] = set()
        self._bare_keys = bare_keys()

        self._build_actions()
        self._build_curation_actions()
        self._build_menus()
        self._build_left_panel()
        self._build_centre()
        self.setStatusBar(ElidingStatusBar(self))  # long messages stop before the labels
        self.curation_status = QLabel(self)
        self.curation_status.setTextFormat(Qt.TextFormat.RichText)
        self.statusBar().addPermanentWidget(self.curation_status)
        self.load_bar = LoadStatus(self.controller, self.statusBar())
        self.statusBar().showMessage("Open a data folder to start (File ▸ Open data folder…)")
        # Decides, before any shortcut fires, whether a key belongs to the focused widget.
        self.installEventFilter(self)
        self.left_dock.installEventFilter(self)

        self._ui_timer = QTimer(self)
        self._ui_timer.setInterval(UI_REFRESH_MS)
        self._ui_timer.timeout.connect(self._update_progress)

        c = self.controller
        c.dataset_changed.connect(self._dataset_changed)
        c.result_changed.connect(self._result_changed)
        c.settings_changed.connect(self._update_summary)
        c.busy_changed.connect(self._busy_changed)
        for signal in (c.problems_changed, c.load_started, c.load_finished, c.data_check_started):
            signal.connect(self._update_actions)
        c.data_checked.connect(lambda ok: (self._update_actions(), self._warn_changed_data()))
        c.run_progress.connect(self._on_progress)
        c.run_log.connect(self._append_log)
        c.run_failed.connect(self._run_failed)
        c.export_finished.connect(self._exported)
        c.export_failed.connect(self._export_failed)
        c.run_cancelled.connect(self._run_cancelled)
        c.run_finished.connect(self._run_finished)
        c.curation_changed.connect(self._update_curation)
        c.selection_changed.connect(self._update_curation_tips)
        c.clusters_changed.connect(self._update_curation_tips)
        self._update_summary()
        self._update_actions()
        self._update_curation()
        self.compile_process = None  # set once the engine is imported (on a worker)
        warm_up_soon(self, self._append_log, lambda p: setattr(self, "compile_process", p))
        # The Cluster detail tab's plots, made with the window (plot_pool).
        plot_pool.make_ready(ClusterDetailView.N_PLOTS)

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
        # F5, not Ctrl+R: Ctrl+R is "reviewed, then next" while curating (and a rerun by
        # mistake would replace the result being curated).
        self.run_action.setShortcut(QKeySequence("F5"))
        self.run_action.triggered.connect(self.start_run)
        self.cancel_action = QAction(icon(QStyle.StandardPixmap.SP_MediaStop), "&Cancel run", self)
        self.cancel_action.triggered.connect(self.controller.cancel_run)
        self.load_settings_action = QAction("&Load settings…", self)
        self.save_settings_action = QAction("&Save settings…", self)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.shortcuts_action = QAction("&Keyboard shortcuts", self)
        self.shortcuts_action.setShortcut(QKeySequence("F1"))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)

    def _build_curation_actions(self) -> None:
        """One QAction per entry of CURATION_KEYS, on the window so the keys work anywhere."""
        icon = self.style().standardIcon
        icons = {
            "undo": QStyle.StandardPixmap.SP_ArrowBack,
            "redo": QStyle.StandardPixmap.SP_ArrowForward,
            "export": QStyle.StandardPixmap.SP_DialogSaveButton,
            "reviewed": QStyle.StandardPixmap.SP_DialogApplyButton,
            "reject": QStyle.StandardPixmap.SP_DialogCancelButton,
        }
        handlers = {
            "next": lambda: self._navigate(1),
            "previous": lambda: self._navigate(-1),
            "reviewed": self.mark_reviewed_and_next,
            "undo": self.undo,
            "redo": self.redo,
            "export": self.export,
        }
        self.curation_actions: dict[str, QAction] = {}
        for entry in CURATION_KEYS:
            name = entry.name
            action = QAction(entry.text, self)
            if name in icons:
                action.setIcon(icon(icons[name]))
            action.setShortcuts([QKeySequence(k) for k in entry.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            handler = handlers.get(name)
            if handler is None:
                handler = lambda _=False, n=name: self.curate_selection(n)  # noqa: E731
            action.triggered.connect(handler)
            self.addAction(action)
            self.curation_actions[name] = action
        self.label_actions = {}
        for label, text in (("good", "&Good"), ("reviewed", "&Reviewed"), ("", "&No label")):
            action = QAction(text, self)
            action.triggered.connect(lambda _=False, lab=label: self._label_selected(lab))
            self.label_actions[label] = action

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        menu.addAction("Import sessions…", self.show_import_dialog)
        self.write_back = WriteBackAction(self.controller, self)
        menu.addAction(self.write_back.action)
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

        a = self.curation_actions
        curate = self.menuBar().addMenu("&Curate")
        self.curate_menu = curate
        for group in (
            ("undo", "redo"),
            ("reject", "reject_pair", "split", "merge", "add"),
            ("reviewed",),
            ("next", "previous"),
            ("export",),
        ):
            for name in group:
                curate.addAction(a[name])
                if name == "reviewed":
                    label_menu = curate.addMenu("&Label cluster as")
                    for action in self.label_actions.values():
                        label_menu.addAction(action)
            curate.addSeparator()
        self.view_menu = self.menuBar().addMenu("&View")
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.run_action)
        toolbar.addAction(self.cancel_action)

        bar = self.addToolBar("Curate")
        bar.setObjectName("curate_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for name in ("undo", "redo", None, "reject", "reject_pair", "split", "merge", "add"):
            if name is None:
                bar.addSeparator()
            else:
                bar.addAction(a[name])
        bar.addSeparator()
        bar.addAction(a["reviewed"])
        bar.addAction(a["export"])
        self.curate_toolbar = bar

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
        self.run_button.setToolTip("Track units across sessions with these settings (F5)")
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
        self.views = LazyViews(self.tabs)  # each tab's view made when first shown
        for title, cls in (
            ("Drift", DriftView),
            ("Cluster detail", ClusterDetailView),
            ("Similarity", SimilarityView),
            ("Overview", OverviewView),
            ("Report", ReportView),
        ):
            self.views.add_tab(title, lambda cls=cls: cls(self.controller))
        self.drift_view = self.views["Drift"]
        self.cluster_table = ClusterTableView(self.controller)
        self.views.add_made("Clusters", self.cluster_table)

        a = self.curation_actions
        self.review_view = ReviewQueueView(self.controller, a["reviewed"])
        self.review_view.undo_decision_requested.connect(  # the queue's Take back…
            lambda d: self._report(self._curate(self.controller.undo_decision, d))
        )
        self.history_view = HistoryView(self.controller, a["undo"], a["redo"])
        self.curation_tabs = QTabWidget(self)
        self.curation_tabs.addTab(self.review_view, "Review queue")
        self.curation_tabs.addTab(self.history_view, "History")
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(self.cluster_table)
        right.addWidget(self.curation_tabs)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setSizes([520, 380])
        right.setChildrenCollapsible(False)
        self.right_splitter = right

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.tabs)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([780, 440])
        splitter.setChildrenCollapsible(False)
        self.centre_splitter = splitter
        self.setCentralWidget(splitter)

    # ----- public intents ------------------------------------------------------------------------

    def show_tab(self, name: str) -> bool:
        """Make the tab whose title starts with (else contains) `name` current; case-insensitive."""
        return self.views.show(name)

    def current_view(self) -> ViewBase | None:
        """The view of the tab shown."""
        return self.views.current()

    def show_import_dialog(self):
        """File ▸ Import sessions…: sorter output in, a new data folder out, then opened."""
        from .import_dialog import ImportDialog

        dialog = ImportDialog(self)
        dialog.imported.connect(lambda out: (dialog.accept(), self.open_folder(out)))
        dialog.show()
        return dialog

    def open_folder(self, folder) -> bool:
        """Start opening a data folder on the worker (False, with a dialog, when it cannot
        start). The window stays usable; progress shows in the status bar; a bad folder
        gives an error dialog and changes nothing; controller.load_finished(ok) ends it."""
        try:
            self.controller.open_folder(folder)
        except DantError as exc:
            dialogs.error(self, "Cannot open the data folder", str(exc))
            return False
        return True

    def choose_folder(self) -> None:
        start = str(self.controller.data_folder or QSettings().value("last_folder", ""))
        folder = dialogs.open_folder(self, "Open data folder", start)
        if folder is not None:
            QSettings().setValue("last_folder", str(folder))
            self.open_folder(folder)

    def start_run(self) -> bool:
        c = self.controller
        curator = None if c.session is None else c.session.curator
        if curator is not None and curator.state.history and c.can_run():
            n = len(curator.state.history)
            if not dialogs.question(
                self,
                "Run again",
                f"The clusters shown have {n} curation action(s). A new run replaces the "
                "result; the curation log is kept in the output folder's previous_runs/ "
                "folder, but it will not apply to the new clusters. Run anyway?",
            ):
                return False
        try:
            self.controller.start_run()
        except DantError as exc:
            dialogs.error(self, "Cannot run", str(exc))
            return False
        return True

    # ----- curation -------------------------------------------------------------------------------

    def _curate(self, intent, *args):
        """Run a controller curation intent; a refusal becomes a dialog, a missing selection a
        status-bar hint. Returns the intent's result, or None when nothing was done."""
        try:
            return intent(*args)
        except SelectionNeeded as exc:
            self.statusBar().showMessage(str(exc), STATUS_MS)
        except CurationError as exc:
            self.statusBar().showMessage("Refused: " + str(exc).splitlines()[0], STATUS_MS)
            dialogs.warning(self, "Curation action refused", str(exc))
        except curation_guard.ResultReplaced as exc:
            curation_guard.stop_curating(self, exc)
        except DantError as exc:
            dialogs.error(self, "Curation", str(exc))
        return None

    def _report(self, info) -> None:
        if info is not None:
            self.statusBar().showMessage(info.description, STATUS_MS)

    def curate_selection(self, name: str) -> None:
        """Reject / reject pair / split / merge / add, applied to the current selection."""
        self._report(self._curate(self.controller.apply_to_selection, name))

    def undo(self) -> None:
        self._report(self._curate(self.controller.undo))

    def redo(self) -> None:
        self._report(self._curate(self.controller.redo))

    def mark_reviewed_and_next(self) -> None:
        out = self._curate(self.controller.mark_reviewed_and_next)
        if out is None:
            return
        _, nxt = out
        session = self.controller.session
        done, total = session.review_progress()
        if nxt is None:
            text = f"All {total} clusters are reviewed"
        else:
            text = f"Reviewed {done} / {total}; now {session.cluster_name(nxt)}"
        self.statusBar().showMessage(text, STATUS_MS)

    def _label_selected(self, label: str) -> None:
        self._report(self._curate(self.controller.label_selected, label))

    def _navigate(self, step: int) -> None:
        if self.controller.session is not None:
            self.controller.select_next(step)

    def export(self) -> None:
        """Export runs on a worker; _exported or _export_failed follows."""
        if curation_guard.ready_to_export(self):
            self._curate(self.controller.export)

    def _exported(self, summary: str) -> None:
        self.statusBar().showMessage(summary.splitlines()[0], STATUS_MS * 2)

    def _export_failed(self, message: str) -> None:
        dialogs.error(self, "Curation", message)

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts: every key, one line each (details in the tooltips)."""
        native = QKeySequence.SequenceFormat.NativeText
        rows = []
        for entry in CURATION_KEYS:
            keys = ", ".join(QKeySequence(k).toString(native) for k in entry.keys)
            rows.append(
                f"<tr><td style='white-space:nowrap'><b>{keys}</b></td>"
                f"<td>{entry.text.replace('&', '')}: {entry.short}</td></tr>"
            )
        for key, tip in OTHER_KEYS:
            rows.append(f"<tr><td><b>{key}</b></td><td>{tip}</td></tr>")
        text = (
            "<p>The curation keys work anywhere in the window, except while typing in a text "
            "field or the settings form. Select units in the cluster detail table, a pair in "
            "the similarity matrix, one or two clusters in the cluster table; hover over a "
            "toolbar button to see what it would do now.</p>"
            "<table cellspacing='4'>" + "".join(rows) + "</table>"
        )
        dialogs.info(self, "Keyboard shortcuts", text)

    def _update_curation(self) -> None:
        """Enable the curation actions and show the export state."""
        c = self.controller
        can = c.can_curate
        for name, action in self.curation_actions.items():
            if name in ("next", "previous"):
                action.setEnabled(c.session is not None)
            elif name == "undo":
                action.setEnabled(c.can_undo())
            elif name == "redo":
                action.setEnabled(c.can_redo())
            else:
                action.setEnabled(can)
        for action in self.label_actions.values():
            action.setEnabled(can)
        curator = None if c.session is None else c.session.curator
        if curator is None:
            self.curation_status.setText("")
            self.setWindowModified(False)
        else:
            n = len(curator.state.history)
            actions = f"{n} curation action{'s' if n != 1 else ''}"
            if c.session.exported:
                state = "no changes" if n == 0 else "exported"
                self.curation_status.setText(
                    f"{actions} · <span style='color:#1e8449'>{state}</span>"
                )
            else:
                self.curation_status.setText(
                    f"{actions} · <span style='color:#b9770e'>changes not exported (Ctrl+S)</span>"
                )
            self.setWindowModified(not c.session.exported)
            self.curation_status.setToolTip(
                f"Every action is saved at once in {curator.log_path}; "
                "Export (Ctrl+S) writes the curated IdxCluster.npy"
            )
        self._update_curation_tips()

    def _update_curation_tips(self) -> None:
        """Tooltips say what each key would do with the current selection."""
        c = self.controller
        for entry in CURATION_KEYS:
            name = entry.name
            action = self.curation_actions[name]
            keys = ", ".join(entry.keys)
            now = c.session.describe(name) if name in c.SELECTION_ACTIONS and c.can_curate else ""
            action.setToolTip(f"{action.text().replace('&', '')} ({keys}): " + (now or entry.tip))
            action.setStatusTip(now or entry.tip)

    def _warn_changed_data(self) -> None:
        text = self.controller.data_changed_warning
        if not text or self.controller.session is None:
            return
        self.controller.data_changed_warning = ""  # once per opening
        dialogs.warning(self, "Data changed since this run", text)

    def _warn_read_only(self) -> None:
        """Say once per session why its curation is read-only (another program curates)."""
        session = self.controller.session
        if session is None or not session.read_only_reason:
            return
        if id(session) in self._warned_curators:
            return
        self._warned_curators.add(id(session))
        dialogs.warning(self, "Curation in use", session.read_only_reason)

    # ----- keys: shortcuts or typing? ----------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self._key_belongs_to_focus(event):
            event.accept()  # the focused widget gets the key; the shortcut does not fire
            return True
        return super().eventFilter(obj, event)

    def _key_belongs_to_focus(self, event) -> bool:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        blocked = (
            Qt.KeyboardModifier.ControlModifier
            | Qt.KeyboardModifier.AltModifier
            | Qt.KeyboardModifier.MetaModifier
        )
        if mods & blocked or event.key() not in self._bare_keys:
            return False
        focus = QApplication.focusWidget()
        if focus is None:
            return False
        if focus is self.settings_form or self.settings_form.isAncestorOf(focus):
            return True  # combo boxes, check boxes and fields of the settings form
        if isinstance(focus, (QLineEdit, QAbstractSpinBox)):
            return True
        if isinstance(focus, (QTextEdit, QPlainTextEdit)) and not focus.isReadOnly():
            return True
        if isinstance(focus, QComboBox) and focus.isEditable():
            return True
        if event.key() in NAVIGATION_KEYS:
            # Arrows move within other lists (detail units, review queue, history, log);
            # in the cluster table they are the next/previous-cluster keys anyway.
            if isinstance(focus, (QComboBox, QTextEdit, QPlainTextEdit)):
                return True
            if isinstance(focus, QAbstractItemView) and focus is not self.cluster_table.table:
                return True
        return False

    # ----- reactions to the controller ------------------------------------------------------------

    def _dataset_changed(self) -> None:
        folder = self.controller.data_folder
        # [*] shows as "*" while curation changes are not exported (setWindowModified).
        self.setWindowTitle(f"DANT Desktop — {folder.name}[*]" if folder else "DANT Desktop[*]")
        self._update_summary()
        self._update_actions()

    def _result_changed(self) -> None:
        session = self.controller.session
        result = None if session is None else session.result
        curation_guard.warn_skipped_lines(self, self._warned_curators)
        self._warn_changed_data()
        self._warn_read_only()
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
        has_result = c.session is not None
        lab["Output"].setText(
            f"{out}" + (" (results loaded)" if has_result else "") if out else "–"
        )
        lab["Output"].setToolTip(str(out) if out else "")

    def _update_actions(self) -> None:
        c = self.controller
        can_run = c.can_run()
        self.run_action.setEnabled(can_run)
        self.run_button.setEnabled(can_run)
        self.run_button.setToolTip(c.run_blocked_by() or RUN_TIP)
        self.cancel_action.setEnabled(c.is_running)
        self.cancel_button.setEnabled(c.is_running)
        idle = not (c.is_running or c.is_loading)
        self.open_action.setEnabled(idle)
        self.recent_menu.setEnabled(idle)
        self.load_settings_action.setEnabled(idle)
        self.settings_form.setEnabled(idle)

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
        for note in self.controller.run_notes:  # e.g. where the previous curation log went
            self.statusBar().showMessage(f"{self.statusBar().currentMessage()} · {note}")
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
        if not urls or self.controller.is_running or self.controller.is_loading:
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
        c = self.controller
        curator = None if c.session is None else c.session.curator
        if curator is not None and not c.session.exported:
            # The log keeps every action, but the files analyses read do not have them yet.
            text = (
                "Your curation is saved (curation.jsonl), but it is not exported: "
                "IdxCluster.npy and the other output files still hold the clusters before it. "
                "Quit without exporting? (Curate ▸ Export, Ctrl+S, writes them; the "
                "curation is there when you reopen the folder.)"
            )
            if not dialogs.question(self, "Quit without exporting?", text):
                event.ignore()
                return
        self.stop_background_work()
        if curator is not None:  # another window or `dant export` may now change it
            curator.close()
        super().closeEvent(event)

    def stop_background_work(self) -> None:
        """Stop every view's background work and wait for all workers now, while the GIL
        can be released (a pool waited for inside a C++ destructor deadlocks the exit)."""
        for view in (*self.views.made(), self.review_view):
            view.stop_background()
        wait_for_all()
