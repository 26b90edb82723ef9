"""Status moves: the one check every entity with a transition table makes before its conditional UPDATE.

Each such entity (orders, charges, checkout sessions, holds, rentals) keeps its table beside its status enum in
webapp.models (from-status -> the statuses it may move to) and changes status only through one function of its
service, which calls `require_move` first and then runs one conditional UPDATE whose row count (platform.dml)
says whether this call made the move. A move the table does not have is refused before the database is touched.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from enum import StrEnum
from typing import TypeVar

S = TypeVar("S", bound=StrEnum)


class IllegalMove(ValueError):
    """A status move the entity's transition table does not allow: a bug in the caller, not a message for people."""


def require_move(table: Mapping[S, AbstractSet[S]], sources: Iterable[S], target: S, *, what: str,
                 error: type[Exception] = IllegalMove) -> None:
    """Raise `error` unless `table` allows every one of `sources` to move to `target` (staying put is not a move
    unless the table says so). `what` names the entity with its article ("a charge"); the message ("A charge
    cannot go from paid to expired.") names it, every refused source and the target."""
    refused = [source for source in sources if target not in table[source]]
    if refused:
        raise error(f"{what[:1].upper()}{what[1:]} cannot go from {', '.join(map(_words, refused))} "
                    f"to {_words(target)}.")


def _words(status: StrEnum) -> str:
    """The status as people read it ("pending_payment" -> "pending payment")."""
    return status.value.replace("_", " ")
