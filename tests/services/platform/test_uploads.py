"""Uploaded images: verified, re-encoded without metadata, resized, randomly named; everything else refused."""
import io

import pytest
from PIL import Image

from webapp.services.platform import uploads


def _image(fmt="PNG", size=(1200, 1800), exif=False) -> io.BytesIO:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        image.save(buffer, fmt, exif=data)
    else:
        image.save(buffer, fmt)
    buffer.seek(0)
    return buffer


def test_a_cover_is_re_encoded_resized_and_stripped(app):
    with app.test_request_context():
        stored = uploads.save_image(_image("JPEG", exif=True), "covers")
        assert stored.startswith("covers/") and len(stored) == len("covers/") + 32
        full, thumb = uploads.path_for(stored, "full"), uploads.path_for(stored, "thumb")
        with Image.open(full) as img:
            assert img.format == "JPEG" and img.size == (600, 900) and not img.getexif()
        with Image.open(thumb) as img:
            assert img.size == (200, 300)
        assert uploads.save_image(_image(), "covers") != stored  # random names
        uploads.delete(stored)
        assert not full.exists() and not thumb.exists()


def test_transparent_png_becomes_an_opaque_jpeg(app):
    buffer = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(buffer, "PNG")
    buffer.seek(0)
    with app.test_request_context():
        stored = uploads.save_image(buffer, "authors")
        with Image.open(uploads.path_for(stored, "thumb")) as img:
            assert img.mode == "RGB" and img.getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize("payload, message", [
    (b"", "empty"),
    (b"%PDF-1.4 not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not an image"),  # a PNG signature and garbage
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not an image"),
])
def test_things_that_are_not_images_are_refused(app, payload, message):
    with app.test_request_context(), pytest.raises(uploads.UploadError, match=message):
        uploads.save_image(io.BytesIO(payload), "covers")


def test_too_large_files_and_too_many_pixels_are_refused(app):
    with app.test_request_context():
        app.config["UPLOAD_MAX_BYTES"] = 1000
        try:
            with pytest.raises(uploads.UploadError, match="too large"):
                uploads.save_image(_image(), "covers")
        finally:
            app.config["UPLOAD_MAX_BYTES"] = 5 * 1024 * 1024
        app.config["UPLOAD_MAX_PIXELS"] = 100 * 100
        try:
            with pytest.raises(uploads.UploadError, match="too many pixels"):
                uploads.save_image(_image(size=(200, 200)), "covers")
        finally:
            app.config["UPLOAD_MAX_PIXELS"] = 40_000_000


def test_media_route_serves_only_our_names(app, client):
    with app.test_request_context():
        stored = uploads.save_image(_image(), "covers")
        args = uploads.url_args(stored, "thumb")
    response = client.get(f"/media/{args['kind']}/{args['name']}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()
    for bad in ("/media/covers/../../config.py", "/media/secrets/" + args["name"], "/media/covers/abc.jpg"):
        assert client.get(bad).status_code == 404
