"""A complete set of settings: reading and writing pyDANT's settings files, checking, access.

The keys, their defaults and checks are declared in settings_schema.py; JSON with comments
is read by jsonc.py; `Settings.typed()` gives the engine its typed view (engine_settings.py).
We write nested JSON with a `// help (unit, range)` comment above each key, which pyDANT
reads back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .atomic_file import create_temp_beside
from .engine_settings import EngineSettings, engine_settings
from .errors import SettingProblem, SettingsError
from .jsonc import json_value, parse_jsonc, strip_jsonc
from .settings_schema import (
    _PATH_KEYS,
    FEATURES,
    SCHEMA,
    SCHEMA_BY_KEY,
    SECTIONS,
    SettingSpec,
    _show,
    check_value,
    cross_key_problems,
    groups,
    spec_for,
)

# Re-exported: callers take the schema's names from here too.
__all__ = [
    "FEATURES",
    "SCHEMA",
    "SCHEMA_BY_KEY",
    "SECTIONS",
    "SettingProblem",
    "SettingSpec",
    "Settings",
    "check_value",
    "groups",
    "spec_for",
    "strip_jsonc",
]


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
        problems: list[SettingProblem] = []
        warnings: list[str] = []

        def take(key: str, value: object) -> None:
            try:
                settings._values[key], notes = check_value(key, value)
                warnings.extend(notes)
            except SettingsError as exc:
                problems.extend(_problems_of(exc, key))

        section_names = {spec.group for spec in SCHEMA if spec.group}
        for name, value in data.items():
            if name in SCHEMA_BY_KEY:
                take(name, value)
            elif name in section_names:
                if not isinstance(value, dict):
                    known = [s.name for s in SCHEMA if s.group == name]
                    problems.append(
                        SettingProblem(
                            name,
                            f"must be an object with keys {', '.join(known)}, got {_show(value)}",
                        )
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
            problems = cross_key_problems(settings._values)
        if problems:
            if len(problems) == 1:
                raise SettingsError(f"{source}: {problems[0]}", problems)
            raise SettingsError(
                f"{source}: {len(problems)} invalid settings:\n"
                + "\n".join(f"  - {p}" for p in problems),
                problems,
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

    def problem_list(self) -> list[SettingProblem]:
        """Every invalid value and cross-key problem as (key, problem); empty when fine."""
        found: list[SettingProblem] = []
        for spec in SCHEMA:
            try:
                check_value(spec.key, self._values[spec.key])
            except SettingsError as exc:
                found.extend(_problems_of(exc, spec.key))
        if not found:
            found = cross_key_problems(self._values)
        return found

    def problems(self) -> list[str]:
        """`problem_list()` as messages, "key: problem" each (for display)."""
        return [str(p) for p in self.problem_list()]

    def validate(self) -> None:
        """Raise SettingsError listing all problems, if any (`.problems` holds them)."""
        problems = self.problem_list()
        if problems:
            raise SettingsError(
                "invalid settings:\n" + "\n".join(f"  - {p}" for p in problems), problems
            )

    def typed(self) -> EngineSettings:
        """The values as the engine reads them: frozen dataclasses per section."""
        return engine_settings(self.get, self.resolve_path)

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
            f'{indent}"{spec.name}": {json_value(self._values[spec.key])}',
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


def _problems_of(exc: SettingsError, key: str) -> list[SettingProblem]:
    """The structured problems of a SettingsError raised while checking `key`."""
    if exc.problems:
        return list(exc.problems)
    return [SettingProblem(key, str(exc).removeprefix(f"{key}: "))]
