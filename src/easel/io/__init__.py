"""Input and output: images, videos, PLY point clouds, atomic writes, the output plan, input guard, run records."""

from easel.io.atomic import (
    atomic_dir,
    atomic_path,
    write_bytes_atomic,
    write_text_atomic,
)
from easel.io.images import (
    DEFAULT_MAX_SIZE,
    IMAGE_SUFFIXES,
    LoadedImage,
    check_image_suffix,
    read_image,
    write_image,
)
from easel.io.outputs import OutputPlan, check_output_path
from easel.io.video import (
    VIDEO_SUFFIXES,
    VIDEO_WRITE_SUFFIXES,
    VideoFrames,
    VideoInfo,
    VideoWriter,
    probe_video,
    read_frames,
    write_video,
)

__all__ = [
    "OutputPlan",
    "VIDEO_SUFFIXES",
    "VIDEO_WRITE_SUFFIXES",
    "VideoFrames",
    "VideoInfo",
    "VideoWriter",
    "probe_video",
    "read_frames",
    "write_video",
    "DEFAULT_MAX_SIZE",
    "IMAGE_SUFFIXES",
    "LoadedImage",
    "atomic_dir",
    "atomic_path",
    "check_image_suffix",
    "check_output_path",
    "read_image",
    "write_bytes_atomic",
    "write_image",
    "write_text_atomic",
]
