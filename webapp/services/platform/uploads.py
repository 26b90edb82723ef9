"""Uploaded images (book covers, author photos).

Nothing the browser sends is stored as is: the bytes are size-checked, opened and verified by Pillow,
checked against a pixel limit (decompression bombs), turned upright, re-encoded as JPEG in a fresh file
(no EXIF, GPS or other metadata survives) and resized to fixed sizes. Files get random names under
UPLOAD_DIR/<kind>/ and the database stores only "<kind>/<token>"; `url_for("main.media", ...)` serves them.
"""
from __future__ import annotations

import io
import re
import secrets
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flask import current_app

if TYPE_CHECKING:
    from PIL import Image

# kind -> {size name: (max width, max height)}
SIZES = {
    "covers": {"full": (600, 900), "thumb": (200, 300)},
    "authors": {"full": (600, 600), "thumb": (160, 160)},
}
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
_STORED = re.compile(r"^(covers|authors)/[0-9a-f]{32}$")
FILE_NAME = re.compile(r"^[0-9a-f]{32}-(full|thumb)\.jpg$")


class UploadError(ValueError):
    """The upload cannot be used; the message is for the person who sent it."""


class Readable(Protocol):
    """An upload as the services take it: werkzeug's FileStorage, or any binary file object."""

    def read(self, size: int = -1, /) -> bytes: ...


def _root() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def save_image(stream: Readable, kind: str) -> str:
    """Store an uploaded image in every size of `kind`. Returns its stored name ("covers/<token>").

    `stream` is a file-like object (werkzeug FileStorage or bytes IO). Raises UploadError."""
    if kind not in SIZES:
        raise ValueError(f"unknown upload kind {kind!r}")
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    data = stream.read(limit + 1)
    if not data:
        raise UploadError("The file is empty.")
    if len(data) > limit:
        raise UploadError(f"The image is too large: the limit is {limit // (1024 * 1024)} MB.")
    from PIL import Image  # here, not at the top: a web worker that never receives an upload skips Pillow

    image = _open_verified(data)
    token = secrets.token_hex(16)
    folder = _root() / kind
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for size_name, box in SIZES[kind].items():
            copy = image.copy()
            copy.thumbnail(box, Image.Resampling.LANCZOS)
            target = folder / f"{token}-{size_name}.jpg"
            copy.save(target, "JPEG", quality=85, optimize=True, progressive=True)  # no exif= : metadata dropped
            written.append(target)
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return f"{kind}/{token}"


def _open_verified(data: bytes) -> Image.Image:
    from PIL import Image, ImageOps, UnidentifiedImageError

    max_pixels = current_app.config["UPLOAD_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.format not in ACCEPTED_FORMATS:
                raise UploadError("Upload a JPEG, PNG, WebP or GIF image.")
            if probe.width * probe.height > max_pixels:
                raise UploadError("The image has too many pixels; upload a smaller one.")
            probe.verify()  # structure check; the image must be reopened after this
            image: Image.Image = Image.open(io.BytesIO(data))
            image.load()
    except UploadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
            SyntaxError, ValueError) as exc:
        raise UploadError("That file is not an image we can read (JPEG, PNG, WebP or GIF).") from exc
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    return image.convert("RGB")


def path_for(stored: str, size: str = "full") -> Path | None:
    """The file of a stored image in one size, or None when the name is not one of ours."""
    if not stored or not _STORED.match(stored) or size not in ("full", "thumb"):
        return None
    kind, token = stored.split("/")
    return _root() / kind / f"{token}-{size}.jpg"


def delete(stored: str | None) -> None:
    """Remove every size of a stored image (after the row that pointed at it has been changed)."""
    if not stored or not _STORED.match(stored):
        return
    kind, token = stored.split("/")
    for size_name in SIZES[kind]:
        (_root() / kind / f"{token}-{size_name}.jpg").unlink(missing_ok=True)


def url_args(stored: str | None, size: str = "full") -> dict[str, str] | None:
    """Arguments for url_for("main.media", **args), or None when there is no image."""
    if not stored or not _STORED.match(stored):
        return None
    kind, token = stored.split("/")
    return {"kind": kind, "name": f"{token}-{size}.jpg"}
