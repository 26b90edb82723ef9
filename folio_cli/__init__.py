"""folio-cli: a terminal client for Folio's JSON API (/api/v1).

It uses the API only, over HTTP (`requests`): it never imports the shop's code, so it works against any Folio
server it can reach. Run it as `python -m folio_cli --help` from the repository."""

__version__ = "0.1.0"
