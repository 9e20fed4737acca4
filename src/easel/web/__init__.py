"""The studio: a local web page over every capability (``easel serve``).

A thin layer over the Python API, like the CLI: :mod:`easel.web.tabs` holds one
entry per capability (its uploads, options dataclasses, API call and results);
the page's forms are generated from the options' declarations
(:mod:`easel.web.forms`), jobs run one at a time in :mod:`easel.web.queue`, and
:mod:`easel.web.server` serves it on the loopback address behind a path guard
(:mod:`easel.web.paths`). See ``docs/studio.md``.

Example:
    >>> from easel.web import Studio, StudioSettings, start  # doctest: +SKIP
    >>> server = start(Studio(StudioSettings(Path("outputs/studio"))))  # doctest: +SKIP
"""

from easel.web.app import Studio, StudioSettings
from easel.web.limits import Limits
from easel.web.server import start
from easel.web.tabs import TABS, Result, Step, Tab, Upload

__all__ = ["TABS", "Limits", "Result", "Step", "Studio", "StudioSettings", "Tab", "Upload", "start"]
