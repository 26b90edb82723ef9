from .background import TASK_STATUSES, BackgroundTask
from .catalog import Author, Book, BookAuthor, Genre, book_genres, slugify
from .inventory import BackInStockRequest, Inventory, StockAlert, StockMovement
from .mail import OutboundEmail
from .membership import HOLD_STATUSES, OPEN_HOLD, TIERS, Hold, Subscription
from .orders import (
    AUTOMATIC_ORDER_MOVES,
    LINE_MODES,
    ORDER_STATUSES,
    ORDER_TRANSITIONS,
    PAID_STATUSES,
    CartLine,
    DiscountCode,
    DiscountRedemption,
    LineMode,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Rental,
    staff_moves,
)
from .payments import (
    OUTBOX_STATUSES,
    PAYMENT_ISSUE_KINDS,
    Charge,
    GatewaySession,
    OutboxMessage,
    PaymentEvent,
    PaymentIssue,
)
from .reports import (
    ReportRollupState,
    SalesAuthorTotal,
    SalesBookTotal,
    SalesDaily,
    SalesDailyGenre,
    SalesDailyTotal,
    WeeklySummarySend,
)
from .search import SearchTerm
from .sessions import ApiRefreshToken, UserSession
from .site import SitePage
from .types import UTCDateTime, utcnow
from .users import ROLES, Address, AuditLog, EmailCode, LoginEvent, RecoveryCode, User
from .wallet import WALLET_REASONS, WalletEntry

__all__ = [
    "CartLine", "DiscountCode", "DiscountRedemption", "GatewaySession", "LINE_MODES", "ORDER_STATUSES", "PAID_STATUSES", "Order",
    "OrderEvent", "OrderLine", "OrderStatus", "ORDER_TRANSITIONS", "AUTOMATIC_ORDER_MOVES", "LineMode", "staff_moves", "PaymentEvent", "Rental",
    "Address", "AuditLog", "EmailCode", "LoginEvent", "RecoveryCode",
    "Author", "Book", "BookAuthor", "Genre", "Inventory", "OutboundEmail", "ROLES", "SearchTerm",
    "StockMovement", "UTCDateTime", "User", "book_genres", "slugify", "utcnow",
    "StockAlert", "BackgroundTask", "TASK_STATUSES",
    "WALLET_REASONS", "WalletEntry", "HOLD_STATUSES", "OPEN_HOLD", "TIERS", "Charge", "Hold", "Subscription",
    "OUTBOX_STATUSES", "PAYMENT_ISSUE_KINDS", "OutboxMessage", "PaymentIssue",
    "ReportRollupState", "SalesAuthorTotal", "SalesBookTotal", "SalesDaily", "SalesDailyGenre", "SalesDailyTotal",
    "WeeklySummarySend", "UserSession", "ApiRefreshToken", "SitePage", "BackInStockRequest",
]
