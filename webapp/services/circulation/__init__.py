"""Circulation: books lent and kept for customers, and the money that rides on them.

Owns rentals (due dates, renewal, returns, late fees, reminder emails; postal loans in loans: the loan starts at
delivery, "sent back", automatic renewal), holds (the queue for books that are
out: allocation, pick-up windows, expiry), subscriptions (plans as read from config.PLANS, and a plan's life cycle) and the
wallet (the one place that changes a balance, with its ledger). Statuses move only as the transition tables
beside their enums allow (models.orders.RENTAL_TRANSITIONS, models.membership.HOLD_TRANSITIONS).

May import catalog, inventory, people and platform (and models); never commerce, insight or closure, which
build on it (checkout asks `rentals.allowance_problem`, pricing asks `subscriptions.tier_of`).
"""
