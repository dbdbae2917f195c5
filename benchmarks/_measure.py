"""Run one command and measure it: wall time and peak memory, without psutil.

    python _measure.py OUT.json -- CMD [ARGS...]

Writes OUT.json with

* ``wall_s``: wall time from start to exit of the command (interpreter start-up and imports
  included, i.e. what a user waits for);
* ``maxrss_kb``: ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` read after the command
  exits: the peak resident set size of the largest single process among the command and its
  waited-for descendants (the number ``/usr/bin/time -v`` prints as "Maximum resident set
  size", from the same kernel accounting);
* ``tree_peak_kb``: the peak over time of the summed VmRSS of the command's whole process tree,
  sampled every ``--interval`` s from /proc (catches worker pools such as joblib/loky, whose
  memory ru_maxrss does not add up; being sampled, it can miss a short spike);
* ``returncode``, ``user_s``, ``sys_s`` (CPU time of the waited-for children), ``cpu_s``
  (CPU time of the whole tree, including worker processes that are never waited for);
* ``other_cpu_share``: CPU time used meanwhile by everything else on the machine (from
  /proc/stat), as a share of all cores x wall time: how much other jobs competed.

The command's stdout/stderr pass through unchanged.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, start time, CPU ticks used so far (utime + stime)) of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # comm may contain spaces/parentheses: the fields after the last ')' are fixed
        rest = data[data.rfind(b")") + 2 :].split()
        out[int(name)] = (int(rest[1]), int(rest[19]), int(rest[11]) + int(rest[12]))
    return out


def _busy_s() -> float:
    """CPU seconds spent busy by the whole machine (all cores) since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _sample_tree(root: int, cpu_ticks: dict) -> int:
    """Summed VmRSS (kB) of `root` and its descendants now; records each one's CPU ticks in
    `cpu_ticks` (keyed by pid and start time), so that worker processes the command never
    waits for (e.g. joblib/loky pools, not in RUSAGE_CHILDREN) still count as its CPU time."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kb(pid)
        if pid in table:
            cpu_ticks[(pid, table[pid][1])] = table[pid][2]
        stack.extend(children.get(pid, ()))
    return total


def main(argv: list[str]) -> int:
    interval = 0.2
    if argv and argv[0] == "--interval":
        interval = float(argv[1])
        argv = argv[2:]
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write(__doc__)
        return 2
    out_path, cmd = argv[0], argv[2:]

    peak = [0]
    cpu_ticks: dict = {}
    done = threading.Event()
    busy0 = _busy_s()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _sample_tree(proc.pid, cpu_ticks))
            done.wait(interval)

    terminated = [False]

    def on_term(signum, frame) -> None:  # a timeout: stop the command, still write the numbers
        terminated[0] = True
        proc.terminate()

    signal.signal(signal.SIGTERM, on_term)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = proc.wait()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = _busy_s() - busy0
    tree_cpu = sum(cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")
    own = max(ru.ru_utime + ru.ru_stime, tree_cpu)
    result = {
        "cmd": cmd,
        "returncode": rc,
        "terminated": terminated[0],  # ended by SIGTERM: the numbers cover the run until then
        "wall_s": wall,
        "maxrss_kb": ru.ru_maxrss,
        "tree_peak_kb": max(peak[0], ru.ru_maxrss),
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        # CPU time of the whole tree: the larger of the rusage total and the sum of each
        # process's CPU time as last sampled (the latter misses at most the last interval)
        "cpu_s": own,
        # CPU time the rest of the machine used meanwhile (other users' jobs, the sampler),
        # as a share of all cores over the wall time: the contention during this run
        "other_cpu_share": max(0.0, busy - own) / (wall * (os.cpu_count() or 1)),
    }
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
