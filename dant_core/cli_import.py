"""`dant import OUT SESSION [SESSION ...]`: write a data folder from sorter output."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .cli_arguments import number, whole_number


def add_parser(sub, common, progress) -> None:
    """Add `import` to the subparsers; `progress()` makes the command line's progress printer."""
    p = sub.add_parser(
        "import",
        parents=[common],
        help="write a data folder from Kilosort/phy sessions (chronological order)",
        description="Write the data folder OUT from one or more sorted sessions, in the order "
        "given (chronological). See docs/import.md.",
    )
    p.add_argument("out", help="new data folder to write (must not exist or be empty)")
    p.add_argument("sessions", nargs="+", help="session folders (Kilosort/phy output)")
    p.add_argument(
        "--labels",
        default="good",
        help="unit labels to import, comma-separated (default: good; 'all' for every unit)",
    )
    p.add_argument(
        "--raw",
        action="append",
        default=[],
        metavar="SESSION=FILE",
        help="the raw recording of one session (its folder or 1-based number); repeatable",
    )
    p.add_argument("--uv-per-bit", type=number, help="µV per raw bit when no .meta/.oebin says it")
    p.add_argument("--sample-rate", type=number, help="Hz, for a folder without params.py")
    p.add_argument(
        "--max-spikes",
        type=whole_number,
        default=1000,
        help="spikes averaged per unit (a random sample; all when fewer)",
    )
    p.add_argument("--seed", type=whole_number, default=0, help="seed of the spike sample")
    p.set_defaults(func=cmd_import, make_progress=progress)


def _raw_paths(pairs: list[str], sessions: list[str]):
    from .importers import ImportDataError

    paths: list[Path | None] = [None] * len(sessions)
    resolved = [Path(s).absolute() for s in sessions]
    for pair in pairs:
        if "=" not in pair:
            raise ImportDataError(f"--raw {pair}: expected SESSION=FILE")
        key, file = pair.split("=", 1)
        if key.isdigit() and 1 <= int(key) <= len(sessions):
            index = int(key) - 1
        elif Path(key).absolute() in resolved:
            index = resolved.index(Path(key).absolute())
        else:
            raise ImportDataError(
                f"--raw {pair}: {key} is neither a session folder given nor a number "
                f"1..{len(sessions)}"
            )
        paths[index] = Path(file)
    return tuple(paths)


def cmd_import(args: argparse.Namespace) -> int:
    import sys

    from .importers import ImportDataError, ImportOptions, import_sessions, plan_sessions

    labels = tuple(x.strip() for x in args.labels.split(",") if x.strip())
    if not labels:
        raise ImportDataError("--labels: give at least one label (or 'all')")
    if args.max_spikes < 1:
        raise ImportDataError(f"--max-spikes: must be at least 1, got {args.max_spikes}")
    for option, value, unit in (
        ("--sample-rate", args.sample_rate, "Hz"),
        ("--uv-per-bit", args.uv_per_bit, "µV per raw bit"),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ImportDataError(f"{option}: must be a positive number ({unit}), got {value:g}")
    options = ImportOptions(
        labels=labels,
        raw_paths=_raw_paths(args.raw, args.sessions),
        uv_per_bit=args.uv_per_bit,
        sample_rate=args.sample_rate,
        max_spikes=args.max_spikes,
        seed=args.seed,
    )
    plans = plan_sessions(args.sessions, options)
    for i, plan in enumerate(plans, start=1):
        s = plan.summary()
        by_label = ", ".join(f"{k} {v}" for k, v in sorted(s["units_by_label"].items()))
        sys.stderr.write(
            f"Session {i}: {plan.folder} ({plan.format}, {plan.sample_rate:g} Hz); units: "
            f"{by_label}; importing {plan.n_units}; waveforms from {plan.waveform_source}; "
            f"scaling {plan.scaling}\n"
        )
    record = import_sessions(
        Path(args.out), args.sessions, options, args.make_progress(), plans=plans
    )
    for w in record["warnings"]:
        sys.stderr.write(f"warning: {w}\n")
    o = record["output"]
    print(
        f"Imported {o['units']} units from {o['sessions']} session(s) on {o['channels']} "
        f"channels into {args.out} (units.tsv, import.json, settings.json). "
        f"Next: dant track {args.out}"
    )
    return 0
