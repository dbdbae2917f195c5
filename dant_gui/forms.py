"""The settings form, generated from `dant_core.settings.SCHEMA`.

One editor per key, chosen by its kind; one group box per section; the help text, unit
and allowed range as tooltip. Each edit is an intent, `controller.set_setting(key,
value)`: the controller replaces its settings by a copy holding the value, or refuses it
and counts it among its settings problems. The form flags the editors those problems name
(framed red, the message as tooltip) and leaves a refused value visible in its editor;
the controller disables Run while any problem exists.
"""

from __future__ import annotations

import re
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dant_core.errors import DantError, SettingProblem, SettingsError
from dant_core.settings import FEATURES, SCHEMA, SECTIONS, SettingSpec, groups

from . import dialogs

INVALID_STYLE = "border: 2px solid #d62728; border-radius: 3px;"
_INT_LIMIT = 2_000_000_000
_FEATURE_LABELS = {"Waveform": "Waveform", "AutoCorr": "ACG", "ISI": "ISI", "PETH": "PETH"}


def _label(spec: SettingSpec) -> str:
    """'n_nearest_channels' -> 'N nearest channels (µm)'."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", spec.name).replace("_", " ")
    text = words[:1].upper() + words[1:]
    return f"{text} ({spec.unit})" if spec.unit else text


def _tip(spec: SettingSpec) -> str:
    """Tooltip of a setting: help, unit and range (as in the settings file comment)."""
    if spec.key == "path_to_data":
        return (
            spec.describe() + "\n\nThe window uses the folder opened with File ▸ Open data folder."
        )
    return spec.describe()


class _FeatureChecks(QWidget):
    """Checkboxes for a list of feature names (kind "features"), in FEATURES order."""

    changed = pyqtSignal()

    def __init__(self, parent=None, removable: bool = False):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.boxes: dict[str, QCheckBox] = {}
        for name in FEATURES:
            box = QCheckBox(_FEATURE_LABELS[name], self)
            box.setToolTip(name)
            box.toggled.connect(self.changed)
            layout.addWidget(box)
            self.boxes[name] = box
        self.remove_button = None
        if removable:
            self.remove_button = QToolButton(self)
            self.remove_button.setText("−")
            self.remove_button.setToolTip("Remove this feature set")
            layout.addWidget(self.remove_button)
        layout.addStretch(1)

    def value(self) -> list[str]:
        return [n for n in FEATURES if self.boxes[n].isChecked()]

    def set_value(self, names) -> None:
        for n, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(n in names)
            box.blockSignals(False)


class _FeatureSetsEditor(QWidget):
    """A list of feature sets (kind "feature_sets"): one row of checkboxes per motion pass."""

    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.rows: list[_FeatureChecks] = []
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(2)
        self._layout.addLayout(self._rows_box)
        self.add_button = QPushButton("Add feature set", self)
        self.add_button.setToolTip("Add a motion pass with its own features")
        self.add_button.clicked.connect(self._add_clicked)
        self._layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)

    def _add_row(self, names) -> None:
        row = _FeatureChecks(self, removable=True)
        row.set_value(names)
        row.changed.connect(self.changed)
        row.remove_button.clicked.connect(lambda _=False, r=row: self._remove_row(r))
        label = QLabel(f"Pass {len(self.rows) + 1}:", row)
        row.layout().insertWidget(0, label)
        self.rows.append(row)
        self._rows_box.addWidget(row)

    def _renumber(self) -> None:
        for i, row in enumerate(self.rows):
            row.layout().itemAt(0).widget().setText(
                f"Pass {i + 1}:" if i < len(self.rows) - 1 else f"Pass {i + 1}+:"
            )

    def _add_clicked(self) -> None:
        last = self.rows[-1].value() if self.rows else ["Waveform"]
        self._add_row(last)
        self._renumber()
        self.changed.emit()

    def _remove_row(self, row: _FeatureChecks) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self._renumber()
        self.changed.emit()

    def value(self) -> list[list[str]]:
        return [row.value() for row in self.rows]

    def set_value(self, sets) -> None:
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        for one in sets:
            self._add_row(one)
        self._renumber()


class _PathEdit(QWidget):
    """Line edit + browse button for a path setting."""

    changed = pyqtSignal()

    def __init__(self, spec: SettingSpec, parent=None):
        super().__init__(parent)
        self.spec = spec
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self)
        self.edit.editingFinished.connect(self.changed)
        self.browse = QToolButton(self)
        self.browse.setText("…")
        self.browse.setToolTip("Browse")
        self.browse.clicked.connect(self._browse)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)

    def _browse(self) -> None:
        if self.spec.name == "path_to_motion":
            path = dialogs.open_file(self, "Known motion (.npy)", "NumPy array (*.npy)")
        else:
            path = dialogs.open_folder(self, _label(self.spec))
        if path is not None:
            self.edit.setText(str(path))
            self.changed.emit()

    def value(self) -> str:
        return self.edit.text().strip()

    def set_value(self, text: str) -> None:
        self.edit.setText(str(text))


class SettingsForm(QWidget):
    """Editors for every settings key, bound to `controller.settings`."""

    problems_changed = pyqtSignal()

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.editors: dict[str, QWidget] = {}
        self._problems: list[SettingProblem] = []
        self._loading = False

        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        buttons = QHBoxLayout()
        self.load_button = QPushButton("Load…", self)
        self.load_button.setToolTip("Load a settings.json (JSON with // comments, as pyDANT's)")
        self.save_button = QPushButton("Save…", self)
        self.save_button.setToolTip("Save these settings as a commented settings.json")
        self.reset_button = QPushButton("Reset to defaults", self)
        for b in (self.load_button, self.save_button, self.reset_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        self.load_button.clicked.connect(self.load_clicked)
        self.save_button.clicked.connect(self.save_clicked)
        self.reset_button.clicked.connect(self.controller.reset_settings)

        self.problem_label = QLabel(self)
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #d62728;")
        self.problem_label.hide()
        outer.addWidget(self.problem_label)

        for group in groups():
            box = QGroupBox(SECTIONS.get(group, group), self)
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
            for spec in (s for s in SCHEMA if s.group == group):
                editor = self._make_editor(spec, box)
                self.editors[spec.key] = editor
                label = QLabel(_label(spec), box)
                label.setToolTip(_tip(spec))
                editor.setToolTip(_tip(spec))
                if spec.kind == "feature_sets":
                    form.addRow(label)
                    form.addRow(editor)
                else:
                    form.addRow(label, editor)
            outer.addWidget(box)
        outer.addStretch(1)

        controller.settings_changed.connect(self.refresh)
        controller.problems_changed.connect(self.update_problems)
        self.refresh()

    # ----- editors ----------------------------------------------------------------------

    def _make_editor(self, spec: SettingSpec, parent) -> QWidget:
        key = spec.key
        if spec.kind == "bool":
            w = QCheckBox(parent)
            w.toggled.connect(lambda _=False, k=key: self._commit(k))
        elif spec.kind == "int" and spec.choices:
            w = QComboBox(parent)
            for c in spec.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(lambda _=0, k=key: self._commit(k))
        elif spec.kind == "int":
            w = QSpinBox(parent)
            w.setRange(
                int(spec.minimum) if spec.minimum is not None else -_INT_LIMIT,
                int(spec.maximum) if spec.maximum is not None else _INT_LIMIT,
            )
            if spec.unit:
                w.setSuffix(f" {spec.unit}")
            w.valueChanged.connect(lambda _=0, k=key: self._commit(k))
        elif spec.kind == "choice":
            w = QComboBox(parent)
            for c in spec.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(lambda _=0, k=key: self._commit(k))
        elif spec.kind == "path":
            w = _PathEdit(spec, parent)
            w.changed.connect(lambda k=key: self._commit(k))
        elif spec.kind == "features":
            w = _FeatureChecks(parent)
            w.changed.connect(lambda k=key: self._commit(k))
        elif spec.kind == "feature_sets":
            w = _FeatureSetsEditor(parent)
            w.changed.connect(lambda k=key: self._commit(k))
        else:  # float and str: free text, checked by the engine
            w = QLineEdit(parent)
            if spec.unit:
                w.setPlaceholderText(spec.unit)
            w.editingFinished.connect(lambda k=key: self._commit(k))
            w.textEdited.connect(lambda _t, k=key: self._commit(k, quiet=True))
        w.setObjectName(f"setting:{key}")
        if key == "path_to_data":
            # The window's data folder is the one opened; this key only matters to the CLI.
            w.setEnabled(False)
        return w

    def _read(self, key: str):
        spec = next(s for s in SCHEMA if s.key == key)
        w = self.editors[key]
        if spec.kind == "bool":
            return w.isChecked()
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QSpinBox):
            return w.value()
        if isinstance(w, (_PathEdit, _FeatureChecks, _FeatureSetsEditor)):
            return w.value()
        text = w.text().strip()
        if spec.kind == "float":
            try:
                return float(text)
            except ValueError:
                return text  # the engine's message says what is expected
        return text

    def _write(self, key: str, value) -> None:
        w = self.editors[key]
        w.blockSignals(True)
        try:
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                i = w.findData(value)
                w.setCurrentIndex(max(i, 0))
            elif isinstance(w, QSpinBox):
                w.setValue(int(value))
            elif isinstance(w, (_PathEdit, _FeatureChecks, _FeatureSetsEditor)):
                w.set_value(value)
            else:
                w.setText(_format_number(value) if isinstance(value, float) else str(value))
        finally:
            w.blockSignals(False)

    def set_value(self, key: str, value) -> None:
        """Put `value` in the editor of `key` and commit it, as a user would (for tests)."""
        self._write(key, value)
        self._commit(key)

    def _commit(self, key: str, quiet: bool = False) -> None:
        if self._loading:
            return
        try:
            self.controller.set_setting(key, self._read(key))
        except SettingsError:
            pass  # the controller keeps it as a problem of `key`; the editor shows it

    # ----- state ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the controller's settings in every editor; clears pending invalid values."""
        self._loading = True
        try:
            for spec in SCHEMA:
                self._write(spec.key, self.controller.settings.get(spec.key))
        finally:
            self._loading = False
        self.update_problems()

    def problems(self) -> list[str]:
        """Every current problem: rejected editor values, cross-key and data-dependent ones."""
        return [str(p) for p in self._problems]

    def update_problems(self) -> None:
        """Flag the editors named by the controller's settings problems."""
        self._problems = list(self.controller.form_problems)
        self._flag(self._problems)
        self.problems_changed.emit()

    def _flag(self, problems: list[SettingProblem]) -> None:
        # Each problem names the keys it is about: their editors are flagged.
        by_key: dict[str, list[str]] = {}
        for problem in problems:
            for key in problem.setting_keys:
                by_key.setdefault(key, []).append(str(problem))
        for spec in SCHEMA:
            w = self.editors[spec.key]
            msgs = by_key.get(spec.key)
            target = w.edit if isinstance(w, _PathEdit) else w
            if msgs:
                target.setStyleSheet(INVALID_STYLE)
                w.setToolTip(_tip(spec) + "\n\nProblem: " + "\n".join(msgs))
                w.setProperty("invalid", True)
            else:
                target.setStyleSheet("")
                w.setToolTip(_tip(spec))
                w.setProperty("invalid", False)
        if problems:
            shown = [str(p) for p in problems[:3]]
            more = f"\n(and {len(problems) - 3} more)" if len(problems) > 3 else ""
            self.problem_label.setText("Fix before running:\n" + "\n".join(shown) + more)
            self.problem_label.show()
        else:
            self.problem_label.hide()

    def invalid_keys(self) -> list[str]:
        return [k for k, w in self.editors.items() if w.property("invalid")]

    # ----- files --------------------------------------------------------------------------------

    def load_clicked(self) -> None:
        start = str(self.controller.data_folder or "")
        path = dialogs.open_file(self, "Load settings", "Settings (*.json);;All files (*)", start)
        if path is None:
            return
        try:
            self.controller.load_settings(path)
        except DantError as exc:
            dialogs.error(self, "Load settings", str(exc))

    def save_clicked(self) -> None:
        start = str(Path(self.controller.data_folder or ".") / "settings.json")
        path = dialogs.save_file(self, "Save settings", "Settings (*.json)", start)
        if path is None:
            return
        try:
            self.controller.save_settings(path)
        except DantError as exc:
            dialogs.error(self, "Save settings", str(exc))


def _format_number(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
