"""The one exception type that reaches the user as a single line instead of a traceback."""


class BenchError(Exception):
    """A problem the user can fix (a bad value, a missing file): printed as one line, exit status 2."""

    exit_code: int = 2
