"""Small helpers for the words of messages (shared by the library's notes and the CLI)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` with ``noun`` in the right number.

    Example:
        >>> plural(1, "frame"), plural(0, "frame"), plural(2, "colour"), plural(3, "matrix", "matrices")
        ('1 frame', '0 frames', '2 colours', '3 matrices')
    """
    return f"{count} {noun}" if count == 1 else f"{count} {plural_form or noun + 's'}"
