"""Command line: `dant track | demo | export | import | report`.

Bad input ends with exit code 2 and one line `error: <message>` as the last line on stderr
(progress, log and `warning:` lines may come before it; a traceback only with --debug); an
unexpected failure exits 1. docs/errors.md lists the messages.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import traceback
from pathlib import Path

from .cli_arguments import ArgumentsError, Parser, number, whole_number
from .errors import DantError

EXIT_BAD_INPUT = 2


class _StderrProgress:
    """Per-stage progress lines on stderr, rewritten in place on a terminal."""

    def __init__(self) -> None:
        self.stage = None
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "Overall":
            return
        now = time.perf_counter()
        finished = done >= total
        if stage == self.stage and not finished and now - self.last < 0.5:
            return
        self.last = now
        pct = 100.0 * done / total if total else 100.0
        line = f"  {stage}: {done}/{total} ({pct:.0f}%)"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(60) + ("\n" if finished else ""))
        elif stage != self.stage or finished:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
        self.stage = None if finished else stage


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def one_line(message: str) -> str:
    """A message listing several problems ("...:\n  - a\n  - b") as one line ("...: a; b")."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if len(lines) <= 1:
        return message.strip()
    items = [ln[2:] if ln.startswith("- ") else ln for ln in lines[1:]]
    return f"{lines[0]} " + "; ".join(items)


def cmd_track(args) -> int:
    from .dataset import load_dataset
    from .settings import Settings

    data = Path(args.data)
    settings_path = Path(args.settings) if args.settings else None
    if settings_path is None and (data / "settings.json").is_file():
        settings_path = data / "settings.json"
        _log(f"Using the settings in {settings_path}")
    settings = Settings.load(settings_path) if settings_path else Settings.defaults()
    for w in settings.warnings:
        _log(f"warning: {w}")
    if args.output:
        output = Path(args.output)
    elif settings_path is not None and settings.get("output_folder"):
        output = settings.resolve_path("output_folder")
    else:
        output = data / "DANT_Output"
    dataset = load_dataset(data)
    from .tracks import read_units_table

    read_units_table(dataset.folder, dataset.n_units, dataset.sessions)  # checked before the run
    # Imported only now: a bad data folder or settings file is reported without the wait.
    from .output_folder import check_output_folder, previous_log_note
    from .pipeline import engine_threads, run_tracking

    # Refuse a folder that cannot take the results before the run, not after it.
    check_output_folder(output, dataset.n_units, dataset.folder, force=args.force)
    # A window curating the folder would go on logging actions on the old clusters into the
    # new run's log: refuse before the run while one holds the folder's curation lock.
    with _curation_lock(output), engine_threads(int(settings.get("n_jobs"))):
        result = run_tracking(dataset, settings, progress=_StderrProgress(), log=_log)
        had_log = (output / "curation.jsonl").is_file()
        result.save(output, force=args.force)
    note = previous_log_note(output, had_log)
    if note is not None:
        _log(f"note: {note}")
    s = result.summary()
    print(
        f"Tracked {s['units']} units over {s['sessions']} sessions: {s['clusters']} clusters, "
        f"{s['matched_pairs']} matched pairs, {s['tracked_units']} units in clusters; "
        f"motion range {s['motion_range_um']:.1f} µm; {s['run_time_sec']:.1f} s. "
        f"Output: {output}"
    )
    return 0


def _curation_lock(output: Path):
    """The curation lock of an output folder that has been curated, else nothing to hold."""
    from contextlib import nullcontext

    from .log_lock import LOCK_FILE, lock_folder

    if (output / LOCK_FILE).is_file():  # every curating window made it; none: nobody curates
        return lock_folder(output, "dant track")
    return nullcontext()


def cmd_demo(args) -> int:
    from .synthetic import make_demo, truth_folder

    out = Path(args.out)
    make_demo(
        out,
        n_units=args.units,
        n_sessions=args.sessions,
        seed=args.seed,
        n_shanks=args.shanks,
        drift_um=args.drift,
        jump_um=args.jump,
        depth_dependent=args.depth_dependent,
        with_peth=not args.no_peth,
        option_names=DEMO_OPTIONS,
    )
    print(f"Demo data folder: {out}\nTruth: {truth_folder(out)}")
    return 0


# make_demo's arguments as `dant demo` spells them, so a bad value's message names the option
DEMO_OPTIONS = {
    "n_units": "--units",
    "n_sessions": "--sessions",
    "seed": "--seed",
    "n_shanks": "--shanks",
    "drift_um": "--drift",
    "jump_um": "--jump",
}


def _result_of_unchanged_data(output: Path, allow_changed: bool):
    """The result in `output`; StaleResultError when its data folder changed since the run
    (a `warning:` line instead with --allow-changed-data)."""
    from .data_fingerprint import StaleResultError, stale_files, stale_message, stale_text
    from .output_folder import finish_interrupted_saves
    from .results import load_result

    finish_interrupted_saves(output)  # as export_curated does, before reading the result
    if not output.is_dir():
        return None  # export_curated says so
    result = load_result(output)
    changed = stale_files(result)
    if changed and not allow_changed:
        raise StaleResultError(stale_message(output, result.data_folder, changed))
    if changed:
        _log(f"warning: {stale_text(output, result.data_folder, changed)}; exported as asked")
    return result


def cmd_export(args) -> int:
    from .export import export_curated

    output = Path(args.output)
    result = _result_of_unchanged_data(output, args.allow_changed_data)
    if args.write_back:
        from .write_back import check_write_back

        check_write_back(output)
    summary = export_curated(output, Path(args.curation) if args.curation else None, result=result)
    print(summary)
    if args.write_back:
        from .write_back import write_back_output

        for line in write_back_output(Path(args.output)):
            print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="dant", description="Track neurons across sessions (DANT).")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("track", parents=[common], help="run tracking on a data folder")
    p.add_argument("data", help="data folder (waveform_all.npy, session_index.npy, ...)")
    p.add_argument("--settings", help="pyDANT settings.json (JSON with // comments)")
    p.add_argument(
        "--output", help="output folder (default: the settings' output_folder or DATA/DANT_Output)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace results of another dataset in the output folder (their small files "
        "are kept in previous_runs/)",
    )
    p.set_defaults(func=cmd_track)

    p = sub.add_parser("demo", parents=[common], help="write a synthetic ground-truth data folder")
    p.add_argument("out", help="folder to create; the truth goes to OUT_truth beside it")
    p.add_argument("--units", type=whole_number, default=600, help="total units over all sessions")
    p.add_argument("--sessions", type=whole_number, default=8)
    p.add_argument("--seed", type=whole_number, default=0)
    p.add_argument("--shanks", type=whole_number, default=1)
    p.add_argument("--drift", type=number, default=10.0, help="drift step per session (µm, SD)")
    p.add_argument(
        "--jump", type=number, default=0.0, help="one extra rigid jump between two sessions (µm)"
    )
    p.add_argument("--depth-dependent", action="store_true", help="add depth-dependent drift")
    p.add_argument("--no-peth", action="store_true", help="do not write peth.npy")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "export", parents=[common], help="apply a curation log and export IdxCluster.npy"
    )
    p.add_argument("output", help="output folder of a tracking run")
    p.add_argument("--curation", help="curation log (default: OUTPUT/curation.jsonl)")
    p.add_argument(
        "--write-back",
        action="store_true",
        help="also write the track ids into each session's sorter folder "
        "(cluster_dant_track.tsv for phy; a unit property for SpikeInterface analyzers)",
    )
    p.add_argument(
        "--allow-changed-data",
        action="store_true",
        help="export even when the data folder changed since the run (its clusters were "
        "made from the data as it was)",
    )
    p.set_defaults(func=cmd_export)

    from .cli_import import add_parser as add_import_parser

    add_import_parser(sub, common, progress=_StderrProgress)

    from .report.command import add_parser as add_report

    add_report(sub, common)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except ArgumentsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except DantError as exc:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"error: {one_line(str(exc))}\n")
        return EXIT_BAD_INPUT
    except OSError as exc:  # the disk or the permissions, not the program: the user can fix it
        if args.debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"error: {where}{exc.strerror or exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("cancelled\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence for the user
        if args.debug:
            traceback.print_exc()
        else:
            sys.stderr.write(f"internal error: {type(exc).__name__}: {exc} (run with --debug)\n")
        return 1


def run() -> None:
    """The `dant` command: main(), then exit without the interpreter's final cyclic garbage
    collection. With numba loaded those passes take ~0.2 s; gc.freeze leaves what is left
    to reference counting (files are closed and outputs written by then)."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
