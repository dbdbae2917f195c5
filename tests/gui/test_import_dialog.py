"""File ▸ Import sessions…: the preview per folder, the import on the worker, the new folder
opened; a folder that cannot be imported is shown as such and the window stays usable."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QItemSelectionModel

from tests.core.test_import_errors import tiny_kilosort


def _select_row(table, row: int) -> None:
    """Make `row` the one selected row. (QTableView.selectRow honours the keyboard
    modifiers Qt believes held, which an earlier test's Ctrl+key may leave behind
    offscreen: row 2 was then added to the selection instead of replacing it.)"""
    flags = (
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    table.selectionModel().setCurrentIndex(table.model().index(row, 0), flags)


def test_import_dialog_previews_imports_and_opens(window, qtbot, tmp_path, dialog_log):
    day1 = tiny_kilosort(tmp_path / "day1")
    day2 = tiny_kilosort(tmp_path / "day2", seed=1)
    empty = tmp_path / "notes"
    empty.mkdir()
    dialog = window.show_import_dialog()
    qtbot.addWidget(dialog)
    dialog.labels.setText("all")
    dialog.uv.setText("0.195")
    with qtbot.waitSignal(dialog.checked, timeout=60_000):
        dialog.add_folders([day1, day2, empty])
    assert dialog.table.item(0, 1).text() == "Kilosort/phy"
    assert dialog.table.item(0, 4).text() == "unsorted 4"
    assert dialog.table.item(2, 1).text() == "cannot import"
    assert "not a session folder" in dialog.table.item(2, 6).text()
    # the row that cannot be imported is selected and its notes shown whole below the table
    assert dialog.table.currentRow() == 2
    assert dialog.notes.text() == dialog.table.item(2, 6).text()
    _select_row(dialog.table, 0)
    assert dialog.notes.text() == f"{day1}: {dialog.table.item(0, 6).text()}"
    _select_row(dialog.table, 2)
    with qtbot.waitSignal(dialog.checked, timeout=60_000):
        dialog.remove_selected()
    out = tmp_path / "data"
    dialog.out.setText(str(out))
    with qtbot.waitSignal(window.controller.load_finished, timeout=120_000):
        dialog.start_import()  # imported on the worker, then the new folder is opened
    assert (out / "units.tsv").is_file()
    assert window.controller.data_folder == out
    assert np.load(out / "session_index.npy").max() == 2
    assert not [r for r in dialog_log if r.kind == "error"]


def test_import_dialog_error_is_a_dialog_and_nothing_is_written(
    window, qtbot, tmp_path, dialog_log
):
    day1 = tiny_kilosort(tmp_path / "day1")
    dialog = window.show_import_dialog()
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.checked, timeout=60_000):
        dialog.add_folders([day1])  # labels 'good': none, and no µV per bit
    dialog.out.setText(str(tmp_path / "data"))
    dialog.start_import()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=60_000)
    errors = [r for r in dialog_log if r.kind == "error"]
    assert errors and "no unit labelled good" in errors[0].text
    assert not (tmp_path / "data").exists()
    assert dialog.import_button.isEnabled()
