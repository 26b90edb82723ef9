from .catalog import Author, Book, BookAuthor, Genre, book_genres, slugify
from .inventory import Inventory, StockMovement
from .mail import OutboundEmail
from .search import SearchTerm
from .types import UTCDateTime, utcnow
from .users import ROLES, Address, AuditLog, EmailCode, LoginEvent, RecoveryCode, User

__all__ = [
    "Address", "AuditLog", "EmailCode", "LoginEvent", "RecoveryCode",
    "Author", "Book", "BookAuthor", "Genre", "Inventory", "OutboundEmail", "ROLES", "SearchTerm",
    "StockMovement", "UTCDateTime", "User", "book_genres", "slugify", "utcnow",
]
