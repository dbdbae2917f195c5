"""The status bar's progress while a folder is being opened (read on the worker)."""

from __future__ import annotations

from PyQt6.QtWidgets import QProgressBar, QStatusBar

from . import dialogs

STATUS_MS = 8000
CHECK_STEP = "Checking the data folder"  # loading.check_data, after the result is shown


class LoadStatus(QProgressBar):
    """Shown from the controller's load_started to its load_finished: the step being read
    (load_progress) in the bar and in the status bar's message; a failure is a dialog.
    Then, while the data folder of a result shown is checked behind it, a busy bar."""

    def __init__(self, controller, status_bar: QStatusBar):
        super().__init__(status_bar)
        self.controller = controller
        self.status_bar = status_bar
        self.setMaximumWidth(320)
        self.setTextVisible(True)
        self.hide()
        status_bar.addPermanentWidget(self)
        controller.load_started.connect(self._started)
        controller.load_progress.connect(self._progress)
        controller.load_failed.connect(self._failed)
        controller.load_finished.connect(lambda _ok: self.hide())
        controller.data_check_started.connect(self._checking)
        controller.data_check_progress.connect(self._check_progress)
        controller.data_checked.connect(self._checked)

    def _started(self, folder: str) -> None:
        self.setRange(0, 0)  # busy until the first step is known
        self.setFormat("Opening…")
        self.show()
        self.status_bar.showMessage(f"Opening {folder}…")

    def _checking(self) -> None:
        """The result is shown; its data folder is read behind it (runs wait)."""
        self.setRange(0, 1)  # determinate from the first step the check reports
        self.setValue(0)
        self.setFormat(f"{CHECK_STEP}…")
        self.show()
        self.status_bar.showMessage(f"{CHECK_STEP} (Run waits for it)…", STATUS_MS)

    def _check_progress(self, step: str, done: int, total: int) -> None:
        """A determinate bar: the busy one repainted itself (and the status bar) ~40 times a
        second for the whole check, 20 s at 20,000 units."""
        self.setRange(0, max(total, 1))
        self.setValue(done)
        self.setFormat(f"{CHECK_STEP}: {step[:1].lower()}{step[1:]}…")

    def _checked(self, ok: bool) -> None:
        self.hide()
        if self.status_bar.currentMessage().startswith(CHECK_STEP):
            self.status_bar.clearMessage()  # it said "Run waits for it" after it was over
        problem = self.controller.data_problem
        if not ok and problem:
            dialogs.error(
                self.window(),
                "The data folder has a problem",
                f"{problem}\n\nThe results are shown and can be curated, but the tracking "
                "cannot be run again until the data folder is fixed and opened again.",
            )

    def _progress(self, step: str, done: int, total: int) -> None:
        self.setRange(0, max(total, 1))
        self.setValue(done)
        self.setFormat(f"{step}…")
        self.status_bar.showMessage(f"{step}…")

    def _failed(self, message: str) -> None:
        self.status_bar.showMessage("The folder could not be opened", STATUS_MS)
        dialogs.error(self.window(), "Cannot open the data folder", message)
