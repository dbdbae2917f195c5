"""Bad command-line arguments get the CLI's one-line `error:` contract, not argparse's usage.

argparse prints its usage block and `dant demo: error: argument --units: invalid int
value: 'abc'`. Every `dant` command instead ends bad input with one line naming the option
(`error: --units: must be a whole number, got 'abc'`), as the checks of the values do
(`error: --units: must be a whole number from 1 to 100000, got 0`); docs/errors.md A01-A06.
"""

from __future__ import annotations

import argparse
import re

from .errors import DantError


class ArgumentsError(DantError):
    """The command line cannot be parsed; the message names the option or argument."""


def whole_number(text: str) -> int:
    """argparse type: an integer ("12", "-1"); anything else names the option's problem."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def number(text: str) -> float:
    """argparse type: a number ("2.5", "1e3", "nan": the command checks the range)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


_ARGUMENT = re.compile(r"^argument (?:\S+/)?(\S+): (.*)$", re.S)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise ArgumentsError (one line) instead of exiting."""

    def error(self, message: str):
        m = _ARGUMENT.match(message)
        text = f"{m.group(1)}: {m.group(2)}" if m else message
        if m and m.group(2).startswith("must be"):
            raise ArgumentsError(text)  # a value: the option and its problem say it all
        raise ArgumentsError(f"{text} (see {self.prog} --help)")

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:  # name the command whose options were meant, not only `dant`
            command = getattr(namespace, "command", None)
            prog = f"{self.prog} {command}" if command else self.prog
            raise ArgumentsError(f"unrecognized arguments: {' '.join(extras)} (see {prog} --help)")
        return namespace
