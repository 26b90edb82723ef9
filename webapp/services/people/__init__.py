"""People: who uses the shop and how they prove it.

- `accounts`: the account rules (username, email, password strength), sign-in, passwords and reset links,
  profile and addresses, and anonymising a closed account's own data.
- `registration`: signing up and the emailed 6-digit codes (verification, email change).
- `sessions`: signed-in sessions kept on the server; `twofactor`: TOTP and recovery codes; `passwords`: hashing.
- `staff`: what admins do to accounts (roles, deactivation, forced resets), every change audited.
- `addresses`: the country list and postcode checks every address form and the API use.
- `authors` and `author_admin`: author profiles and bank details, and the admin's list and edits of them.

May import services.platform (and the models) only: the rest of the shop builds on people, never the other way
round. Deleting an account involves every part of the shop and is services.closure; an author's sales figures
are services.insight.author_figures.
"""
