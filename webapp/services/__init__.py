"""Domain services: plain Python over the DB session. No Flask request objects here.

The packages are layered (see the import contracts in pyproject.toml): a package imports only the ones below it,
so a lower package that has news for a higher one (stock freed copies; a book was archived) offers a listener
registry, and `connect()` below wires the higher package's handler into it. This module is the one place that
knows both sides, which is why it may import circulation, catalog and inventory.
"""
from __future__ import annotations

from .catalog import editing
from .circulation import holds
from .inventory import stock


def connect() -> None:
    """Wire the listeners, once per process (create_app calls it; registering again changes nothing):

    - copies of a book become available -> its holds queue takes them first (holds.allocate);
    - a book is archived -> its holds queue closes and the customers are told (holds.close_for_book).
    """
    stock.on_copies_freed(holds.allocate)
    editing.on_archived(holds.close_for_book)
