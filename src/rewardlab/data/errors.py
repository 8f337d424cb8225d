"""One error type for bad input: it names the file, the line and the field."""

from __future__ import annotations


class DataError(ValueError):
    """Malformed input. ``str(err)`` reads ``file:line: field 'x': message``."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.message = message
        where = path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{message}")
