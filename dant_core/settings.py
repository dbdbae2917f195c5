"""The settings schema: one declaration per key drives defaults, validation, JSONC I/O, GUI form.

pyDANT reads `settings.json` with hjson; the files in use are JSON with `//` comments.
We read JSON with `//`, `#` and `/* */` comments and trailing commas, and write nested
JSON with a `// help (unit, range)` comment above each key, which pyDANT reads back.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .atomic_file import create_temp_beside
from .errors import SettingsError
from .jsonc import parse_jsonc

FEATURES = ("Waveform", "AutoCorr", "ISI", "PETH")

KINDS = ("bool", "int", "float", "str", "path", "choice", "features", "feature_sets")


@dataclass(frozen=True)
class SettingSpec:
    """One settings key: its type, default, allowed values and one-line help."""

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
    ),
    SettingSpec(
        "output_folder",
        "path",
        "./DANT_Output",
        "Folder the results are written to, relative to this settings file",
    ),
    SettingSpec(
        "save_intermediate_results",
        "bool",
        True,
        "pyDANT: also write the per-feature similarity matrices. Not read by DANT Desktop,"
        " which always writes them",
    ),
    SettingSpec("n_jobs", "int", -1, "Number of parallel workers; -1 uses every core"),
    SettingSpec(
        "centering_waveforms",
        "bool",
        False,
        "Shift each waveform so the trough of its peak channel sits at the centre sample",
    ),
    SettingSpec(
        "spikeLocation.location_algorithm",
        "choice",
        "monopolar_triangulation",
        "How a unit's position is estimated from its amplitude on the channels",
        choices=("monopolar_triangulation", "center_of_mass"),
    ),
    SettingSpec(
        "spikeLocation.n_nearest_channels",
        "int",
        20,
        "Channels nearest the peak channel used to locate a unit",
        minimum=1,
    ),
    SettingSpec(
        "waveformCorrection.n_nearest_channels",
        "int",
        38,
        "Channels nearest the peak channel (same shank) used to compare waveforms",
        minimum=1,
    ),
    SettingSpec(
        "waveformCorrection.linear_correction",
        "bool",
        False,
        "Let motion change linearly with depth instead of moving the whole probe rigidly",
    ),
    SettingSpec(
        "waveformCorrection.n_templates",
        "int",
        2,
        "Reference positions each waveform is corrected to",
        choices=(1, 2),
    ),
    SettingSpec(
        "waveformCorrection.path_to_motion",
        "path",
        "",
        "Known motion per session (.npy: S values, or 2xS [k; b]) to start from; empty = none",
    ),
    SettingSpec(
        "autoCorr.window",
        "float",
        300,
        "Largest lag of the autocorrelogram",
        unit="ms",
        minimum=0,
        min_exclusive=True,
    ),
    SettingSpec(
        "autoCorr.binwidth",
        "float",
        1,
        "Bin width of the autocorrelogram; at most the window",
        unit="ms",
        minimum=0,
        min_exclusive=True,
    ),
    SettingSpec(
        "autoCorr.gaussian_sigma",
        "float",
        5,
        "Gaussian smoothing of the autocorrelogram",
        unit="ms",
        minimum=0,
    ),
    SettingSpec(
        "ISI.window",
        "float",
        100,
        "Longest interval in the inter-spike-interval histogram",
        unit="ms",
        minimum=0,
        min_exclusive=True,
    ),
    SettingSpec(
        "ISI.binwidth",
        "float",
        1,
        "Bin width of the inter-spike-interval histogram; at most the window",
        unit="ms",
        minimum=0,
        min_exclusive=True,
    ),
    SettingSpec(
        "ISI.gaussian_sigma",
        "float",
        1,
        "Gaussian smoothing of the inter-spike-interval histogram",
        unit="ms",
        minimum=0,
    ),
    SettingSpec(
        "motionEstimation.features",
        "feature_sets",
        (("AutoCorr", "PETH"), ("Waveform", "AutoCorr", "PETH")),
        "Feature set of the clustering in each motion pass, in order",
    ),
    SettingSpec(
        "motionEstimation.max_iter",
        "int",
        15,
        "Most motion-estimation passes",
        minimum=1,
    ),
    SettingSpec(
        "motionEstimation.repeat_last_feature_set",
        "bool",
        True,
        "Keep using the last feature set until max_iter passes (else one pass per set)",
    ),
    SettingSpec(
        "motionEstimation.stop_early",
        "bool",
        True,
        "Stop when a pass matches no more unit pairs than the one before",
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
    ),
    SettingSpec(
        "clustering.features",
        "features",
        ("Waveform", "AutoCorr"),
        "Features of the final clustering",
    ),
    SettingSpec(
        "clustering.n_iter",
        "int",
        10,
        "Most clustering/reweighting rounds in one clustering run",
        minimum=1,
    ),
    SettingSpec(
        "clustering.weight_tol",
        "float",
        1e-8,
        "Stop reweighting when the feature weights change by less than this",
        minimum=0,
    ),
    SettingSpec(
        "autoCuration.auto_split",
        "bool",
        True,
        "Split a cluster into the parts whose units are good matches of each other",
    ),
    SettingSpec(
        "autoCuration.method",
        "choice",
        "pydant",
        "'adaptive' (opt-in; it raises recall but can keep a wrong unit, see"
        " benchmarks/README.md): the split threshold depends on the pair's amplitude"
        " (small neurons' recordings correlate less), a cluster with two units of one session is"
        " re-clustered instead of dropping one, and unmatched units may rejoin a cluster"
        " (mutual-best, positive margin); every decision is saved in AutoCuration.json."
        " 'pydant': pyDANT's curation exactly (one global threshold, the weaker unit of a"
        " session conflict dropped)",
        choices=("adaptive", "pydant"),
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
        raise SettingsError(
            f"{spec.key}: {_show(value)} is a Windows path (a drive letter or a network "
            "share), which does not exist on this system; give the folder as this system "
            'names it, e.g. "/home/me/DANT_Output", or relative to the settings file, '
            'e.g. "./DANT_Output"'
        )
    return value.replace("\\", "/")


def _must(spec: SettingSpec, what: str, value: object) -> SettingsError:
    unit = f" ({spec.unit})" if spec.unit else ""
    return SettingsError(f"{spec.key}: must be {what}{unit}, got {_show(value)}")


def _check_feature_list(key: str, value: object) -> tuple[str, ...]:
    allowed = ", ".join(f'"{f}"' for f in FEATURES)
    if not isinstance(value, (list, tuple)):
        raise SettingsError(
            f"{key}: must be a list of feature names from {allowed}, got {_show(value)}"
        )
    if len(value) == 0:
        raise SettingsError(f"{key}: must name at least one feature from {allowed}, got []")
    names = []
    for name in value:
        if not isinstance(name, str) or name not in FEATURES:
            raise SettingsError(f"{key}: unknown feature {_show(name)}; allowed: {allowed}")
        if name in names:
            raise SettingsError(f'{key}: lists feature "{name}" twice')
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
            raise SettingsError(
                f"{key}: must be a non-empty list of feature lists, e.g. {example}, "
                f"got {_show(value)}"
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
                raise SettingsError(
                    f"{key}[{i}]: must be a list of feature names, e.g. {example}, got {_show(one)}"
                )
            sets.append(_check_feature_list(f"{key}[{i}]", one))
        return tuple(sets), warnings
    raise AssertionError(kind)  # pragma: no cover - kinds are checked in SettingSpec


# At most this many bins per unit in an autocorrelogram or ISI histogram: a 0.01 ms bin
# over 1 s. Narrower bins than the sampling period (1/30 ms on Neuropixels) hold nothing,
# and 20,000 units of 100,000 bins already take 16 GB (dant_core/memory.py checks the
# machine's memory too).
MAX_HISTOGRAM_BINS = 100_000


def _cross_key_problems(values: dict[str, object]) -> list[str]:
    problems = []
    for section in ("autoCorr", "ISI"):
        window, binwidth = values[f"{section}.window"], values[f"{section}.binwidth"]
        if binwidth > window:
            problems.append(
                f"{section}.binwidth: must be <= {section}.window ({_number(window)} ms), "
                f"got {_number(binwidth)}"
            )
        elif window / binwidth > MAX_HISTOGRAM_BINS:
            problems.append(
                f"{section}.binwidth: must be >= {section}.window / {MAX_HISTOGRAM_BINS:,} "
                f"({_number(window / MAX_HISTOGRAM_BINS)} ms), got {_number(binwidth)} "
                f"({window / binwidth:,.0f} bins per unit)"
            )
    if values["waveformCorrection.path_to_motion"]:
        first = values["motionEstimation.features"][0]
        if "Waveform" not in first:
            problems.append(
                "waveformCorrection.path_to_motion: a manual motion requires the first "
                'feature set of motionEstimation.features to include "Waveform", '
                f"got {_show(list(first))}"
            )
    return problems


# ---------------------------------------------------------------------------------------
# JSON with comments


def _json_value(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        # pyDANT's files write whole numbers without ".0"; keep that look.
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_json_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# Settings


class Settings:
    """A complete, validated set of values for every key of SCHEMA.

    Two Settings are equal when all their values are; `warnings` and `base_dir` are
    not compared.
    """

    def __init__(self, values: dict[str, object], warnings: Iterable[str] = (), base_dir=None):
        self._values = dict(values)
        self.warnings: list[str] = list(warnings)
        self.base_dir: Path | None = Path(base_dir) if base_dir is not None else None

    # -- construction ---------------------------------------------------------------

    @classmethod
    def defaults(cls) -> Settings:
        values = {}
        for spec in SCHEMA:
            values[spec.key], _ = check_value(spec.key, spec.default)
        return cls(values)

    @classmethod
    def from_dict(cls, data: dict, source: str = "settings", base_dir=None) -> Settings:
        """Settings from pyDANT's nested dict (dotted keys accepted too); missing keys -> defaults.

        Raises SettingsError listing every invalid value and cross-key problem; unknown
        keys become warnings.
        """
        if not isinstance(data, dict):
            raise SettingsError(
                f"{source}: must be a mapping of settings, got {type(data).__name__}"
            )
        settings = cls.defaults()
        settings.base_dir = Path(base_dir) if base_dir is not None else None
        problems: list[str] = []
        warnings: list[str] = []

        def take(key: str, value: object) -> None:
            try:
                settings._values[key], notes = check_value(key, value)
                warnings.extend(notes)
            except SettingsError as exc:
                problems.append(str(exc))

        section_names = {spec.group for spec in SCHEMA if spec.group}
        for name, value in data.items():
            if name in SCHEMA_BY_KEY:
                take(name, value)
            elif name in section_names:
                if not isinstance(value, dict):
                    known = [s.name for s in SCHEMA if s.group == name]
                    problems.append(
                        f"{name}: must be an object with keys {', '.join(known)}, "
                        f"got {_show(value)}"
                    )
                    continue
                for sub, subvalue in value.items():
                    key = f"{name}.{sub}"
                    if key in SCHEMA_BY_KEY:
                        take(key, subvalue)
                    else:
                        warnings.append(f"{source}: unknown setting {key!r} is ignored")
            else:
                warnings.append(f"{source}: unknown setting {name!r} is ignored")
        if not problems:
            problems = _cross_key_problems(settings._values)
        if problems:
            if len(problems) == 1:
                raise SettingsError(f"{source}: {problems[0]}")
            raise SettingsError(
                f"{source}: {len(problems)} invalid settings:\n"
                + "\n".join(f"  - {p}" for p in problems)
            )
        settings.warnings = warnings
        return settings

    @classmethod
    def load(cls, path) -> Settings:
        """Read a settings file (JSON with comments); relative paths resolve against its folder."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise SettingsError(f"{path}: settings file not found") from None
        except IsADirectoryError:
            raise SettingsError(f"{path}: is a folder, not a settings file") from None
        except UnicodeDecodeError as exc:
            raise SettingsError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
        except OSError as exc:
            raise SettingsError(f"{path}: cannot be read ({exc.strerror})") from None
        data, warnings = parse_jsonc(text, str(path))
        settings = cls.from_dict(data, source=str(path), base_dir=path.parent.absolute())
        settings.warnings = warnings + settings.warnings
        return settings

    # -- access ---------------------------------------------------------------------

    def get(self, key: str):
        """The value of a dotted key (lists are fresh copies)."""
        spec = spec_for(key)
        value = self._values[key]
        if spec.kind == "features":
            return list(value)
        if spec.kind == "feature_sets":
            return [list(s) for s in value]
        return value

    def set(self, key: str, value) -> None:
        """Set one value after checking it alone (cross-key rules: see `problems`)."""
        normalised, notes = check_value(key, value)
        self._values[key] = normalised
        self.warnings.extend(notes)

    def __getitem__(self, key: str):
        return self.get(key)

    def problems(self) -> list[str]:
        """Every invalid value and cross-key problem, one message each; empty when fine."""
        found = []
        for spec in SCHEMA:
            try:
                check_value(spec.key, self._values[spec.key])
            except SettingsError as exc:
                found.append(str(exc))
        if not found:
            found = _cross_key_problems(self._values)
        return found

    def validate(self) -> None:
        """Raise SettingsError listing all problems, if any."""
        problems = self.problems()
        if problems:
            raise SettingsError("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))

    def motion_feature_sets(self) -> list[list[str]]:
        return self.get("motionEstimation.features")

    def features_used(self) -> set[str]:
        """Every feature named in the motion feature sets or the final clustering."""
        used = set(self._values["clustering.features"])
        for one in self._values["motionEstimation.features"]:
            used.update(one)
        return used

    def where_used(self, feature: str) -> list[str]:
        """Keys naming a feature, e.g. ['motionEstimation.features[0]', 'clustering.features']."""
        keys = [
            f"motionEstimation.features[{i}]"
            for i, one in enumerate(self._values["motionEstimation.features"])
            if feature in one
        ]
        if feature in self._values["clustering.features"]:
            keys.append("clustering.features")
        return keys

    def resolve_path(self, key: str) -> Path | None:
        """Absolute path of a path setting ('' -> None); relative to `base_dir` (else the cwd)."""
        key = _PATH_KEYS.get(key, key)
        if spec_for(key).kind != "path":
            raise SettingsError(f"{key}: is not a path setting")
        value = self._values[key]
        if value == "":
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (self.base_dir if self.base_dir is not None else Path.cwd()) / path
        return Path(os.path.normpath(path.absolute()))

    def copy(self) -> Settings:
        return Settings(self._values, self.warnings, self.base_dir)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return self._values == other._values

    def __repr__(self) -> str:
        changed = {
            k: v
            for k, v in self._values.items()
            if v != check_value(k, SCHEMA_BY_KEY[k].default)[0]
        }
        return f"Settings(changed from defaults: {changed})"

    # -- output ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Nested dict in pyDANT's layout (lists, not tuples)."""
        data: dict = {}
        for spec in SCHEMA:
            value = self.get(spec.key)
            if spec.kind == "float" and value.is_integer():
                value = int(value)
            target = data.setdefault(spec.group, {}) if spec.group else data
            target[spec.name] = value
        return data

    def to_jsonc(self) -> str:
        """Nested JSON with a `// help (unit, range)` comment above each key."""
        lines = ["{"]
        # Build section by section so commas land right.
        blocks: list[list[str]] = []
        for group in groups():
            specs = [s for s in SCHEMA if s.group == group]
            if group == "":
                for spec in specs:
                    blocks.append(self._key_lines(spec, "  "))
            else:
                block = [f"  // {SECTIONS.get(group, group)}", f'  "{group}": {{']
                for k, spec in enumerate(specs):
                    key_lines = self._key_lines(spec, "    ")
                    if k < len(specs) - 1:
                        key_lines[-1] += ","
                    block.extend(key_lines)
                block.append("  }")
                blocks.append(block)
        for k, block in enumerate(blocks):
            if k < len(blocks) - 1:
                block[-1] += ","
            lines.extend(block)
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _key_lines(self, spec: SettingSpec, indent: str) -> list[str]:
        return [
            f"{indent}// {spec.describe()}",
            f'{indent}"{spec.name}": {_json_value(self._values[spec.key])}',
        ]

    def save(self, path) -> None:
        """Write `to_jsonc()` atomically (temp file in the same folder, then os.replace)."""
        path = Path(path)
        text = self.to_jsonc()
        try:
            fd, tmp = create_temp_beside(path)
        except OSError as exc:
            raise SettingsError(f"{path}: cannot write settings ({exc.strerror})") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise SettingsError(f"{path}: cannot write settings ({exc})") from exc
            raise
