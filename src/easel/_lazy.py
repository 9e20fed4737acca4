"""Lazy exports for package ``__init__`` modules: a name's module is imported on first use.

So ``import easel`` (or ``import easel.style``) stays fast and loads neither
torch nor numba until a function that needs them is touched. One line per
package::

    from easel._lazy import lazy_exports

    __getattr__, __dir__, __all__ = lazy_exports(
        __name__,
        {"easel.style.transfer": ["StyleOptions", "stylize"]},
        submodules=["vgg", "losses"],
    )

Only the standard library is imported here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    exports: Mapping[str, Iterable[str]],
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Module ``__getattr__``, ``__dir__`` and ``__all__`` that import exported names on first use.

    Args:
        package: the package's ``__name__``.
        exports: module path -> the public names it defines, e.g.
            ``{"easel.io.images": ["read_image", "write_image"]}``.
        submodules: submodules of ``package`` that attribute access imports
            too (``easel.nets.vgg`` without ``import easel.nets.vgg``).

    Returns:
        ``(__getattr__, __dir__, __all__)`` to assign in the package. The first
        access to a name imports its module and stores the value in the
        package's namespace, so later accesses are plain lookups. ``__all__``
        lists the exports, sorted.

    Raises:
        ValueError: a name exported by two modules.

    Example:
        >>> getattr_, dir_, all_ = lazy_exports("easel", {"easel.image": ["to_uint8"]})
        >>> all_, getattr_("to_uint8").__name__
        (['to_uint8'], 'to_uint8')
    """
    where: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in where:
                raise ValueError(f"{package}: {name!r} is exported by both {where[name]} and {module}")
            where[name] = module
    children = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif name in children:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where, *children})

    return __getattr__, __dir__, sorted(where)
