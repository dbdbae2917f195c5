"""Settings schema: defaults, pyDANT files, JSONC, validation messages, template."""

import json
from pathlib import Path

import pytest

from dant_core.errors import SettingsError
from dant_core.jsonc import strip_jsonc
from dant_core.settings import FEATURES, SCHEMA, SCHEMA_BY_KEY, Settings

from .fixtures import fixtures_dir

TEMPLATE = Path(__file__).resolve().parents[2] / "resources" / "settings_template.json"

# pyDANT 1.1.4's defaults (docs/method.md §9), plus our own key
# motionEstimation.initial_motion (issues 7 and 15) and autoCuration.method (issue 15).
PYDANT_DEFAULTS = {
    "path_to_data": ".",
    "output_folder": "./DANT_Output",
    "save_intermediate_results": True,
    "n_jobs": -1,
    "centering_waveforms": False,
    "spikeLocation.location_algorithm": "monopolar_triangulation",
    "spikeLocation.n_nearest_channels": 20,
    "waveformCorrection.n_nearest_channels": 38,
    "waveformCorrection.linear_correction": False,
    "waveformCorrection.n_templates": 2,
    "waveformCorrection.path_to_motion": "",
    "autoCorr.window": 300,
    "autoCorr.binwidth": 1,
    "autoCorr.gaussian_sigma": 5,
    "ISI.window": 100,
    "ISI.binwidth": 1,
    "ISI.gaussian_sigma": 1,
    "motionEstimation.features": [["AutoCorr", "PETH"], ["Waveform", "AutoCorr", "PETH"]],
    "motionEstimation.max_iter": 15,
    "motionEstimation.repeat_last_feature_set": True,
    "motionEstimation.stop_early": True,
    "motionEstimation.initial_motion": "evidence",
    "clustering.max_distance": 100,
    "clustering.features": ["Waveform", "AutoCorr"],
    "clustering.n_iter": 10,
    "clustering.weight_tol": 1e-8,
    "autoCuration.auto_split": True,
    "autoCuration.method": "adaptive",
}


def test_defaults_match_spec_for_every_key():
    settings = Settings.defaults()
    assert set(SCHEMA_BY_KEY) == set(PYDANT_DEFAULTS)
    for key, expected in PYDANT_DEFAULTS.items():
        value = settings.get(key)
        assert value == expected, key
        assert type(value) is not bool or type(expected) is bool, key
    assert settings.problems() == []
    assert FEATURES == ("Waveform", "AutoCorr", "ISI", "PETH")


def test_schema_entries_are_complete():
    for spec in SCHEMA:
        assert spec.help and "\n" not in spec.help
        assert spec.group == (spec.key.rpartition(".")[0])
    assert SCHEMA_BY_KEY["clustering.max_distance"].unit == "µm"
    assert SCHEMA_BY_KEY["clustering.max_distance"].group == "clustering"
    assert SCHEMA_BY_KEY["n_jobs"].group == ""
    assert SCHEMA_BY_KEY["motionEstimation.initial_motion"].choices == (
        "none",
        "registration",
        "evidence",
    )
    assert SCHEMA_BY_KEY["autoCuration.method"].choices == ("adaptive", "pydant")


def test_to_dict_has_pydant_layout():
    data = Settings.defaults().to_dict()
    assert data["clustering"]["max_distance"] == 100
    assert data["motionEstimation"]["features"][1] == ["Waveform", "AutoCorr", "PETH"]
    assert data["path_to_data"] == "."
    assert Settings.from_dict(data) == Settings.defaults()


@pytest.mark.parametrize(
    "relpath, changed",
    [
        ("p1/pydant_A/settings.json", {"n_jobs": 1}),
        (
            "p1/pydant_B/settings.json",
            {
                "centering_waveforms": True,
                "spikeLocation.location_algorithm": "center_of_mass",
                "waveformCorrection.linear_correction": True,
                "waveformCorrection.n_templates": 1,
                "motionEstimation.features": [["Waveform", "ISI"]],
                "clustering.features": ["Waveform", "ISI", "PETH"],
            },
        ),
        (
            "p2/pydant_multishank/settings.json",
            {"motionEstimation.features": [["Waveform", "AutoCorr"]]},
        ),
    ],
)
def test_fixture_settings_load(relpath, changed):
    path = fixtures_dir() / relpath
    settings = Settings.load(path)
    assert settings.warnings == []
    for key, value in changed.items():
        assert settings.get(key) == value, key
    assert settings.get("path_to_data") == ".."
    # The data folder is the fixture folder, one level above the settings file.
    assert settings.resolve_path("path_to_data") == path.parent.parent.absolute()
    assert settings.resolve_path("output_folder") == path.parent.absolute() / "DANT_Output"
    assert settings.resolve_path("path_to_motion") is None


JSONC_TEXT = """\
// pyDANT settings, hand edited
{
  "path_to_data": "http://x//not-a-comment", // a URL-like string keeps its slashes
  /* a block comment
     over two lines */
  "output_folder": "out/* not a comment */",
  "n_jobs": 2,  # hjson-style comment
  "clustering": {
    "max_distance": 80,   // µm
    "features": ["Waveform", "ISI",],   // trailing comma
  },
  "autoCorr": {"window": 200.0, "binwidth": 2, "gaussian_sigma": 0},
}
"""


def test_jsonc_comments_and_trailing_commas(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(JSONC_TEXT, encoding="utf-8")
    settings = Settings.load(path)
    assert settings.get("path_to_data") == "http://x//not-a-comment"
    assert settings.get("output_folder") == "out/* not a comment */"
    assert settings.get("n_jobs") == 2
    assert settings.get("clustering.max_distance") == 80
    assert settings.get("clustering.features") == ["Waveform", "ISI"]
    assert settings.get("autoCorr.window") == 200
    assert settings.get("autoCorr.gaussian_sigma") == 0
    assert settings.get("ISI.window") == 100  # missing -> default
    assert settings.base_dir == tmp_path.absolute()


def test_strip_jsonc_keeps_positions():
    text = '{"a": 1, // c\n "b": "//x" /* y */}'
    stripped = strip_jsonc(text)
    assert len(stripped) == len(text)
    assert json.loads(stripped) == {"a": 1, "b": "//x"}
    assert strip_jsonc('"a\\"//b"') == '"a\\"//b"'  # escaped quote does not end the string


@pytest.mark.parametrize(
    "text, line",
    [
        ('{\n  "n_jobs": 1\n  "centering_waveforms": true\n}', 3),
        ('{\n  "n_jobs": 1,\n  // fine\n  "clustering": {"max_distance": }\n}', 4),
        ('{\n  "n_jobs": 1 /* never closed\n}', 2),
        ("{\n  n_jobs: 1\n}", 2),
    ],
)
def test_syntax_error_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        Settings.load(path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}" in message


def test_load_missing_file_and_non_object(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        Settings.load(tmp_path / "nope.json")
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(SettingsError, match="JSON object"):
        Settings.load(path)


def test_round_trip_save_load(tmp_path):
    settings = Settings.defaults()
    settings.set("clustering.max_distance", 62.5)
    settings.set("clustering.weight_tol", 1e-6)
    settings.set("motionEstimation.features", [["Waveform"], ["Waveform", "ISI", "PETH"]])
    # Quotes survive the round trip (a backslash is read as a separator: test_output_safety).
    settings.set("output_folder", '/data/out "quoted" ü')
    settings.set("waveformCorrection.n_templates", 1.0)
    settings.set("motionEstimation.initial_motion", "none")
    settings.set("spikeLocation.location_algorithm", "center_of_mass")
    path = tmp_path / "settings.json"
    settings.save(path)
    loaded = Settings.load(path)
    assert loaded == settings
    assert loaded.warnings == []
    assert loaded.get("waveformCorrection.n_templates") == 1
    assert isinstance(loaded.get("waveformCorrection.n_templates"), int)
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temp file left
    # Every key carries its help text as a comment.
    text = path.read_text(encoding="utf-8")
    for spec in SCHEMA:
        assert f"// {spec.help}" in text
    assert "(µm, > 0)" in text


def test_template_file_is_current():
    assert TEMPLATE.read_text(encoding="utf-8") == Settings.defaults().to_jsonc()
    assert Settings.load(TEMPLATE) == Settings.defaults()


def test_copy_is_independent():
    a = Settings.defaults()
    b = a.copy()
    b.set("n_jobs", 4)
    assert a.get("n_jobs") == -1 and b.get("n_jobs") == 4
    a.get("clustering.features").append("ISI")  # get returns a copy
    assert a.get("clustering.features") == ["Waveform", "AutoCorr"]


BAD_VALUES = [
    ("clustering.max_distance", -5, "> 0 (µm), got -5"),
    ("clustering.max_distance", 0, "> 0"),
    ("clustering.max_distance", "far", "must be a number"),
    ("spikeLocation.n_nearest_channels", 0, "integer >= 1"),
    ("waveformCorrection.n_nearest_channels", 3.5, "integer >= 1"),
    ("waveformCorrection.n_templates", 3, "1 or 2"),
    ("waveformCorrection.linear_correction", 1, "true or false"),
    ("spikeLocation.location_algorithm", "centroid", '"monopolar_triangulation", "center_of_mass"'),
    ("autoCorr.window", 0, "> 0 (ms)"),
    ("autoCorr.binwidth", -1, "> 0 (ms)"),
    ("ISI.gaussian_sigma", -0.5, ">= 0 (ms)"),
    ("motionEstimation.max_iter", 0, "integer >= 1"),
    ("clustering.n_iter", 0, "integer >= 1"),
    ("clustering.weight_tol", -1e-3, ">= 0"),
    ("n_jobs", 1.5, "integer"),
    ("n_jobs", True, "integer"),
    ("clustering.features", [], "at least one feature"),
    ("clustering.features", ["Waveform", "Wave"], '"Waveform", "AutoCorr", "ISI", "PETH"'),
    ("clustering.features", "Waveform", "list of feature names"),
    ("motionEstimation.features", [], "non-empty list of feature lists"),
    ("motionEstimation.features", [["AutoCorr"], []], "at least one feature"),
    ("motionEstimation.features", [["AutoCorr"], ["PSTH"]], "allowed"),
    ("motionEstimation.initial_motion", "yes", '"none", "registration"'),
    ("output_folder", 3, "path"),
    ("motionEstimation.stop_early", "true", "true or false"),
]


@pytest.mark.parametrize("key, value, allowed", BAD_VALUES)
def test_invalid_value_names_key_and_what_is_allowed(key, value, allowed):
    settings = Settings.defaults()
    with pytest.raises(SettingsError) as info:
        settings.set(key, value)
    assert str(info.value).startswith(key)
    assert allowed in str(info.value)
    assert settings == Settings.defaults()  # a rejected value changes nothing
    # The same value in a file: the error names the file and the key.
    group, _, name = key.rpartition(".")
    data = {group: {name: value}} if group else {name: value}
    with pytest.raises(SettingsError) as info:
        Settings.from_dict(data, source="my_settings.json")
    assert "my_settings.json" in str(info.value) and key in str(info.value)


def test_exact_message_for_negative_distance():
    with pytest.raises(SettingsError) as info:
        Settings.defaults().set("clustering.max_distance", -5)
    assert str(info.value) == "clustering.max_distance: must be a number > 0 (µm), got -5"


def test_all_problems_listed_together():
    data = {"n_jobs": "all", "clustering": {"max_distance": -1, "n_iter": 0}}
    with pytest.raises(SettingsError) as info:
        Settings.from_dict(data)
    message = str(info.value)
    for key in ("n_jobs", "clustering.max_distance", "clustering.n_iter"):
        assert key in message


def test_integral_floats_accepted_as_ints():
    settings = Settings.from_dict({"clustering": {"n_iter": 12.0}, "n_jobs": -1.0})
    assert settings.get("clustering.n_iter") == 12
    assert type(settings.get("clustering.n_iter")) is int


def test_unknown_keys_warn_and_are_ignored():
    data = {"colour": "red", "clustering": {"max_distance": 50, "min_size": 3}}
    settings = Settings.from_dict(data, source="s.json")
    assert settings.get("clustering.max_distance") == 50
    assert any("'colour'" in w for w in settings.warnings)
    assert any("'clustering.min_size'" in w for w in settings.warnings)
    assert "colour" not in json.dumps(settings.to_dict())


def test_section_that_is_not_an_object():
    with pytest.raises(SettingsError, match="clustering: must be an object"):
        Settings.from_dict({"clustering": 5})


def test_flat_feature_list_is_one_set_with_warning():
    settings = Settings.from_dict({"motionEstimation": {"features": ["Waveform", "AutoCorr"]}})
    assert settings.motion_feature_sets() == [["Waveform", "AutoCorr"]]
    assert any("motionEstimation.features" in w for w in settings.warnings)


def test_features_used():
    settings = Settings.defaults()
    assert settings.features_used() == {"Waveform", "AutoCorr", "PETH"}
    settings.set("motionEstimation.features", [["ISI"]])
    assert settings.features_used() == {"Waveform", "AutoCorr", "ISI"}
    assert settings.where_used("ISI") == ["motionEstimation.features[0]"]


def test_manual_motion_requires_waveform_in_first_motion_set():
    settings = Settings.defaults()
    settings.set("waveformCorrection.path_to_motion", "motion.npy")  # single value: accepted
    problems = settings.problems()
    assert len(problems) == 1
    assert "waveformCorrection.path_to_motion" in problems[0]
    assert '"Waveform"' in problems[0] and "motionEstimation.features" in problems[0]
    with pytest.raises(SettingsError, match="path_to_motion"):
        settings.validate()
    settings.set("motionEstimation.features", [["Waveform", "AutoCorr"], ["Waveform"]])
    assert settings.problems() == []
    settings.validate()
    data = {
        "waveformCorrection": {"path_to_motion": "m.npy"},
        "motionEstimation": {"features": [["AutoCorr"], ["Waveform"]]},
    }
    with pytest.raises(SettingsError, match="path_to_motion"):
        Settings.from_dict(data)


def test_binwidth_must_not_exceed_window():
    settings = Settings.defaults()
    settings.set("ISI.binwidth", 150)
    assert settings.problems() == ["ISI.binwidth: must be <= ISI.window (100 ms), got 150"]
    with pytest.raises(SettingsError, match="autoCorr.binwidth"):
        Settings.from_dict({"autoCorr": {"window": 10, "binwidth": 20}})


def test_resolve_path(tmp_path):
    settings = Settings.from_dict(
        {"path_to_data": "data", "output_folder": str(tmp_path / "abs")}, base_dir=tmp_path
    )
    assert settings.resolve_path("path_to_data") == tmp_path / "data"
    assert settings.resolve_path("output_folder") == tmp_path / "abs"
    assert settings.resolve_path("waveformCorrection.path_to_motion") is None
    with pytest.raises(SettingsError):
        settings.resolve_path("n_jobs")


def test_schema_names_the_engine_functions_that_read_each_key():
    from dant_core import features, pipeline, results, tracking_result

    modules = (pipeline, features, results, tracking_result)
    for spec in SCHEMA:
        for name in spec.used_by:
            assert name == "save" or any(hasattr(m, name) for m in modules), (spec.key, name)
    unused = {spec.key for spec in SCHEMA if not spec.used_by}
    assert unused == {"path_to_data", "save_intermediate_results"}
    for key in unused:
        assert "Not read by DANT Desktop" in SCHEMA_BY_KEY[key].help


def test_problems_are_structured_as_key_and_problem():
    from dant_core.errors import SettingProblem

    with pytest.raises(SettingsError) as caught:
        Settings.from_dict({"clustering": {"max_distance": -1, "n_iter": "x"}})
    assert [p.key for p in caught.value.problems] == [
        "clustering.max_distance",
        "clustering.n_iter",
    ]
    assert caught.value.problems[0].problem == "must be a number > 0 (µm), got -1"
    with pytest.raises(SettingsError) as caught:
        Settings.from_dict({"autoCorr": {"window": 5, "binwidth": 10}})
    assert caught.value.problems == (
        SettingProblem(
            "autoCorr.binwidth",
            "must be <= autoCorr.window (5 ms), got 10",
            also=("autoCorr.window",),
        ),
    )
    assert caught.value.problems[0].setting_keys == ("autoCorr.binwidth", "autoCorr.window")
    assert str(caught.value.problems[0]) == (
        "autoCorr.binwidth: must be <= autoCorr.window (5 ms), got 10"
    )
    settings = Settings.defaults()
    settings._values["clustering.n_iter"] = 0  # as a form could leave it before validation
    assert settings.problem_list() == [
        SettingProblem("clustering.n_iter", "must be an integer >= 1, got 0")
    ]
    assert settings.problems() == ["clustering.n_iter: must be an integer >= 1, got 0"]


def test_typed_view_holds_every_value_the_engine_reads():
    settings = Settings.defaults()
    settings.set("clustering.max_distance", 80)
    settings.set("motionEstimation.features", [["ISI"], ["Waveform", "ISI"]])
    settings.set("motionEstimation.repeat_last_feature_set", False)
    typed = settings.typed()
    assert typed.clustering.max_distance == 80.0 and typed.clustering.n_iter == 10
    assert typed.motion.features == (("ISI",), ("Waveform", "ISI"))
    assert typed.motion.n_passes == 2 and typed.motion.feature_set(5) == ("Waveform", "ISI")
    assert typed.auto_corr.as_args() == (300.0, 1.0, 5.0)
    assert typed.features_used == {"ISI", "Waveform", "AutoCorr"}
    assert typed.waveform_correction.path_to_motion is None


def test_problems_of_the_data_name_their_keys(tmp_path, monkeypatch):
    """settings_data_problems: one structured problem per cause; check_dataset_for_settings
    raises their messages unchanged."""
    import dant_core.memory
    from dant_core.dataset import (
        DatasetError,
        check_dataset_for_settings,
        load_dataset,
        settings_data_problems,
    )
    from dant_core.synthetic import make_demo

    make_demo(tmp_path / "data", n_units=30, n_sessions=2, seed=4, with_peth=False)
    data = load_dataset(tmp_path / "data")
    settings = Settings.defaults()
    settings.set("clustering.features", ["Waveform", "PETH"])
    monkeypatch.setattr(dant_core.memory, "physical_memory_bytes", lambda: 10**5)
    peth, acg, isi = settings_data_problems(data, settings)
    assert peth.setting_keys == ("motionEstimation.features", "clustering.features")
    assert peth.keys[:2] == ("motionEstimation.features[0]", "motionEstimation.features[1]")
    assert str(peth).startswith('peth.npy: file is missing but "PETH" is used in')
    assert acg.setting_keys == ("autoCorr.binwidth", "autoCorr.window")
    assert isi.setting_keys == ("ISI.binwidth", "ISI.window")
    assert str(isi).startswith("ISI.window / ISI.binwidth = 100 / 1 ms: the ISI features")
    with pytest.raises(DatasetError) as caught:
        check_dataset_for_settings(data, settings)
    assert str(caught.value).splitlines()[1:] == [f"  - {p}" for p in (peth, acg, isi)]
