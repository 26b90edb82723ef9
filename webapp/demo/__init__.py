"""Demo data for `make run`, the tests and the benchmarks; never part of the running shop.

Faker (author names) is a dev requirement, so production installs (requirements.txt) cannot seed. Only
`webapp.cli` imports this package, to register the demo commands (`demo.cli`): an import contract keeps
every other module out of it.

- `books`: what a demo book looks like (word lists, Faker's names), deterministic for (seed, index);
- `bulk`: how thousands of them are written (COPY on PostgreSQL, executemany elsewhere);
- `accounts`: the demo logins (and the demo admin's published two-factor key);
- `history`: 90 days of past orders, so the dashboards have figures on a new install;
- `seed`: `seed(books, seed_value)`, the one entry point; `cli`: `flask seed`, `demo-credentials`, `demo-totp`.
"""
