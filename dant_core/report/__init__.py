"""`dant report OUTPUT`: how good is this tracking, without ground truth (docs/report.md).

stats.py      the numbers (run summary, similarity groups, false-positive estimate, held-out
              features, least certain tracks)
unitmatch.py  agreement with a UnitMatch output (MatchTable.csv)
svg.py        a small Qt-free SVG plotting module: the report's figures (also the GUI's)
document.py   report.json and the self-contained report.html
command.py    the `dant report` command
"""
