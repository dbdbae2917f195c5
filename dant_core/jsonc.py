"""pyDANT's settings files are JSON with comments: strip `//`, `#` and `/* */` comments
and trailing commas (keeping every character's line and column, so JSON's error positions
still point into the user's file), then parse, reporting duplicate keys."""

from __future__ import annotations

import json

from .errors import SettingsError


def strip_jsonc(text: str, source: str = "settings") -> str:
    """Blank out comments (`//`, `#`, `/* */`) and trailing commas outside strings.

    Every removed character becomes a space (newlines are kept), so line and column
    numbers of what remains are those of the original text.
    """
    out = list(text)
    n = len(text)
    i = 0
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"' or c == "\n":
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            i += 1
        elif c == "#" or text.startswith("//", i):
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                line = text.count("\n", 0, i) + 1
                raise SettingsError(f"{source}: line {line}: comment '/*' is never closed")
            for j in range(i, end + 2):
                if out[j] != "\n":
                    out[j] = " "
            i = end + 2
        else:
            i += 1
    # Trailing commas: a comma followed (after blanks) by } or ], outside strings.
    cleaned = "".join(out)
    out = list(cleaned)
    in_string = False
    i = 0
    while i < n:
        c = cleaned[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"' or c == "\n":
                in_string = False
        elif c == '"':
            in_string = True
        elif c == ",":
            j = i + 1
            while j < n and cleaned[j] in " \t\r\n":
                j += 1
            if j < n and cleaned[j] in "}]":
                out[i] = " "
        i += 1
    return "".join(out)


def parse_jsonc(text: str, source: str = "settings") -> tuple[dict, list[str]]:
    """Parse JSON-with-comments text into a dict; returns (data, warnings about duplicate keys)."""
    warnings: list[str] = []

    def pairs_hook(pairs):
        data = {}
        for k, v in pairs:
            if k in data:
                warnings.append(f"{source}: key {k!r} appears twice; the last value is used")
            data[k] = v
        return data

    stripped = strip_jsonc(text, source)
    try:
        data = json.loads(stripped, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        shown = lines[exc.lineno - 1].strip() if 0 < exc.lineno <= len(lines) else ""
        raise SettingsError(
            f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"
            + (f": {shown}" if shown else "")
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(
            f"{source}: must hold a JSON object {{...}} of settings, got {type(data).__name__}"
        )
    return data, warnings


def json_value(value: object) -> str:
    """One value written back as JSON text, as pyDANT's files write it."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        # pyDANT's files write whole numbers without ".0"; keep that look.
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(json_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
