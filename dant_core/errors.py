"""Exceptions shared by every part of the engine.

Every error a user can cause derives from `DantError`; its message names the file or
setting and the problem, so the CLI and the GUI can show it as is.
"""

from dataclasses import dataclass


class DantError(Exception):
    """A problem with the user's input that the user can fix."""


class DatasetError(DantError):
    """The data folder is missing a file or holds a malformed one."""


@dataclass(frozen=True)
class SettingProblem:
    """One problem with the settings: the dotted key (or section) and what is wrong with it."""

    key: str  # e.g. "clustering.max_distance", "motionEstimation.features[1]"
    problem: str  # e.g. "must be a number > 0 (µm), got -5"
    # Further keys the problem is about (a histogram's window beside its bin width).
    also: tuple[str, ...] = ()
    # The whole message, for problems that name their keys in their own words (those the
    # data causes, e.g. "shank 1 has 20 channels, fewer than ..."); else "key: problem".
    message: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key the problem is about, the main one first."""
        return (self.key, *self.also)

    @property
    def setting_keys(self) -> tuple[str, ...]:
        """`keys` without an element index: "motionEstimation.features[1]" is a problem of
        the key "motionEstimation.features"."""
        return tuple(dict.fromkeys(k.partition("[")[0] for k in self.keys))

    def __str__(self) -> str:
        return self.message or f"{self.key}: {self.problem}"


class SettingsError(DantError):
    """A settings value is invalid (the message names the key and what is allowed).

    `problems` holds the same problems structured, one SettingProblem each, when the
    error comes from checking values (empty for a file that cannot be read).
    """

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems: tuple[SettingProblem, ...] = tuple(problems)


class Cancelled(Exception):
    """The run was cancelled through its cancel token."""
