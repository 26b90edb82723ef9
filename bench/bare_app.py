"""The floor for bench/http_bench.py: a bare Flask view served by the same gunicorn settings as Folio, so every
page's req/s can be read as a ratio to what gunicorn + Flask alone manage on this machine at that moment."""
from flask import Flask

app = Flask(__name__)
app.add_url_rule("/", "bare", lambda: "ok")
# Served as `bare_app:wsgi`: gunicorn.conf.py's post_fork resets the pools of a preloaded app that has Flask's
# `extensions` (Folio's); the bare WSGI callable has none, so the hook leaves it alone.
wsgi = app.wsgi_app
