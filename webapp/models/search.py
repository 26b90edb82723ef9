from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model


class SearchTerm(Model):
    """Vocabulary of title/author words, for "did you mean" suggestions (rebuilt by a job)."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(60), primary_key=True)
    frequency: Mapped[int] = mapped_column(default=0)
