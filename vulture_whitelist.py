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
_.request_id_token, _.request_started  # flask.g, read by name in webapp/request_log.py
_.mtime  # tarfile.TarInfo, read by tarfile (webapp/services/platform/backup.py)
_.folio_csrf_mark  # flask.g, read by name in webapp/catalog/fragments.py and visitor_pages.py
_.folio_may_store  # flask.g, read by name in webapp/catalog/visitor_pages.may_store
_.canonical, _.body_before, _.body_after  # webapp/catalog/fragments.BookPage, read by catalog/book.html
_.alert_since  # services.inventory.alerts.LowBook, read by admin/home.html
_.reset_breaker  # services.platform.cache: for tests and a shell after Redis is fixed (no waiting out the breaker)

# Alembic hooks, passed to context.configure by migrations/env.py (Alembic's argument names)
_.include_object, _.render_item, _.reflected, _.compare_to, _.autogen_context

# Staff API response schemas (webapp/api/admin_*.py): fields filled by name from the dicts the views return
_.movement, _.unit_price, _.tax, _.paid_from_wallet, _.shipping_address, _.email_verified, _.two_factor
_.ready_until, _.late_fee, _.fee_due, _.fee_paid_from_wallet, _.to_hold_queue

# Columns: the schema (kept by the migrations), written by the services, read by SQL, templates or people
_.last_error, _.sent_at, _.ready_at, _.current_period_start, _.added_at, _.ship_phone, _.shipped_at
_.delivered_at, _.cancelled_at, _.discount_code, _.order_line_id, _.received_at, _.resolved_by_id, _.resolution
_.days_refreshed, _.email_id, _.revoked_reason, _.job_id, _.finished_at, _.requested_by, _.password_changed_at
_.last_login_at, _.balance_after_cents

# Shopping and orders API response schemas (webapp/api/cart.py, shopping.py, orders.py): fields filled by name from the dicts
# the views return (some shared with the staff order schema)
_.can_cancel, _.unit_price, _.tax, _.paid_from_wallet, _.shipping_address

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

# Keys of TypedDicts that services return and templates, CSV exports or emails read (vulture sees the class body
# only): insight report results, the weekly summary, the catalog home sections
_.value_cost_cents, _.value_price_cents, _.titles_without_cost, _.in_stock_ok, _.turnover_days, _.turnover
_.units_sold_window, _.days_of_cover, _.copies_on_hand, _.default_threshold, _.accruing_cents, _.fees_charged_cents
_.fees_collected_cents, _.outstanding_cents, _.rentals_with_balance, _.books_waited_for, _.waiting_since
_.suggested_restock, _.late_fee_per_day_cents, _.rollups_refreshed_at, _.aov_cents, _.in_catalog_since
_.titles_sold, _.previous, _.new_arrivals, _.bestsellers

# Read by templates only (models)
_.is_sale  # orders/index.html, checkout/_status.html, checkout/cancelled.html
_.queue_tier  # admin/_holds_table.html

# Enum members reached by value (Tier("plus")), never by name
_.PLUS, _.PREMIUM

# The JSON API's core (webapp/api): response schema fields dumped by name by flask-smorest
_.token_type, _.field_messages  # TokensSchema, ErrorBodySchema ("fields")
_.optional_user  # webapp/api/auth.py: for a public route that shows more to a signed-in caller (none does yet)
# API response schemas (webapp/api/catalog.py): fields are filled by name from the dicts the views return
_.rent_per_week, _.cover_url, _.photo_url, _.books_total
# JSON API response fields (h3: account, circulation, membership, author): marshmallow schemas read them by name
_.email_verified, _.two_factor, _.photo_url, _.period_label, _.late_fee, _.fee_due, _.blocked_reason, _.ready_until
_.period_days, _.next_plan, _.subscription, _.balance_after
# The admin customer page's tabs (services.commerce.customer_file.PlanTab, read by admin/_user_plan.html)
_.period_start, _.comped, _.refund_now_cents
_.late_days  # customer_file.RentalLine.late_days, read by admin/_user_rentals.html
# Fees (issue 16): the replacement price is read by the lost-book emails; FeeItem.created is the interface's alias
_.replacement_cents, _.created
# Postal loans (issue 16): API response field filled by name (webapp/api/circulation.py RentalSchema)
_.renewable
_.is_returned  # Rental.is_returned: read by admin/_rentals_table.html
_.not_arrived  # rentals.not_arrived: read by admin/_rentals_table.html
# Pages (issue 17): who saved a page last, read by admin/site_pages.html and admin/site_page.html
_.updated_by
# Catalog look (issue 17): back_in_stock.Waiting.asked_at, read by account/_back_in_stock.html
_.asked_at
