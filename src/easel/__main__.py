"""``python -m easel ...``: the same command line as ``easel ...``.

Example:
    $ python -m easel quantize photo.jpg -k 8 -o poster.png
"""

from __future__ import annotations

from easel.cli import entry_point

if __name__ == "__main__":
    entry_point()
