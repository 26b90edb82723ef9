"""Commerce: selling and lending for money.

Owns the cart (cart), prices and totals (pricing), discount codes (discounts), checkout (checkout), what a
payment does to an order (fulfilment), an order's status moves (order_state, along models.ORDER_TRANSITIONS),
the order emails (order_mail), orders after checkout and the staff operations on them (orders), and the
payment providers: gateways and their outbox (payments, test_gateway), provider events (payment_events),
problems for staff (payment_issues), the reconciler (reconcile) and one-off charges such as wallet top-ups and
plans (charges).

May import circulation, catalog, inventory, people and platform (the packages below it); never jobs (it
enqueues them by dotted name), blueprints, insight or closure (those sit above it and call into commerce).
"""
