"""Audio and video clips of a report (通过图像、录音、视频等手段上报): checked by their bytes (the type is sniffed,
not taken from the client) and by size, then stored like the photos and played in the case panel."""

from __future__ import annotations

from app.cases.intake import Upload, checked_file

MAX_CLIP_BYTES = 25 * 1024 * 1024
CLIP_FIELDS = ("clips", "audio", "video")
KINDS = "MP3, M4A, WAV, OGG or AMR audio, or MP4, MOV or WebM video"


def sniff(data: bytes) -> str | None:
    """The content type of an audio or video clip from its first bytes, None when it is neither."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"#!AMR"):
        return "audio/amr"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def check_clip(filename: str, data: bytes, max_bytes: int = MAX_CLIP_BYTES) -> Upload:
    """An uploaded clip: not empty, not too large, and really audio or video."""
    return checked_file("clips", filename or "clip", data, max_bytes, sniff, KINDS)


def clips(files: object, max_bytes: int = MAX_CLIP_BYTES) -> list[Upload]:
    """The checked clips of a multipart request (its `clips`, `audio` and `video` files)."""
    return [check_clip(f.filename, f.read(), max_bytes) for name in CLIP_FIELDS
            for f in files.getlist(name) if f.filename]  # type: ignore[attr-defined]
