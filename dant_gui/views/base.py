"""The contract every view follows (spikeinterface-gui's ViewBase is the model, ideas only).

A view is made with the controller and reads its values from the session (`self.session`). The
base class connects the controller's signals and calls the view's handlers only while the
view is visible:

- `on_result_changed()`: a new result (or None): reset and draw everything;
- `on_clusters_changed(info)`: an edit (`UpdateInfo`: the clusters it removed and added);
  by default `refresh()`;
- `on_selection_changed(selection)`: the new `Selection`; by default nothing;
- `refresh()`: redraw what depends on the clusters and the selection from the current
  state; by default `on_result_changed()`.

A change that arrives while the view is hidden (another tab is shown) only marks it stale:
when it is shown again it runs `on_result_changed()` once if a new result came meanwhile,
else `refresh()` once. So a hidden view computes nothing. A view never imports another view.
`export_image(path)` saves what it shows; `stop_background()` aborts its background work
(run on `dant_gui.worker`) before the window goes away.
"""

from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtWidgets import QWidget

from dant_core.session import Selection

from .common import export_widget

FRESH, STALE, NEW_RESULT = 0, 1, 2  # what a view must do when it is shown


class ViewBase(QWidget):
    """Base class of the views: attach to the controller, skip work while hidden, export,
    stop background work."""

    def __init__(self, controller, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        # A view made after a result arrived (main_window makes a tab's view when the tab is
        # first shown) draws that result when it is shown.
        self._pending = FRESH if controller.session is None else NEW_RESULT
        self.closed = False  # set by closeEvent: late background results are dropped
        controller.result_changed.connect(self._result_arrived)
        controller.clusters_changed.connect(self._clusters_arrived)
        controller.selection_changed.connect(self._selection_arrived)

    # ----- reading: every domain value comes from the session -----------------------------------

    @property
    def session(self):
        """The Qt-free `dant_core.session.Session` shown (None: no result yet). The one place
        a view reads clusters, selection, statistics, numbers and labels from."""
        return self.controller.session

    @property
    def result(self):
        """The session's TrackingResult, or None."""
        session = self.controller.session
        return None if session is None else session.result

    @property
    def selection(self):
        """The session's Selection (an empty one without a session)."""
        session = self.controller.session
        return Selection() if session is None else session.selection

    # ----- what a view implements ------------------------------------------------------------

    def on_result_changed(self) -> None:
        """A new result (or None): reset and draw everything, the selection included."""

    def on_clusters_changed(self, info) -> None:
        """An edit changed the clusters (`info`: UpdateInfo; None: unknown)."""
        self.refresh()

    def on_selection_changed(self, selection) -> None:
        """The selection changed (`selection`: dant_core.session.Selection)."""

    def refresh(self) -> None:
        """Redraw from the current clusters and selection (after changes while hidden)."""
        self.on_result_changed()

    def export_image(self, path) -> None:
        """Save what the view shows (PNG; plot views also write SVG by suffix)."""
        export_widget(self, path)

    def stop_background(self) -> None:
        """Abort the view's background work; its results are dropped. Views with
        background work override this."""

    # ----- routing -------------------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        """Changes arrived while hidden; the view catches up when it is shown."""
        return self._pending != FRESH

    def mark_changed(self, new_result: bool = False) -> None:
        """Catch up now if visible (on_result_changed for a new result, else refresh), else
        when shown. For the signals the base does not route (e.g. curation_changed), and
        for a view's first drawing (it may be made, hidden, after a result arrived)."""
        self._pending = max(self._pending, NEW_RESULT if new_result else STALE)
        if self.isVisible():
            self._catch_up()

    def _catch_up(self) -> None:
        pending, self._pending = self._pending, FRESH
        if pending == NEW_RESULT:
            self.on_result_changed()
        elif pending == STALE:
            self.refresh()

    def _result_arrived(self) -> None:
        self.mark_changed(new_result=True)

    def _clusters_arrived(self, info) -> None:
        if self.isVisible() and not self.stale:
            self.on_clusters_changed(info)
        else:
            self.mark_changed()

    def _selection_arrived(self, selection) -> None:
        if self.isVisible() and not self.stale:
            self.on_selection_changed(selection)
        else:
            self.mark_changed()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        """A closed view (a top-level one: tests, a floating window) stops its background
        work, and results already queued to it are dropped (`closed`): it may be deleted
        next, and drawing into plot items Qt has deleted crashes the process."""
        self.closed = True
        self.stop_background()
        for view in self.findChildren(pg.GraphicsView):
            # pyqtgraph's own teardown: the scene is cleared while every item is alive;
            # deleted later with its items, a layout re-laid out a plot title whose text
            # item was gone (a segfault in the GUI tests)
            view.close()
        super().closeEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.closed = False
        if self.stale:
            self._catch_up()


def membership_changed(info) -> bool:
    """Whether an edit (`UpdateInfo`; None: unknown, a new result) moved units between
    clusters, as opposed to changing only cluster labels."""
    return info is None or bool(info.removed_clusters or info.added_clusters)
