"""A stand-in for ``torchvision``, put on the peer's ``PYTHONPATH`` by ``benchmarks/stylize.py`` only.

neural-style-pt 0.5.7 imports ``torchvision.transforms`` and nothing else from
torchvision; torchvision does not import with the CPU build of torch these
benchmarks run on, so :mod:`torchvision.transforms` here provides the few
transforms the peer calls, with torchvision's arithmetic. Never import this
package from easel or its tests under the name ``torchvision``.
"""

from . import transforms

__all__ = ["transforms"]
