"""`python -m folio_cli`: parse the command line, run the command, turn every failure into a message on stderr
and an exit status (0 done, 1 refused or failed, 2 a usage error), never a traceback."""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from . import parser as cli_parser
from .client import Client, CliError
from .context import Context
from .credentials import Credentials
from .output import Out


def _report(out: Out, error: CliError) -> None:
    if out.json_mode:
        out.error(json.dumps(error.body, ensure_ascii=False))
        return
    out.error(f"Error: {error.message}")
    for name, messages in error.fields.items():
        for message in messages:
            out.error(f"  {name}: {message}" if name else f"  {message}")
    if error.hint:
        out.error(error.hint)


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    args = cli_parser.build().parse_args(argv)  # usage errors: argparse prints them and exits with 2
    out = Out(json_mode=args.json, stdout=stdout, stderr=stderr)
    base_url = args.url.strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        out.error(f"Error: --url must start with http:// or https:// (got {args.url!r}).")
        return 2
    try:
        with Client(base_url, Credentials(base_url), timeout=args.timeout) as client:
            return int(args.handler(Context(client, out, stdin or sys.stdin), args))
    except CliError as error:
        _report(out, error)
        return error.exit_code
    except KeyboardInterrupt:
        out.error("Interrupted.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
