"""The settings schema: one declaration per key (type, default, range, help, the stages that
read it), and the checks of values against it. Problems are structured: (key, problem).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field

from .errors import SettingProblem, SettingsError

FEATURES = ("Waveform", "AutoCorr", "ISI", "PETH")

KINDS = ("bool", "int", "float", "str", "path", "choice", "features", "feature_sets")


@dataclass(frozen=True)
class SettingSpec:
    """One settings key: its type, default, allowed values and one-line help.

    used_by: the functions of the engine that read it (pipeline stages, `compute_unit_features`,
    `load_result`, `engine_threads`, `save`); empty for keys kept for pyDANT only.
    """

    key: str
    kind: str
    default: object
    help: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    # True when `minimum` itself is not allowed (e.g. "window > 0").
    min_exclusive: bool = False
    used_by: tuple[str, ...] = ()
    group: str = field(init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.key}: unknown kind {self.kind!r}")
        head, _, _ = self.key.rpartition(".")
        object.__setattr__(self, "group", head)

    @property
    def name(self) -> str:
        """The last part of the dotted key, as it appears in the JSON file."""
        return self.key.rpartition(".")[2]

    def allowed(self) -> str:
        """What values are allowed, in words: '> 0', 'one of "a", "b"', ... ('' when any)."""
        if self.choices:
            return "one of " + ", ".join(_show(c) for c in self.choices)
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.min_exclusive else '>='} {_number(self.minimum)}")
        if self.maximum is not None:
            parts.append(f"<= {_number(self.maximum)}")
        if self.kind == "features":
            parts.append("names from " + ", ".join(FEATURES))
        if self.kind == "feature_sets":
            parts.append("lists of names from " + ", ".join(FEATURES))
        return " and ".join(parts)

    def describe(self) -> str:
        """The help text with unit and range, as written in the settings file comment."""
        extra = ", ".join(p for p in (self.unit, self.allowed()) if p)
        return f"{self.help} ({extra})" if extra else self.help


SECTIONS = {
    "": "General",
    "spikeLocation": "Unit location",
    "waveformCorrection": "Waveform correction",
    "autoCorr": "Autocorrelogram",
    "ISI": "Inter-spike-interval histogram",
    "motionEstimation": "Motion estimation",
    "clustering": "Clustering",
    "autoCuration": "Auto-curation",
}

SCHEMA: tuple[SettingSpec, ...] = (
    SettingSpec(
        "path_to_data",
        "path",
        ".",
        "pyDANT's data folder, relative to this settings file. Not read by DANT Desktop: the data"
        " folder is the one given to `dant track` or opened in the window",
        used_by=(),
    ),
    SettingSpec(
        "output_folder",
        "path",
        "./DANT_Output",
        "Folder the results are written to, relative to this settings file",
        used_by=("save",),
    ),
    SettingSpec(
        "save_intermediate_results",
        "bool",
        True,
        "pyDANT: also write the per-feature similarity matrices. Not read by DANT Desktop,"
        " which always writes them",
        used_by=(),
    ),
    SettingSpec(
        "n_jobs",
        "int",
        -1,
        "Number of parallel workers; -1 uses every core",
        used_by=("engine_threads",),
    ),
    SettingSpec(
        "centering_waveforms",
        "bool",
        False,
        "Shift each waveform so the trough of its peak channel sits at the centre sample",
        used_by=("compute_unit_features", "load_result"),
    ),
    SettingSpec(
        "spikeLocation.location_algorithm",
        "choice",
        "monopolar_triangulation",
        "How a unit's position is estimated from its amplitude on the channels",
        choices=("monopolar_triangulation", "center_of_mass"),
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "spikeLocation.n_nearest_channels",
        "int",
        20,
        "Channels nearest the peak channel used to locate a unit",
        minimum=1,
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "waveformCorrection.n_nearest_channels",
        "int",
        38,
        "Channels nearest the peak channel (same shank) used to compare waveforms",
        minimum=1,
        used_by=("cluster", "load_result"),
    ),
    SettingSpec(
        "waveformCorrection.linear_correction",
        "bool",
        False,
        "Let motion change linearly with depth instead of moving the whole probe rigidly",
        used_by=("estimate_shank_motion",),
    ),
    SettingSpec(
        "waveformCorrection.n_templates",
        "int",
        2,
        "Reference positions each waveform is corrected to",
        choices=(1, 2),
        used_by=("correct",),
    ),
    SettingSpec(
        "waveformCorrection.path_to_motion",
        "path",
        "",
        "Known motion per session (.npy: S values, or 2xS [k; b]) to start from; empty = none",
        used_by=("start_motion", "run_motion_loop"),
    ),
    SettingSpec(
        "autoCorr.window",
        "float",
        300,
        "Largest lag of the autocorrelogram",
        unit="ms",
        minimum=0,
        min_exclusive=True,
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "autoCorr.binwidth",
        "float",
        1,
        "Bin width of the autocorrelogram; at most the window",
        unit="ms",
        minimum=0,
        min_exclusive=True,
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "autoCorr.gaussian_sigma",
        "float",
        5,
        "Gaussian smoothing of the autocorrelogram",
        unit="ms",
        minimum=0,
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "ISI.window",
        "float",
        100,
        "Longest interval in the inter-spike-interval histogram",
        unit="ms",
        minimum=0,
        min_exclusive=True,
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "ISI.binwidth",
        "float",
        1,
        "Bin width of the inter-spike-interval histogram; at most the window",
        unit="ms",
        minimum=0,
        min_exclusive=True,
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "ISI.gaussian_sigma",
        "float",
        1,
        "Gaussian smoothing of the inter-spike-interval histogram",
        unit="ms",
        minimum=0,
        used_by=("compute_unit_features",),
    ),
    SettingSpec(
        "motionEstimation.features",
        "feature_sets",
        (("AutoCorr", "PETH"), ("Waveform", "AutoCorr", "PETH")),
        "Feature set of the clustering in each motion pass, in order",
        used_by=("run_motion_loop", "compute_unit_features"),
    ),
    SettingSpec(
        "motionEstimation.max_iter",
        "int",
        15,
        "Most motion-estimation passes",
        minimum=1,
        used_by=("run_motion_loop",),
    ),
    SettingSpec(
        "motionEstimation.repeat_last_feature_set",
        "bool",
        True,
        "Keep using the last feature set until max_iter passes (else one pass per set)",
        used_by=("run_motion_loop",),
    ),
    SettingSpec(
        "motionEstimation.stop_early",
        "bool",
        True,
        "Stop when a pass matches no more unit pairs than the one before",
        used_by=("run_motion_loop",),
    ),
    SettingSpec(
        "motionEstimation.initial_motion",
        "choice",
        "evidence",
        "Starting motion: 'evidence' runs one clustering pass from each candidate start"
        " (zero, the registration of the sessions' unit distributions, the manual motion when"
        " given) and continues from the one with more matched pairs and at least as good a"
        " separation of matched and unmatched similarities; 'registration' uses the"
        " registration when it finds more than half of max_distance of drift; 'none' starts"
        " at zero (or the manual motion) exactly as pyDANT does",
        choices=("none", "registration", "evidence"),
        used_by=("start_motion",),
    ),
    SettingSpec(
        "clustering.max_distance",
        "float",
        100,
        "Candidate pairs: units whose motion-corrected depths differ by at most this are"
        " candidates for a match (LDA, threshold, motion estimate, adaptive curation). Not a"
        " bound on a cluster: the clustering graph reaches 2x this (GRAPH_WINDOW_FACTOR);"
        ' with initial_motion "registration" the registered start is used when its drift'
        " exceeds 0.5x this (REGISTRATION_MIN_SPAN)",
        unit="µm",
        minimum=0,
        min_exclusive=True,
        used_by=("start_motion", "cluster"),
    ),
    SettingSpec(
        "clustering.features",
        "features",
        ("Waveform", "AutoCorr"),
        "Features of the final clustering",
        used_by=("cluster_final", "compute_unit_features", "load_result"),
    ),
    SettingSpec(
        "clustering.n_iter",
        "int",
        10,
        "Most clustering/reweighting rounds in one clustering run",
        minimum=1,
        used_by=("cluster",),
    ),
    SettingSpec(
        "clustering.weight_tol",
        "float",
        1e-8,
        "Stop reweighting when the feature weights change by less than this",
        minimum=0,
        used_by=("cluster",),
    ),
    SettingSpec(
        "autoCuration.auto_split",
        "bool",
        True,
        "Split a cluster into the parts whose units are good matches of each other",
        used_by=("curate_shank",),
    ),
    SettingSpec(
        "autoCuration.method",
        "choice",
        "adaptive",
        "'adaptive' (default; more neurons tracked at pyDANT's precision or better on every"
        " benchmark set, see benchmarks/README.md): the split threshold depends on the"
        " amplitude (small neurons' recordings correlate less), a cluster with two units of"
        " one session is re-clustered instead of dropping one, two clusters of one neuron"
        " merge and unmatched units may rejoin a cluster (every link positive, mutual-best);"
        " every decision is saved in AutoCuration.json. 'pydant': pyDANT's curation exactly"
        " (one global threshold, the weaker unit of a session conflict dropped)",
        choices=("adaptive", "pydant"),
        used_by=("curate_shank",),
    ),
)

SCHEMA_BY_KEY: dict[str, SettingSpec] = {spec.key: spec for spec in SCHEMA}

# Path keys may be named by their last part in `resolve_path` ("path_to_motion").
_PATH_KEYS = {spec.name: spec.key for spec in SCHEMA if spec.kind == "path"}


def spec_for(key: str) -> SettingSpec:
    """The schema entry of a dotted key; SettingsError when there is none."""
    try:
        return SCHEMA_BY_KEY[key]
    except KeyError:
        raise SettingsError(f"unknown setting {key!r}") from None


def groups() -> list[str]:
    """Top-level sections in schema order ('' for the top-level keys)."""
    seen: list[str] = []
    for spec in SCHEMA:
        if spec.group not in seen:
            seen.append(spec.group)
    return seen


# ---------------------------------------------------------------------------------------
# Value checking


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _show(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _is_int_like(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_ok(spec: SettingSpec, x: float) -> bool:
    if spec.minimum is not None:
        if x < spec.minimum or (spec.min_exclusive and x == spec.minimum):
            return False
    return spec.maximum is None or x <= spec.maximum


_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:([\\/]|$)")


def _portable_path(spec: SettingSpec, value: str) -> str:
    """A path setting that means the same on every system: a backslash (Windows, as in the
    pyDANT tutorial's ".\\DANT_Output") is a separator; a drive letter or a network share
    cannot mean anything on Linux or macOS and is refused."""
    if os.name == "nt":
        return value
    if _WINDOWS_DRIVE.match(value) or value.startswith("\\\\"):
        raise _error(
            spec.key,
            f"{_show(value)} is a Windows path (a drive letter or a network "
            "share), which does not exist on this system; give the folder as this system "
            'names it, e.g. "/home/me/DANT_Output", or relative to the settings file, '
            'e.g. "./DANT_Output"',
        )
    return value.replace("\\", "/")


def _error(key: str, problem: str) -> SettingsError:
    """The SettingsError of one problem with one key ("key: problem")."""
    return SettingsError(f"{key}: {problem}", (SettingProblem(key, problem),))


def _must(spec: SettingSpec, what: str, value: object) -> SettingsError:
    unit = f" ({spec.unit})" if spec.unit else ""
    return _error(spec.key, f"must be {what}{unit}, got {_show(value)}")


def _check_feature_list(key: str, value: object) -> tuple[str, ...]:
    allowed = ", ".join(f'"{f}"' for f in FEATURES)
    if not isinstance(value, (list, tuple)):
        raise _error(key, f"must be a list of feature names from {allowed}, got {_show(value)}")
    if len(value) == 0:
        raise _error(key, f"must name at least one feature from {allowed}, got []")
    names = []
    for name in value:
        if not isinstance(name, str) or name not in FEATURES:
            raise _error(key, f"unknown feature {_show(name)}; allowed: {allowed}")
        if name in names:
            raise _error(key, f'lists feature "{name}" twice')
        names.append(name)
    return tuple(names)


def check_value(key: str, value: object) -> tuple[object, list[str]]:
    """Check one value against the schema; return (normalised value, warnings).

    Raises SettingsError naming the key and what is allowed. Normalised means: ints as
    int, floats as float, feature lists as tuples of str, feature sets as tuples of tuples.
    """
    spec = spec_for(key)
    warnings: list[str] = []
    kind = spec.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise _must(spec, "true or false", value)
        return value, warnings
    if kind == "int":
        if not _is_int_like(value):
            what = "an integer"
            if spec.choices:
                what = " or ".join(_show(c) for c in spec.choices)
            elif spec.allowed():
                what = f"an integer {spec.allowed()}"
            raise _must(spec, what, value)
        value = int(value)
        if spec.choices and value not in spec.choices:
            raise _must(spec, " or ".join(_show(c) for c in spec.choices), value)
        if not _range_ok(spec, value):
            raise _must(spec, f"an integer {spec.allowed()}", value)
        if key == "n_jobs" and value == 0:
            raise _must(spec, "a non-zero integer (-1 = every core)", value)
        return value, warnings
    if kind == "float":
        what = f"a number {spec.allowed()}".rstrip()
        if not _is_number(value) or not math.isfinite(value):
            raise _must(spec, what, value)
        if not _range_ok(spec, value):
            raise _must(spec, what, value)
        return float(value), warnings
    if kind in ("str", "path"):
        if not isinstance(value, str):
            what = 'a path (a string; "" for none)' if kind == "path" else "a string"
            raise _must(spec, what, value)
        return (_portable_path(spec, value) if kind == "path" else value), warnings
    if kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise _must(spec, spec.allowed(), value)
        return value, warnings
    if kind == "features":
        return _check_feature_list(key, value), warnings
    if kind == "feature_sets":
        example = '[["AutoCorr", "PETH"], ["Waveform", "AutoCorr", "PETH"]]'
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            raise _error(
                key,
                f"must be a non-empty list of feature lists, e.g. {example}, got {_show(value)}",
            )
        if all(isinstance(v, str) for v in value):
            sets = (_check_feature_list(key, value),)
            warnings.append(
                f"{key}: a single list of feature names was read as one feature set "
                f"{_show(list(sets[0]))}; write it as a list of lists, e.g. {example}"
            )
            return sets, warnings
        sets = []
        for i, one in enumerate(value):
            if not isinstance(one, (list, tuple)):
                raise _error(
                    f"{key}[{i}]",
                    f"must be a list of feature names, e.g. {example}, got {_show(one)}",
                )
            sets.append(_check_feature_list(f"{key}[{i}]", one))
        return tuple(sets), warnings
    raise AssertionError(kind)  # pragma: no cover - kinds are checked in SettingSpec


# At most this many bins per unit in an autocorrelogram or ISI histogram: a 0.01 ms bin
# over 1 s. Narrower bins than the sampling period (1/30 ms on Neuropixels) hold nothing,
# and 20,000 units of 100,000 bins already take 16 GB (dant_core/memory.py checks the
# machine's memory too).
MAX_HISTOGRAM_BINS = 100_000


def cross_key_problems(values: dict[str, object]) -> list[SettingProblem]:
    """Problems between keys (each value is valid alone)."""
    problems = []
    for section in ("autoCorr", "ISI"):
        window, binwidth = values[f"{section}.window"], values[f"{section}.binwidth"]
        if binwidth > window:
            problems.append(
                SettingProblem(
                    f"{section}.binwidth",
                    f"must be <= {section}.window ({_number(window)} ms), got {_number(binwidth)}",
                    also=(f"{section}.window",),
                )
            )
        elif window / binwidth > MAX_HISTOGRAM_BINS:
            problems.append(
                SettingProblem(
                    f"{section}.binwidth",
                    f"must be >= {section}.window / {MAX_HISTOGRAM_BINS:,} "
                    f"({_number(window / MAX_HISTOGRAM_BINS)} ms), got {_number(binwidth)} "
                    f"({window / binwidth:,.0f} bins per unit)",
                    also=(f"{section}.window",),
                )
            )
    if values["waveformCorrection.path_to_motion"]:
        first = values["motionEstimation.features"][0]
        if "Waveform" not in first:
            problems.append(
                SettingProblem(
                    "waveformCorrection.path_to_motion",
                    "a manual motion requires the first feature set of "
                    f'motionEstimation.features to include "Waveform", got {_show(list(first))}',
                    also=("motionEstimation.features",),
                )
            )
    return problems
