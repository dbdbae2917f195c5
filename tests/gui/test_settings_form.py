"""The settings form marks the fields of the keys each settings problem is about: problems
are structured (key, problem), never found by searching their text for key names."""

import pytest

from dant_core.errors import SettingProblem
from dant_core.synthetic import make_demo


@pytest.fixture
def form(qtbot):
    from dant_gui.controller import Controller
    from dant_gui.forms import SettingsForm

    controller = Controller()
    widget = SettingsForm(controller)
    qtbot.addWidget(widget)
    return widget


@pytest.fixture(scope="module")
def no_peth_folder(tmp_path_factory):
    """A small data folder without peth.npy (the default settings use PETH)."""
    folder = tmp_path_factory.mktemp("no_peth") / "data"
    make_demo(folder, n_units=40, n_sessions=3, seed=5, with_peth=False)
    return folder


def _open(form, qtbot, folder):
    with qtbot.waitSignal(form.controller.load_finished, timeout=60_000) as opened:
        form.controller.open_folder(folder)
    assert opened.args == [True]


def test_a_refused_value_marks_its_own_field_only(form):
    """The message of a refused max_distance quotes the typed text, here another key's
    name: the old search of the text for key names marked clustering.n_iter as well."""
    editor = form.editors["clustering.max_distance"]
    editor.setText("clustering.n_iter")
    editor.editingFinished.emit()
    assert form.invalid_keys() == ["clustering.max_distance"]
    assert 'got "clustering.n_iter"' in editor.toolTip()
    assert "Problem" not in form.editors["clustering.n_iter"].toolTip()
    assert form.problems() == [
        'clustering.max_distance: must be a number > 0 (µm), got "clustering.n_iter"'
    ]


def test_a_cross_key_problem_marks_both_keys(form):
    form.set_value("ISI.binwidth", 150.0)  # wider than the 100 ms window
    assert form.invalid_keys() == ["ISI.window", "ISI.binwidth"]
    form.set_value("ISI.binwidth", 1.0)
    assert form.invalid_keys() == []


def test_a_problem_of_the_data_marks_the_keys_it_names(form, qtbot, no_peth_folder):
    """PETH is used in motionEstimation.features[0] and [1]: one problem of that key (an
    element's index is a problem of the key) that blocks the run."""
    _open(form, qtbot, no_peth_folder)
    (problem,) = form.controller.form_problems
    assert problem.setting_keys == ("motionEstimation.features",)
    assert form.invalid_keys() == ["motionEstimation.features"]
    assert "peth.npy: file is missing" in form.editors["motionEstimation.features"].toolTip()
    assert not form.controller.can_run()

    form.set_value("motionEstimation.features", [["Waveform", "AutoCorr"]])
    assert form.invalid_keys() == [] and form.controller.can_run()
    form.set_value("clustering.features", ["Waveform", "PETH"])
    assert form.invalid_keys() == ["clustering.features"]


def test_a_problem_marks_its_key_whatever_its_text(form, qtbot, no_peth_folder, monkeypatch):
    """The form reads the problem's keys, not its words."""
    import dant_core.dataset

    found = [SettingProblem("clustering.n_iter", "too few", message="too few rounds")]
    monkeypatch.setattr(dant_core.dataset, "settings_data_problems", lambda d, s: found)
    _open(form, qtbot, no_peth_folder)
    assert form.invalid_keys() == ["clustering.n_iter"]
    assert form.problems() == ["too few rounds"]
    assert "too few rounds" in form.editors["clustering.n_iter"].toolTip()
