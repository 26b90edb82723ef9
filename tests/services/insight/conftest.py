"""Fixtures for the report tests: the March 2026 shop (tests/services/insight/march_shop.py), with or without
its sales rollups built."""
import pytest

from tests.services.insight import march_shop
from webapp.services.insight import rollups


@pytest.fixture
def shop(app, db, make_book):
    return march_shop.build(make_book)


@pytest.fixture
def rolled(shop):
    rollups.refresh_rollups(full=True)
    return shop
