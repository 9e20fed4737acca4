"""Similarity alignment (Umeyama) and camera pose errors against a reference, e.g. SfM against the truth.

Structure from motion recovers cameras up to a similarity (rotation,
translation, scale) of the world. :func:`align_similarity` finds the one that
best maps estimated camera centres onto the reference ones (least squares,
Umeyama 1991); :func:`pose_errors` applies it and reports, per camera, the
angle between estimated and reference orientations (degrees) and the distance
between their centres (reference units).

Example:
    >>> ref = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    >>> sim = align_similarity(2.0 * ref + 5.0, ref)
    >>> round(sim.scale, 6), np.allclose(sim.apply(2.0 * ref + 5.0), ref)
    (0.5, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from easel.cameras import ColmapModel, camera_center
from easel.errors import InputError

__all__ = ["PoseErrors", "Similarity", "align_poses", "align_similarity", "model_pose_errors", "pose_errors"]

Float64Array = NDArray[np.float64]


@dataclass(frozen=True)
class Similarity:
    """The map ``x -> scale * rotation @ x + translation``.

    Example:
        >>> Similarity(2.0, np.eye(3), np.ones(3)).apply([[1.0, 0.0, 0.0]]).tolist()
        [[3.0, 1.0, 1.0]]
    """

    scale: float
    rotation: Float64Array
    translation: Float64Array

    def apply(self, points: ArrayLike) -> Float64Array:
        """Map ``(..., 3)`` points.

        Example:
            >>> Similarity(1.0, np.eye(3), np.zeros(3)).apply([0.0, 1.0, 2.0]).tolist()
            [0.0, 1.0, 2.0]
        """
        pts = np.asarray(points, dtype=np.float64)
        return np.asarray(self.scale * pts @ self.rotation.T + self.translation, dtype=np.float64)

    def apply_pose(self, world_to_camera: ArrayLike) -> Float64Array:
        """A world-to-camera pose of the source world as a pose of the target world (same camera).

        The camera's axes keep their directions relative to the scene; its
        translation is scaled, so depths come out in the target's units.

        Example:
            >>> sim = Similarity(2.0, np.eye(3), np.array([1.0, 0.0, 0.0]))
            >>> sim.apply_pose(np.eye(4))[:3, 3].tolist()
            [-1.0, 0.0, 0.0]
        """
        pose = np.asarray(world_to_camera, dtype=np.float64)
        out = np.eye(4)
        out[:3, :3] = pose[:3, :3] @ self.rotation.T
        out[:3, 3] = self.scale * pose[:3, 3] - out[:3, :3] @ self.translation
        return out


def align_similarity(source: ArrayLike, target: ArrayLike, with_scale: bool = True) -> Similarity:
    """The similarity that best maps ``source`` points onto ``target`` points (Umeyama, least squares).

    Args:
        source: ``(N, 3)`` points (e.g. SfM camera centres).
        target: ``(N, 3)`` corresponding points (e.g. the true centres), N >= 3, not all on a line.
        with_scale: estimate the scale too (else it is 1: a rigid motion).

    Returns:
        The :class:`Similarity` minimizing ``sum |target - (s R source + t)|^2``.

    Raises:
        InputError: mismatched shapes, fewer than 3 points, or points (nearly) on a line.

    Example:
        >>> pts = np.random.default_rng(0).normal(size=(5, 3))
        >>> round(align_similarity(pts, pts).scale, 6)
        1.0
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3:
        raise InputError(
            f"alignment needs two (N, 3) point sets of equal shape; got {src.shape} and {dst.shape}"
        )
    if len(src) < 3:
        raise InputError(f"alignment needs at least 3 corresponding points; got {len(src)}")
    mu_src, mu_dst = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_src, dst - mu_dst
    var_src = float((a**2).sum() / len(src))
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    if var_src <= 0.0 or d[1] <= 1e-12 * max(d[0], 1e-300):
        raise InputError("cannot align: the points are (nearly) all on one line or one point")
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(d) @ sign) / var_src) if with_scale else 1.0
    return Similarity(scale, rotation, mu_dst - scale * rotation @ mu_src)


@dataclass(frozen=True)
class PoseErrors:
    """Per-camera pose errors after alignment.

    Attributes:
        rotation_deg: ``(N,)`` angle between estimated and reference orientations, degrees.
        position: ``(N,)`` distance between aligned estimated and reference centres, reference units.
        similarity: the alignment used (estimated world -> reference world).
        names: the cameras' names, when known.
        missing: reference cameras with no estimate (e.g. images SfM could not register).

    Example:
        >>> errs = pose_errors(np.stack([np.eye(4)] * 3), np.stack([np.eye(4)] * 3), align=False)
        >>> errs.summary()["rotation_deg_max"]
        0.0
    """

    rotation_deg: Float64Array
    position: Float64Array
    similarity: Similarity
    names: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Mean, median and max of both errors, plus the number of cameras compared and missing.

        Example:
            >>> sorted(pose_errors(np.stack([np.eye(4)] * 3), np.stack([np.eye(4)] * 3), align=False).summary())[:2]
            ['num_cameras', 'num_missing']
        """
        out: dict[str, float] = {
            "num_cameras": float(len(self.rotation_deg)),
            "num_missing": float(len(self.missing)),
        }
        for key, values in (("rotation_deg", self.rotation_deg), ("position", self.position)):
            out[f"{key}_mean"] = float(np.mean(values))
            out[f"{key}_median"] = float(np.median(values))
            out[f"{key}_max"] = float(np.max(values))
        return out


def align_poses(estimated: ArrayLike, reference: ArrayLike, with_scale: bool = True) -> Similarity:
    """The similarity mapping estimated cameras onto reference ones: rotation from orientations.

    Centres alone pin a similarity's rotation down poorly when the cameras lie
    near a line or an arc (a turn about the chord moves them by little), so
    the rotation here is the mean rotation offset between the cameras'
    orientations (chordal L2 mean), and scale and translation best map the
    centres given that rotation.

    Args:
        estimated: ``(N, 4, 4)`` world-to-camera poses in their own world, N >= 1 (N >= 2 to scale).
        reference: ``(N, 4, 4)`` the same cameras' reference poses.
        with_scale: estimate the scale (else 1).

    Example:
        >>> from easel.cameras import pose_from_center
        >>> ref = np.stack([pose_from_center([float(x), 0.0, 0.0]) for x in range(3)])
        >>> est = np.stack([Similarity(2.0, np.eye(3), np.ones(3)).apply_pose(p) for p in ref])
        >>> round(align_poses(est, ref).scale, 6)
        0.5
    """
    est = np.asarray(estimated, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    # w2c rotations: R_ref ~ R_est Q^T, so Q ~ R_ref^T R_est
    acc = np.einsum("nji,njk->ik", ref[:, :3, :3], est[:, :3, :3])
    u, _, vt = np.linalg.svd(acc)
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    src = np.stack([camera_center(p) for p in est])
    dst = np.stack([camera_center(p) for p in ref])
    a, b = src - src.mean(axis=0), dst - dst.mean(axis=0)
    var = float((a**2).sum())
    scale = float(np.sum(b * (a @ rotation.T)) / var) if with_scale and var > 0 else 1.0
    return Similarity(scale, rotation, dst.mean(axis=0) - scale * rotation @ src.mean(axis=0))


def _rotation_angle_deg(r_a: Float64Array, r_b: Float64Array) -> float:
    m = r_a @ r_b.T
    cos = (np.trace(m) - 1.0) / 2.0
    sin = 0.5 * float(np.linalg.norm([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]]))
    return float(np.degrees(np.arctan2(sin, cos)))  # precise near 0, unlike arccos


def pose_errors(
    estimated: ArrayLike,
    reference: ArrayLike,
    *,
    align: bool | str = True,
    with_scale: bool = True,
    names: list[str] | None = None,
) -> PoseErrors:
    """Rotation and position errors of estimated camera poses against reference ones.

    Args:
        estimated: ``(N, 4, 4)`` world-to-camera poses (OpenCV) in their own world.
        reference: ``(N, 4, 4)`` the same cameras' reference poses, same order.
        align: first map the estimated world onto the reference one: ``"poses"`` (or ``True``)
            with :func:`align_poses` (rotation from the orientations, scale and translation from
            the centres), ``"centers"`` with :func:`align_similarity` on the centres alone
            (N >= 3); ``False`` compares as given.
        with_scale: let the alignment scale (SfM has no scale of its own).
        names: the cameras' names, kept in the result.

    Returns:
        :class:`PoseErrors`.

    Example:
        >>> from easel.cameras import pose_from_center
        >>> ref = np.stack([pose_from_center([x, x * x, 0.0]) for x in range(4)])
        >>> est = np.stack([Similarity(3.0, np.eye(3), np.ones(3)).apply_pose(p) for p in ref])
        >>> round(pose_errors(est, ref).summary()["position_max"], 9)
        0.0
    """
    est = np.asarray(estimated, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if est.shape != ref.shape or est.ndim != 3 or est.shape[1:] != (4, 4):
        raise InputError(
            f"pose errors need two (N, 4, 4) pose arrays of equal shape; got {est.shape} and {ref.shape}"
        )
    if len(est) == 0:
        raise InputError("pose errors need at least one camera")
    ref_centers = np.stack([camera_center(p) for p in ref])
    if align == "centers":
        est_centers = np.stack([camera_center(p) for p in est])
        sim = align_similarity(est_centers, ref_centers, with_scale=with_scale)
    elif align is True or align == "poses":
        sim = align_poses(est, ref, with_scale=with_scale)
    elif align is False:
        sim = Similarity(1.0, np.eye(3), np.zeros(3))
    else:
        raise InputError(f"align must be 'poses', 'centers', True or False; got {align!r}")
    aligned = np.stack([sim.apply_pose(p) for p in est])
    rot = np.array([_rotation_angle_deg(a[:3, :3], r[:3, :3]) for a, r in zip(aligned, ref, strict=True)])
    pos = np.linalg.norm(np.stack([camera_center(p) for p in aligned]) - ref_centers, axis=1)
    return PoseErrors(rot, pos, sim, list(names or []))


def model_pose_errors(
    estimated: ColmapModel,
    reference: ColmapModel | Mapping[str, ArrayLike],
    *,
    align: bool | str = True,
    with_scale: bool = True,
) -> PoseErrors:
    """Pose errors of a COLMAP model's images against reference poses, matched by image name.

    Args:
        estimated: e.g. the model SfM made.
        reference: the true model, or ``name -> (4, 4) world-to-camera pose``.
        align: how to align (see :func:`pose_errors`).
        with_scale: let the alignment scale.

    Returns:
        :class:`PoseErrors` over the names both have (sorted); reference names the
        estimate lacks are listed in ``missing``.

    Raises:
        InputError: fewer than 3 images in common.

    Example:
        >>> errs = model_pose_errors(sfm_model, truth_model)  # doctest: +SKIP
        >>> errs.summary()["rotation_deg_max"] < 1.0  # doctest: +SKIP
        True
    """
    if isinstance(reference, ColmapModel):
        ref_poses = {img.name: img.world_to_camera() for img in reference.images.values()}
    else:
        ref_poses = {name: np.asarray(pose, dtype=np.float64) for name, pose in reference.items()}
    est_poses = {img.name: img.world_to_camera() for img in estimated.images.values()}
    common = sorted(set(ref_poses) & set(est_poses))
    if len(common) < 3:
        raise InputError(f"only {len(common)} images in common with the reference; at least 3 are needed")
    errs = pose_errors(
        np.stack([est_poses[n] for n in common]),
        np.stack([ref_poses[n] for n in common]),
        align=align,
        with_scale=with_scale,
        names=common,
    )
    missing = sorted(set(ref_poses) - set(est_poses))
    return PoseErrors(errs.rotation_deg, errs.position, errs.similarity, common, missing)
