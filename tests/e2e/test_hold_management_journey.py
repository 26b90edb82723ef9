"""Managing holds in a real browser: a customer pauses a hold (it keeps its place, a returned copy skips it) and
resumes it; staff move a waiting hold up its book's queue, extend a set-aside copy's pick-up window and cancel a
hold with a reason, all through htmx (the rows and the queue swap in place). axe (serious/critical) at phone and
desktop sizes on /account/holds, /admin/holds and the book's queue page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import ADMIN_TOTP, Auth

from .axe import VIEWPORTS, AxeReport
from .conftest import assert_same_document, in_app, mark_document, sign_in_as

TITLE = "The Patient Shelf"


@dataclass(frozen=True)
class Queue:
    book_id: int
    holds: dict[str, int]  # username -> hold id
    emails: dict[str, str]


@pytest.fixture
def queue(app) -> Queue:
    """A book with no copies and three Free readers queued a minute apart (amy, ben, cat), and an admin."""
    import time_machine

    from tests.factories import make_book
    from webapp.extensions import db
    from webapp.models import utcnow
    from webapp.services.circulation import holds

    with app.app_context():
        auth = Auth(app, None)
        book = make_book(TITLE, authors=("Odile Marchetti",), genres=("Fiction",), price_cents=1800, on_hand=0)
        t0 = utcnow() - timedelta(hours=2)
        ids, emails = {}, {}
        for i, name in enumerate(["amy_reads", "ben_reads", "cat_reads"]):
            user = auth.user(name)
            user.full_name = name.split("_")[0].title() + " Reader"
            db.session.commit()
            with time_machine.travel(t0 + timedelta(minutes=i), tick=False):
                ids[name] = holds.place(user, book).id
                db.session.commit()
            emails[name] = user.email
        auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
        seeded = Queue(book_id=book.id, holds=ids, emails=emails)
        db.session.remove()
    return seeded


def _statuses(app, q: Queue) -> dict[str, tuple[str, bool]]:
    from webapp.models import Hold

    def read(db):
        return {name: (db.session.get(Hold, i).status, db.session.get(Hold, i).is_suspended)
                for name, i in q.holds.items()}

    return in_app(app, read)


def _order(app, q: Queue) -> list[str]:
    """Usernames of the waiting holds in queue order."""
    from sqlalchemy import select

    from webapp.models import Hold, User

    return in_app(app, lambda db: list(db.session.scalars(
        select(User.username).join(Hold, Hold.user_id == User.id)
        .where(Hold.book_id == q.book_id, Hold.status == "waiting")
        .order_by(Hold.priority, Hold.queued_at, Hold.id))))


def _audit_both_sizes(page: Page, report: AxeReport, label: str) -> None:
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        report.audit(page, f"{label} ({name})")
    page.set_viewport_size(VIEWPORTS["desktop"])


def _new_page(new_context) -> tuple[BrowserContext, Page]:
    context = new_context()
    context.set_default_timeout(5_000)
    return context, context.new_page()


def test_customer_pauses_and_resumes_staff_move_extend_and_cancel(e2e_page: Page, new_context, queue: Queue, app):
    from webapp.services.inventory import stock

    report = AxeReport()
    amy = e2e_page

    # --- Amy (number 1) pauses her hold: she keeps her place
    sign_in_as(amy, "amy_reads")
    amy.goto("/account/holds")
    row = amy.locator("[data-testid=open-hold]", has_text=TITLE)
    expect(row.locator("[data-testid=hold-position]")).to_have_text("Number 1 in the queue")
    _audit_both_sizes(amy, report, "/account/holds (waiting)")
    row.locator("summary", has_text="Pause").click()
    expect(row.get_by_label(re.compile("Not needed until"))).to_be_visible()
    _audit_both_sizes(amy, report, "/account/holds (pause form open)")
    row.get_by_role("button", name="Pause hold").click()
    expect(amy.locator(".flashes")).to_contain_text(f"Your hold on “{TITLE}” is paused until you resume it.")
    row = amy.locator("[data-testid=open-hold]", has_text=TITLE)
    expect(row.locator("[data-testid=hold-position]")).to_have_text("Number 1 in the queue")
    expect(row.locator("[data-testid=hold-paused]")).to_have_text("paused until you resume it")
    _audit_both_sizes(amy, report, "/account/holds (paused)")
    assert _statuses(app, queue)["amy_reads"] == ("waiting", True)

    # a copy comes back: it skips Amy's paused hold and goes to Ben
    in_app(app, lambda db: (stock.adjust(queue.book_id, 1, "restock"), db.session.commit()))
    assert _statuses(app, queue)["ben_reads"] == ("ready", False)
    assert _statuses(app, queue)["amy_reads"] == ("waiting", True)

    # she resumes: still number 1 (no copy is free now)
    row.get_by_role("button", name=re.compile("^Resume")).click()
    expect(amy.locator(".flashes")).to_contain_text(f"Your hold on “{TITLE}” is active again: number 1 in the queue.")
    row = amy.locator("[data-testid=open-hold]", has_text=TITLE)
    expect(row.locator("[data-testid=hold-paused]")).to_have_count(0)
    assert _statuses(app, queue)["amy_reads"] == ("waiting", False)

    # --- staff: the holds list shows customers by name, linked to their page
    _, admin = _new_page(new_context)
    sign_in_as(admin, "boss", totp_secret=ADMIN_TOTP)
    admin.goto("/admin/holds?view=waiting")
    expect(admin.locator("main h1")).to_have_text("Holds")
    amy_link = admin.locator("#holds-table").get_by_role("link", name="Amy Reader")
    expect(amy_link).to_have_attribute("href", re.compile(r"^/admin/users/\d+$"))
    expect(admin.locator("#holds-table")).not_to_contain_text("#")
    _audit_both_sizes(admin, report, "/admin/holds (waiting)")

    # the book's queue: Cat (number 2 among the waiting) moves up past Amy, in place (htmx)
    admin.locator("#holds-table [data-testid=hold-row]").first.get_by_role("link", name=re.compile("^Queue")).click()
    expect(admin.locator("main h1")).to_have_text(f"Holds queue: {TITLE}")
    _audit_both_sizes(admin, report, "book queue page")
    assert _order(app, queue) == ["amy_reads", "cat_reads"]
    mark_document(admin)
    cat_row = admin.locator("[data-testid=queue-row]", has_text="Cat Reader")
    cat_row.get_by_role("button", name=re.compile(r"^Move up")).click()
    expect(admin.locator("[data-testid=queue-status]")).to_contain_text("Moved Cat Reader to number 1 in the queue")
    assert_same_document(admin, "moving a hold")
    names = admin.locator("[data-testid=queue-row] td:nth-child(2) a")
    expect(names).to_have_text(["Ben Reader", "Cat Reader", "Amy Reader"])  # the set-aside copy first
    assert _order(app, queue) == ["cat_reads", "amy_reads"]
    _audit_both_sizes(admin, report, "book queue page after a move")

    # extend Ben's pick-up window by 3 days (the ready list, htmx row swap)
    from webapp.models import Hold

    before = in_app(app, lambda db: db.session.get(Hold, queue.holds["ben_reads"]).expires_at)
    admin.goto("/admin/holds?view=ready")
    ben_row = admin.locator("[data-testid=hold-row]", has_text="Ben Reader")
    ben_row.locator("summary", has_text="Extend").click()
    ben_row.get_by_label(re.compile("^Days")).fill("3")
    _audit_both_sizes(admin, report, "/admin/holds (ready, extend form open)")
    mark_document(admin)
    ben_row.get_by_role("button", name="Extend window").click()
    expect(admin.locator("[data-testid=hold-row]", has_text="Ben Reader")).to_contain_text(
        "now waits for Ben Reader until")
    assert_same_document(admin, "extending a window")
    after = in_app(app, lambda db: db.session.get(Hold, queue.holds["ben_reads"]).expires_at)
    assert after - before == timedelta(days=3)

    # cancel Amy's hold with a reason, from the queue page (the queue renumbers)
    admin.goto(f"/admin/holds/books/{queue.book_id}")
    amy_row = admin.locator("[data-testid=queue-row]", has_text="Amy Reader")
    amy_row.locator("summary", has_text="Cancel").click()
    amy_row.get_by_label(re.compile("^Reason")).fill("Asked us to at the desk.")
    amy_row.get_by_role("button", name="Cancel hold").click()
    expect(admin.locator("[data-testid=queue-status]")).to_contain_text(
        f"Cancelled the hold of Amy Reader on “{TITLE}”; they are emailed.")
    expect(admin.locator("[data-testid=queue-row]", has_text="Amy Reader")).to_have_count(0)
    assert _statuses(app, queue)["amy_reads"][0] == "cancelled"

    # Amy sees it in her past holds, and has the email with the reason
    amy.goto("/account/holds")
    expect(amy.locator("#closed-heading ~ ul")).to_contain_text(f"{TITLE}: cancelled")
    _audit_both_sizes(amy, report, "/account/holds (closed)")
    from sqlalchemy import select

    from webapp.models import OutboundEmail

    bodies = in_app(app, lambda db: list(db.session.scalars(select(OutboundEmail.body_text).where(
        OutboundEmail.recipient == queue.emails["amy_reads"]))))
    assert any("The reason they gave: Asked us to at the desk." in b for b in bodies)
    report.check()
