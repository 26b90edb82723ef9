"""Names vulture cannot see used (`make lint` runs `vulture`, configured in pyproject.toml).

Vulture reads Python only: what Jinja templates, Alembic's env.py, SQL or a framework read by name looks unused
to it. Each line marks one attribute name as used everywhere, so keep the list short and say who reads it.
Framework entry points by decorator (views, CLI commands, jobs, event hooks) are configured in pyproject.toml.
"""
from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# Flask-Login and werkzeug settings, read by the libraries
_.login_view, _.login_message, _.login_message_category, _.session_protection  # webapp/__init__.py
_.max_age  # response.cache_control.max_age (webapp/catalog/routes.py)
_.folio_touch_session  # flask.g, popped by name in webapp/auth/session.py

# Alembic hooks, passed to context.configure by migrations/env.py (Alembic's argument names)
_.include_object, _.render_item, _.reflected, _.compare_to, _.autogen_context

# Columns: the schema (kept by the migrations), written by the services, read by SQL, templates or people
_.last_error, _.sent_at, _.ready_at, _.current_period_start, _.added_at, _.ship_phone, _.shipped_at
_.delivered_at, _.cancelled_at, _.discount_code, _.order_line_id, _.received_at, _.resolved_by_id, _.resolution
_.days_refreshed, _.email_id, _.revoked_reason, _.job_id, _.finished_at, _.requested_by, _.password_changed_at
_.last_login_at, _.balance_after_cents

# Read by templates only
_.item_count, _.cancellable, _.percent  # orders/index.html, orders/detail.html, admin/_task.html
_.shipping_lines  # order.shipping_lines(): orders/_summary.html, email/_order.txt
_.has_prev, _.has_next, _.total_capped, _.corrected_from  # _macros pager, catalog/_results.html
_.average_cents, _.low_stock, _.out_of_stock, _.overdue_rentals, _.holds_waiting, _.holds_ready  # admin/home.html
_.generated_at, _.total_sold, _.total_rented, _.total_revenue_cents, _.shared_books  # author/_figures.html
_.next_cursor, _.is_first, _.actor_unknown  # admin/_audit_table.html
_.member_discount_label, _.free_shipping_gap_cents, _.is_empty  # cart/_totals.html, cart/_cart.html
_.days_left  # account/rentals.html: rentals.days_left(r)
_.rental_week_price, _.cost_price  # book form fields: admin/book_form.html, admin/book_import.html
