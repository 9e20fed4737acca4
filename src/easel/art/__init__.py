"""Classical (NumPy) art filters: colour quantization and superpixels.

Import from the submodules or from :mod:`easel` directly::

    easel.quantize_colors(image, n_colors=16)
    easel.slic_superpixels(image, n_segments=500, compactness=10)
"""
