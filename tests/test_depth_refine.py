"""Edge-aware refinement and the colour preview."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from easel.depth.preview import colorize_depth
from easel.depth.refine import default_radius, refine_depth, refine_disparity
from easel.errors import InputError


def step_scene(height: int = 120, width: int = 200, blur: float = 3.0, seed: int = 0):
    """A two-colour image with its edge at ``width // 2``, the true disparity step, and a blurred copy."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    img[:, : width // 2] = (0.8, 0.3, 0.2)
    img[:, width // 2 :] = (0.2, 0.4, 0.8)
    img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32)
    x = np.arange(width)
    true = np.tile(np.where(x < width // 2, 1.0, 0.2).astype(np.float32), (height, 1))
    blurred = cv2.GaussianBlur(true, (0, 0), blur)
    return img, true, blurred


def transition_width(disp: np.ndarray, lo: float = 0.2, hi: float = 1.0) -> int:
    """Pixels of the middle row between 10 % and 90 % of the step."""
    t = (disp[disp.shape[0] // 2] - lo) / (hi - lo)
    return int(((t > 0.1) & (t < 0.9)).sum())


def test_refinement_sharpens_a_blurred_step_onto_the_colour_edge():
    img, true, blurred = step_scene()
    out = refine_disparity(blurred, img, radius=8)
    assert transition_width(blurred) >= 6
    assert transition_width(out) <= 1
    err_before = np.abs(blurred - true).mean()
    err_after = np.abs(out - true).mean()
    assert err_after < 0.3 * err_before
    # the step sits on the colour edge
    row = out[60]
    assert row[: 100 - 2].min() > 0.9 and row[100 + 2 :].max() < 0.3


def test_refinement_moves_a_misplaced_edge_to_the_colour_edge():
    img, true, _ = step_scene(blur=0.01)
    shifted = np.roll(true, 4, axis=1)  # the depth edge sits 4 px right of the colour edge
    shifted[:, :4] = 1.0
    out = refine_disparity(shifted, img, radius=8)
    assert np.abs(out - true).mean() < 0.25 * np.abs(shifted - true).mean()


def test_refinement_keeps_smooth_slopes():
    ramp = np.tile(np.linspace(1.0, 0.2, 200, dtype=np.float32), (120, 1))
    flat_image = np.full((120, 200, 3), 0.5, np.float32)
    out = refine_disparity(ramp, flat_image, radius=6)
    assert np.abs(out - ramp)[:, 10:-10].max() < 0.01


def test_refine_depth_works_in_inverse_depth_and_keeps_the_range():
    img, true, blurred = step_scene()
    depth = 1.0 / blurred
    out = refine_depth(depth, img, radius=8)
    assert out.dtype == np.float32 and out.shape == depth.shape
    assert out.min() >= depth.min() - 1e-4 and out.max() <= depth.max() + 1e-4
    assert np.abs(1.0 / out - true).mean() < 0.3 * np.abs(blurred - true).mean()


def test_refine_checks_inputs():
    img, _, blurred = step_scene()
    with pytest.raises(InputError, match="same size"):
        refine_disparity(blurred[:, :10], img)
    bad = blurred.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="finite"):
        refine_disparity(bad, img)
    with pytest.raises(InputError, match="radius"):
        refine_disparity(blurred, img, radius=0)
    assert (
        refine_disparity(np.ones((4, 4), np.float32), np.zeros((4, 4, 3), np.float32)).tolist()
        == [[1.0] * 4] * 4
    )


def test_default_radius():
    assert default_radius((768, 1024)) == 10
    assert default_radius((20, 30)) == 4


def test_colorize_near_is_bright_and_warm():
    depth = np.array([[1.0, 10.0]], np.float32)
    rgb = colorize_depth(depth)
    assert rgb.shape == (1, 2, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    near, far = rgb[0, 0], rgb[0, 1]
    assert near.sum() > far.sum() + 1.5  # bright vs dark
    assert near[0] > near[2]  # warm: more red than blue
    assert colorize_depth(np.full((2, 2), 3.0)).shape == (2, 2, 3)  # constant: still a picture


def test_refinement_on_a_textured_scene_with_simulated_network_blur():
    """A cat photo in front of a brick wall; the 'network' sees it at half size, blurred, upsampled."""
    from easel.cli.depth import synthetic_scene

    rgb, depth = synthetic_scene(384, 512)
    true = 1.0 / depth
    small = cv2.GaussianBlur(cv2.resize(true, (256, 192), interpolation=cv2.INTER_AREA), (0, 0), 1.5)
    net = cv2.resize(small, (512, 384), interpolation=cv2.INTER_LINEAR)
    refined = refine_disparity(net, rgb, radius=10)
    step = float(true.max() - true.min())
    bad_before = int((np.abs(net - true) > 0.1 * step).sum())
    bad_after = int((np.abs(refined - true) > 0.1 * step).sum())
    assert bad_after < 0.4 * bad_before
    assert np.abs(refined - true).mean() < 0.5 * np.abs(net - true).mean()
