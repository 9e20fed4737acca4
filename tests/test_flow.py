"""Optical flow, warping and the consistency mask (easel.style.flow) on synthetic motion with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from easel.style.flow import consistency_mask, flow_link, optical_flow, warp, warping_error


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture (blurred blocks): plenty of structure for flow, no aliasing."""
    import cv2

    rng = np.random.default_rng(seed)
    blocks = rng.random((height // 4 + 1, width // 4 + 1, 3)).astype(np.float32)
    big = blocks.repeat(4, 0).repeat(4, 1)[:height, :width]
    return np.clip(cv2.GaussianBlur(big, (0, 0), 1.5), 0, 1).astype(np.float32)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_and_warp_are_right_on_a_known_translation(method: str) -> None:
    scene = _texture(96, 128)
    dx, dy = 5, 3
    previous = scene[10:74, 10:106]
    current = scene[10 + dy : 74 + dy, 10 + dx : 106 + dx]  # the view moved: content moves by (-dx, -dy)
    flow = optical_flow(current, previous, method)
    inner = (slice(8, -8), slice(8, -8))
    assert np.median(flow[..., 0][inner]) == pytest.approx(dx, abs=0.25)
    assert np.median(flow[..., 1][inner]) == pytest.approx(dy, abs=0.25)
    warped = warp(previous, flow)
    error = np.abs(warped - current)[8:-8, 8:-8].mean()
    assert error < 0.1 * np.abs(previous - current).mean()


def test_warp_with_an_exact_flow_moves_pixels_exactly() -> None:
    image = _texture(32, 40)
    flow = np.zeros((32, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3, -2  # pixel (x, y) takes the colour at (x + 3, y - 2)
    out = warp(image, flow)
    np.testing.assert_allclose(out[2:, :-3], image[:-2, 3:], atol=1e-6)
    assert out.dtype == np.float32 and out.shape == image.shape


def test_the_mask_marks_the_band_that_enters_the_view() -> None:
    scene = _texture(80, 120)
    shift = 6
    previous = scene[8:72, 30:110]
    current = scene[8:72, 30 - shift : 110 - shift]  # panning left: a new band enters on the left
    link = flow_link(previous, current)
    assert link.mask[:, : shift - 1].max() == 0.0, "the new band has no source in the previous frame"
    assert link.mask[8:-8, shift + 8 : -8].mean() > 0.95
    assert 0.8 < link.overlap < 0.97


def test_the_mask_marks_what_a_moving_square_uncovers() -> None:
    background = _texture(64, 96, seed=1)
    square = _texture(20, 20, seed=2) * 0.5 + 0.5
    previous, current = background.copy(), background.copy()
    previous[22:42, 30:50] = square
    current[22:42, 38:58] = square  # the square moved 8 px right: x 30..37 is uncovered
    link = flow_link(previous, current)
    uncovered = link.mask[26:38, 31:37]
    assert uncovered.mean() < 0.2, uncovered
    assert link.mask[4:18, 4:90].mean() > 0.95  # the still background far from the square
    assert link.mask[26:38, 42:54].mean() > 0.8  # the square itself, followed by the flow


def test_consistent_flows_pass_and_contradicting_ones_fail() -> None:
    backward = np.zeros((16, 16, 2), np.float32)
    backward[..., 0] = 2.0
    forward = -backward
    assert consistency_mask(backward, forward)[:, :12].min() == 1.0
    assert consistency_mask(backward, backward)[:, :12].max() == 0.0  # both say "to the right"


def test_warping_error_is_zero_for_the_true_motion() -> None:
    scene = _texture(64, 96)
    previous, current = scene[:, 0:80], scene[:, 4:84]
    flow = np.zeros((64, 80, 2), np.float32)
    flow[..., 0] = 4
    mask = np.ones((64, 80), np.float32)
    mask[:, -4:] = 0
    assert warping_error(previous, current, flow, mask) < 1e-6
    assert warping_error(previous, current, np.zeros_like(flow), mask) > 0.01
