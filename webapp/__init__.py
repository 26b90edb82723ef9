"""Folio: an online bookstore. `create_app(config)` builds the Flask app."""
from __future__ import annotations

import copy
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, get_config

from . import (
    api,
    cli,
    db_events,
    errors,
    models,  # noqa: F401  (every table on db.metadata before the app starts)
    request_log,
    security,
    static_files,
    templating,
)
from .account import bp as account_bp
from .admin import bp as admin_bp
from .auth import bp as auth_bp
from .auth import session as auth_session
from .author import bp as author_bp
from .cart import bp as cart_bp
from .catalog import bp as catalog_bp
from .checkout import bp as checkout_bp
from .dev import bp as dev_bp
from .extensions import csrf, db, limiter, login_manager, migrate
from .main import bp as main_bp
from .orders import bp as orders_bp
from .pay import bp as pay_bp
from .services import connect as connect_services
from .services.platform import queues
from .site import bp as site_bp
from .webhooks import bp as webhooks_bp


def create_app(config: type[Config] | str | None = None) -> Flask:
    """The Flask app for a config (a Config class, or its name; None: FOLIO_CONFIG from the environment)."""
    config_cls = get_config(config) if config is None or isinstance(config, str) else config
    config_cls.init()

    app = Flask(__name__, instance_relative_config=True)
    _trust_proxies(app, config_cls.TRUSTED_PROXIES)
    app.config.from_object(config_cls)
    # The plan table is a nested dict on the config class: each app gets its own copy, so changing one app's
    # plans (a test, a script) never changes another's.
    app.config["PLANS"] = copy.deepcopy(app.config["PLANS"])
    app.config["FOLIO_CONFIG"] = config_cls.NAME
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("REDIS_URL"):
        app.config["REDIS_URL"] = _redis_url_from_file(app)

    _logging(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        shared = app.config.get("REDIS_URL") and not app.config.get("TESTING")
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] if shared else "memory://"
    limiter.init_app(app)
    queues.init_app(app)
    connect_services()  # listeners across the service layers (stock -> holds); idempotent
    db_events.install(app)
    security.install(app)

    app.register_blueprint(main_bp)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(author_bp)
    app.register_blueprint(cart_bp)
    app.register_blueprint(checkout_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(site_bp)  # /about, /contact, /faq ... (the shop's own pages)
    if config_cls.NAME != "production":  # the offline test gateway never exists in production
        app.register_blueprint(pay_bp)
    app.register_blueprint(webhooks_bp)
    api.init_app(app)  # /api/v1, /api/openapi.json, /api/docs
    if config_cls.NAME != "production" and app.config.get("DEV_OUTBOX_ENABLED"):  # /dev/* never in production
        app.register_blueprint(dev_bp)
    errors.install(app)
    templating.install(app)
    static_files.install(app)  # fingerprinted /static/ URLs, long cache lifetimes
    cli.register(app)
    auth_session.install(app)
    return app


def _trust_proxies(app: Flask, hops: int) -> None:
    """Behind `hops` proxies, the client's address and scheme are the ones those proxies report (werkzeug's
    ProxyFix believes exactly that many X-Forwarded-For / -Proto entries, from the right). Rate limits, audit
    and sign-in records then see the visitor, not 127.0.0.1. X-Forwarded-Host is never believed: links come
    from PUBLIC_URL."""
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # the WSGI middleware pattern Flask documents
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def _logging(app: Flask) -> None:
    """JSON or text logs, and the request id (bound first, logged last): see webapp.request_log."""
    request_log.configure(app)
    request_log.install(app)


def _redis_url_from_file(app: Flask) -> str | None:
    path = app.config.get("REDIS_URL_FILE")
    if path and os.path.exists(path):
        with open(path) as fh:
            return fh.read().strip() or None
    return None
