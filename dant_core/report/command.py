"""`dant report OUTPUT [--unitmatch FOLDER]`: write report.html and report.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_file import write_files_atomically
from ..errors import DantError
from ..npy_files import load_npy


def make_report(output_folder, unitmatch_folder=None, result=None) -> tuple[dict, Path]:
    """Compute the report of the tracking output in `output_folder` (its IdxCluster.npy:
    the curated one after `dant export`) and write report.json / report.html into it."""
    from ..results import load_result
    from ..tracks import read_units_table
    from .document import REPORT_HTML, build_report, report_files

    folder = Path(output_folder)
    if not folder.is_dir():
        raise DantError(f"output folder {folder} does not exist")
    if result is None:
        result = load_result(folder)
    labels = load_npy(folder / "IdxCluster.npy").astype(np.int64).ravel()
    agreement = None
    if unitmatch_folder is not None:
        from .unitmatch import agreement as compare
        from .unitmatch import read_match_table

        table = read_units_table(result.data_folder, result.n_units, result.sessions)
        if table is None:
            raise DantError(
                f"--unitmatch needs {Path(result.data_folder) / 'units.tsv'} (written by dant "
                "import) to know each unit's session and sorter cluster id"
            )
        agreement = compare(labels, table, read_match_table(unitmatch_folder))
    report = build_report(result, labels, unitmatch=agreement)
    write_files_atomically(folder, report_files(report))
    return report, folder / REPORT_HTML


def cmd_report(args) -> int:
    report, html = make_report(Path(args.output), args.unitmatch)
    low, high = report["estimated_false_positive_rate_interval_95"]
    run = report["run"]
    print(
        f"{run['tracks']} tracks over {run['sessions']} sessions, "
        f"{run['neurons_tracked_over_all_sessions']} over all sessions; estimated false-positive "
        f"rate of matched pairs {100 * report['estimated_false_positive_rate']:.1f}% "
        f"(95% interval {100 * low:.1f}-{100 * high:.1f}%). Report: {html}"
    )
    return 0


def add_parser(sub, common) -> None:
    p = sub.add_parser(
        "report", parents=[common], help="write report.html and report.json for a tracking output"
    )
    p.add_argument("output", help="output folder of a tracking run")
    p.add_argument("--unitmatch", help="UnitMatch output folder (MatchTable.csv) to compare with")
    p.set_defaults(func=cmd_report)
