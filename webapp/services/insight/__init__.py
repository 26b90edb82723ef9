"""insight: what the shop's figures say. Owns the sales rollups (rollups), the five admin reports (their figures
in sales_figures and stock_and_rentals, their CSV and charts in exports, their background tasks in runners),
the admin home's overview (dashboard), server-drawn SVG charts (charts) and the weekly summary email (weekly).

It reads the other domains and may import commerce, circulation, catalog, inventory, people and platform;
never jobs, blueprints or web helpers (the jobs and the admin pages call into it).
"""
