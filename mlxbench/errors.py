"""The one exception every layer raises for bad user input.

It lives on its own so that any module (a ceiling measurement, a results
reader) can reject a bad name without importing the op catalog or the CLI.
"""

from __future__ import annotations


class UsageError(ValueError):
    """Bad user input: the CLI prints the message and exits with status 2."""
