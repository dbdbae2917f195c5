"""Exceptions shared by every part of the engine.

Every error a user can cause derives from `DantError`; its message names the file or
setting and the problem, so the CLI and the GUI can show it as is.
"""


class DantError(Exception):
    """A problem with the user's input that the user can fix."""


class DatasetError(DantError):
    """The data folder is missing a file or holds a malformed one."""


class SettingsError(DantError):
    """A settings value is invalid (the message names the key and what is allowed)."""


class Cancelled(Exception):
    """The run was cancelled through its cancel token."""
