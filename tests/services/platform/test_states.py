"""states.require_move: the one transition-table check every status move makes before its conditional UPDATE."""
from __future__ import annotations

from enum import StrEnum

import pytest

from webapp.models import ORDER_TRANSITIONS, OrderStatus
from webapp.services.platform.states import IllegalMove, require_move


class Light(StrEnum):
    RED = "red"
    RED_AMBER = "red_amber"
    GREEN = "green"
    AMBER = "amber"


LIGHT_TRANSITIONS: dict[Light, frozenset[Light]] = {
    Light.RED: frozenset({Light.RED_AMBER}),
    Light.RED_AMBER: frozenset({Light.GREEN}),
    Light.GREEN: frozenset({Light.AMBER}),
    Light.AMBER: frozenset({Light.RED}),
}


class LightError(ValueError):
    pass


def test_every_move_the_table_has_is_allowed():
    for source, targets in LIGHT_TRANSITIONS.items():
        for target in targets:
            require_move(LIGHT_TRANSITIONS, (source,), target, what="a light")  # no error
    require_move(ORDER_TRANSITIONS, (OrderStatus.PENDING_PAYMENT, OrderStatus.EXPIRED, OrderStatus.CANCELLED),
                 OrderStatus.PAID, what="an order")
    require_move(LIGHT_TRANSITIONS, (), Light.GREEN, what="a light")  # nothing to move: nothing refused


def test_a_move_the_table_lacks_is_refused_with_the_entity_and_statuses_named():
    with pytest.raises(IllegalMove, match=r"^A light cannot go from green to red\.$") as refused:
        require_move(LIGHT_TRANSITIONS, (Light.GREEN,), Light.RED, what="a light")
    assert isinstance(refused.value, ValueError)  # callers and tests that expect a ValueError still get one
    with pytest.raises(IllegalMove, match="cannot go from red to red"):  # staying put is not a move either
        require_move(LIGHT_TRANSITIONS, (Light.RED,), Light.RED, what="a light")
    with pytest.raises(IllegalMove, match="^An order cannot go from delivered to pending payment"):  # as read
        require_move(ORDER_TRANSITIONS, (OrderStatus.DELIVERED,), OrderStatus.PENDING_PAYMENT, what="an order")


def test_the_caller_chooses_the_error_type():
    with pytest.raises(LightError, match="A light cannot go from amber to green") as refused:
        require_move(LIGHT_TRANSITIONS, [Light.AMBER], Light.GREEN, what="a light", error=LightError)
    assert not isinstance(refused.value, IllegalMove)


def test_one_refused_source_refuses_the_whole_move_and_only_refused_sources_are_named():
    with pytest.raises(IllegalMove, match=r"^A light cannot go from red amber to amber\.$"):
        require_move(LIGHT_TRANSITIONS, (Light.GREEN, Light.RED_AMBER), Light.AMBER, what="a light")
    with pytest.raises(IllegalMove, match=r"^A light cannot go from red, amber to green\.$"):
        require_move(LIGHT_TRANSITIONS, (Light.RED, Light.RED_AMBER, Light.AMBER), Light.GREEN, what="a light")
    sources = iter((Light.AMBER, Light.GREEN))  # any iterable of sources, read once
    with pytest.raises(IllegalMove, match="from green to red"):
        require_move(LIGHT_TRANSITIONS, sources, Light.RED, what="a light")
