"""Jinja filters and globals shared by all templates."""
from __future__ import annotations

from flask import Flask, request, url_for

from .htmx import current_url
from .services.platform.money import money


def b64encode(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def install(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(b64encode, "b64encode")

    def url_with(**changes):
        """The current URL with some query arguments replaced (None removes one)."""
        return current_url(request.args.to_dict(flat=True) | changes)

    def url_only(**args):
        """The current page's URL with only the given query arguments."""
        return current_url(args)

    def image_url(stored: str | None, size: str = "full") -> str | None:
        """URL of an uploaded image (cover, author photo) in one size, or None."""
        from .services.platform.uploads import url_args

        args = url_args(stored, size)
        return url_for("main.media", **args) if args else None

    app.add_template_global(image_url, "image_url")

    from .links import public_url

    app.add_template_global(public_url, "public_url")  # absolute links (canonical): PUBLIC_URL, not Host

    @app.context_processor
    def _globals():
        from .cart.store import count as cart_count

        return {"url_with": url_with, "url_only": url_only, "cart_count": cart_count, "shop_name": app.config["SHOP_NAME"],
                "dev_outbox": app.config.get("DEV_OUTBOX_ENABLED", False)}
