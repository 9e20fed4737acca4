"""Copying a source's audio into an encoded MP4 or WebM (PyAV remux, transcoded when it must be).

A video made from another one frame by frame (``easel stylize-video``) has no
sound of its own: :func:`copy_audio` takes the first audio stream of the
source and muxes it beside the video stream, packet for packet when the
container takes the codec (AAC, MP3, Opus ... in MP4; Opus, Vorbis in
WebM), otherwise re-encoded (AAC for MP4, Opus for WebM). The video is
replaced atomically; the source is only read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from easel.errors import InputError
from easel.io.atomic import atomic_path
from easel.io.video._pyav import av_errors, short_message

__all__ = ["AUDIO_COPY_CODECS", "copy_audio", "has_audio"]

AUDIO_COPY_CODECS = {
    "mp4": ("aac", "mp3", "opus", "alac", "flac", "ac3", "eac3"),
    "webm": ("opus", "vorbis"),
}
"""Audio codecs copied as they are into each container; others are re-encoded."""
_TRANSCODE = {"mp4": "aac", "webm": "libopus"}


def has_audio(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a media file with at least one audio stream (a folder: ``False``).

    Example:
        >>> has_audio("frames/")  # doctest: +SKIP
        False
    """
    import av

    p = Path(path)
    if not p.is_file():
        return False
    try:
        with av.open(str(p)) as container:
            return bool(container.streams.audio)
    except av_errors():
        return False


def copy_audio(video: str | os.PathLike[str], source: str | os.PathLike[str]) -> str | None:
    """Mux the first audio stream of ``source`` into ``video`` (an MP4 or WebM), in place.

    Args:
        video: the encoded video (its own streams are copied unchanged).
        source: the media file whose audio to add.

    Returns:
        ``"copied"`` (packets remuxed), ``"encoded"`` (re-encoded for the container),
        or ``None`` when ``source`` has no audio (``video`` is left as it was).

    Raises:
        InputError: ``video`` is not an MP4/WebM, or the audio cannot be read or written.

    Example:
        >>> copy_audio("styled.mp4", "holiday.mp4")  # doctest: +SKIP
        'copied'
    """
    import av

    out_path, src_path = Path(video), Path(source)
    kind = out_path.suffix.lower().lstrip(".")
    if kind not in AUDIO_COPY_CODECS:
        raise InputError(f"{out_path}: audio can be added to .mp4 or .webm only")
    if not has_audio(src_path):
        return None
    try:
        with (
            av.open(str(src_path)) as src,
            av.open(str(out_path)) as vin,
            atomic_path(out_path) as tmp,
        ):
            audio_in = src.streams.audio[0]
            with av.open(str(tmp), "w", format=kind) as out:
                mode = _mux(vin, src, audio_in, out, kind)
    except av_errors() as exc:
        raise InputError(
            f"{src_path}: cannot copy its audio into {out_path} ({short_message(exc)})"
        ) from None
    return mode


def _mux(vin: Any, src: Any, audio_in: Any, out: Any, kind: str) -> str:
    video_in = vin.streams.video[0]
    video_out = out.add_stream_from_template(video_in)
    copy = audio_in.codec_context.name in AUDIO_COPY_CODECS[kind]
    if copy:
        audio_out = out.add_stream_from_template(audio_in)
    else:
        rate = int(audio_in.codec_context.sample_rate or 48000)
        if kind == "webm" and rate not in (8000, 12000, 16000, 24000, 48000):
            rate = 48000
        audio_out = out.add_stream(_TRANSCODE[kind], rate=rate)
    for packet in vin.demux(video_in):
        if packet.dts is None:
            continue
        packet.stream = video_out
        out.mux(packet)
    if copy:
        for packet in src.demux(audio_in):
            if packet.dts is None:
                continue
            packet.stream = audio_out
            out.mux(packet)
        return "copied"
    for frame in src.decode(audio_in):
        frame.pts = None
        for packet in audio_out.encode(frame):
            out.mux(packet)
    for packet in audio_out.encode(None):
        out.mux(packet)
    return "encoded"
