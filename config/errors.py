"""The one exception the configuration loader raises."""

from __future__ import annotations

from switch.errors import SwitchError


class ConfigError(SwitchError):
    """An invalid configuration, located as ``file:line:column`` (both 1-based)."""

    filename: str
    line: int
    column: int
    message: str

    def __init__(self, filename: str, line: int, column: int, message: str) -> None:
        # Passing every field to Exception keeps the error picklable.
        super().__init__(filename, line, column, message)
        self.filename = filename
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: {self.message}"
