"""easel._lazy: one lazy-export mechanism for every package's __init__."""

from __future__ import annotations

import sys
import types

import pytest

import easel
from easel._lazy import lazy_exports


@pytest.fixture
def package(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A throwaway package ``fakepkg`` whose exports live in real easel modules."""
    module = types.ModuleType("fakepkg")
    module.__path__ = []  # a package
    monkeypatch.setitem(sys.modules, "fakepkg", module)
    return module


def test_names_resolve_on_first_use_and_are_cached(package: types.ModuleType) -> None:
    getattr_, dir_, all_ = lazy_exports("fakepkg", {"easel.image": ["to_uint8", "fit_long_side"]})
    package.__getattr__ = getattr_  # type: ignore[attr-defined]
    assert all_ == ["fit_long_side", "to_uint8"]
    assert "to_uint8" not in vars(package)
    from easel.image import to_uint8

    assert package.to_uint8 is to_uint8
    assert vars(package)["to_uint8"] is to_uint8  # later lookups skip __getattr__
    assert {"to_uint8", "fit_long_side"} <= set(dir_())


def test_unknown_name_is_an_attribute_error(package: types.ModuleType) -> None:
    getattr_, _, _ = lazy_exports("fakepkg", {"easel.image": ["to_uint8"]})
    with pytest.raises(AttributeError, match="module 'fakepkg' has no attribute 'nope'"):
        getattr_("nope")
    assert not hasattr(easel, "nope")


def test_submodules_import_on_attribute_access(monkeypatch: pytest.MonkeyPatch) -> None:
    import easel.art

    monkeypatch.delattr(easel.art, "superpixels", raising=False)
    getattr_, dir_, all_ = lazy_exports("easel.art", {}, submodules=["superpixels"])
    assert all_ == [] and "superpixels" in dir_()
    assert getattr_("superpixels") is sys.modules["easel.art.superpixels"]
    assert easel.art.superpixels is sys.modules["easel.art.superpixels"]


def test_a_name_exported_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'to_uint8' is exported by both easel.image and easel.io.images"):
        lazy_exports("fakepkg", {"easel.image": ["to_uint8"], "easel.io.images": ["to_uint8"]})


def test_every_public_name_of_easel_resolves() -> None:
    assert easel.__all__ == sorted(easel.__all__) and "quantize_colors" in easel.__all__
    for name in easel.__all__:
        value = getattr(easel, name)
        # ``easel.dream`` is both a package and (callable) the API function
        assert getattr(value, "__name__", name) in (name, f"easel.{name}"), name
    assert callable(easel.dream)
    assert set(easel.__all__) <= set(dir(easel))
