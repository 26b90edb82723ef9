"""Closure: what happens when a customer leaves.

Closing an account touches every part of the shop: open payment pages are closed at the provider, money in
the wallet, books out on rental and orders not yet shipped hold the deletion back, holds are cancelled, orders
are anonymised, a paid plan ends, and finally the person's own data goes (services.people). This package is
that process, in one place:

- `deletion`: deleting an account (the view's entry point) and the reasons it must wait.
- `lifecycle`: what each other part of the shop does when an account goes.

It sits on top of the service layers and may import every other service package; none of them imports it.
"""
