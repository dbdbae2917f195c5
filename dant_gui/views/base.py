"""The contract every view follows (spikeinterface-gui's ViewBase is the model, ideas only).

A view is made with the controller, reads its values from `controller.session`, and
reacts to the controller's signals: `result_changed` (redo everything),
`clusters_changed(UpdateInfo)` (the clusters an edit removed and added) and
`selection_changed(Selection)`. It never imports another view. `export_image(path)` saves
what it shows; `stop_background()` aborts its background work (run on
`dant_gui.worker`), before the window goes away.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QWidget

from .common import export_widget


class ViewBase(QWidget):
    """Base class of the views: attach to the controller, export, stop background work."""

    def __init__(self, controller, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller

    def export_image(self, path) -> None:
        """Save what the view shows (PNG; plot views also write SVG by suffix)."""
        export_widget(self, path)

    def stop_background(self) -> None:
        """Abort the view's background work; its results are dropped. Views with
        background work override this."""


def membership_changed(info) -> bool:
    """Whether an edit (`UpdateInfo`; None: unknown, a new result) moved units between
    clusters, as opposed to changing only cluster labels."""
    return info is None or bool(info.removed_clusters or info.added_clusters)
