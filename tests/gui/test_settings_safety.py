"""The GUI never runs with settings the user did not ask for (issue 13).

An invalid settings.json in the data folder was logged as one warning line and the folder
opened with the default settings, so Run used settings nobody chose (the CLI refuses it).
"""

from __future__ import annotations


def test_an_invalid_settings_json_in_the_data_folder_is_shown_and_not_replaced(
    open_folder, window, demo_folder, dialog_log
):
    (demo_folder / "settings.json").write_text('{"clustering": {"max_distance": -5}}')
    assert not open_folder(demo_folder)
    assert window.controller.dataset is None  # nothing opened, so nothing can run
    errors = [d for d in dialog_log if d.kind != "question"]
    assert len(errors) == 1
    assert "settings.json" in errors[0].text and "clustering.max_distance" in errors[0].text
    assert "default settings" in errors[0].text
    # Fixed, the folder opens with the settings the file gives.
    (demo_folder / "settings.json").write_text('{"clustering": {"max_distance": 70}}')
    assert open_folder(demo_folder)
    assert window.controller.settings.get("clustering.max_distance") == 70


def test_a_reopened_result_shows_the_settings_that_made_it(
    open_folder, window, demo_folder, dialog_log
):
    from dant_core.cli import main as dant_main

    settings_file = demo_folder.parent / "other_settings.json"
    settings_file.write_text('{"clustering": {"max_distance": 70}}')
    out = demo_folder / "DANT_Output"
    assert (
        dant_main(
            ["track", str(demo_folder), "--settings", str(settings_file), "--output", str(out)]
        )
        == 0
    )
    assert open_folder(demo_folder), [d.text for d in dialog_log]
    assert window.controller.session is not None
    assert window.controller.settings.get("clustering.max_distance") == 70
    assert window.controller.output_folder == out
