"""What every command gets: the API client, where to print, and how to ask the user something."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from .client import Client, CliError
from .output import Out


@dataclass
class Context:
    client: Client
    out: Out
    stdin: TextIO = field(default_factory=lambda: sys.stdin)

    def ask(self, prompt: str, what: str) -> str:
        """A line typed by the user (prompt on stderr, so stdout stays clean for --json)."""
        print(prompt, end="", file=self.out.stderr, flush=True)
        answer = self.stdin.readline()
        if not answer:
            raise CliError(f"No {what} given (stdin is closed).", code="usage", exit_code=2)
        return answer.strip()

    def note(self, message: str) -> None:
        """A remark about what the command did for the user; on stderr in --json mode."""
        (self.out.error if self.out.json_mode else self.out.line)(message)
