"""Catalog: the books, their authors and genres, as the shop shows them and as staff edit them.

Owns search and listing (search, vocabulary), books read by id (browse), the staff's list and edits (book_values:
the rules; names: authors and genres; admin_listing; editing; stock_changes; cover_files), the CSV import/export
(book_import), generated covers and ISBNs. May import inventory (stock counts and low-stock alerts) and platform;
never circulation or commerce: news for them goes through listener registries (editing.on_archived).
"""
