"""Inventory: the stock counts of each book and their ledger (stock), and the low-stock alerts (alerts).

Every count change goes through stock, one conditional UPDATE and one ledger row at a time. May import platform
only; the packages above learn that copies were freed through stock.on_copies_freed (wired by services.connect).
"""
