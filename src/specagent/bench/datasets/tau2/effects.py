"""Which tau2 tools may run before their commit point, and why: one reviewed table per domain.

Tools tau2 marks ``READ`` (and ``calculate``) are read-only; every ``WRITE`` tool is
irreversible and *sandboxable*, since its only effect is on the in-memory DB (a speculative run
works on a deep copy of the toolkit and its DB); ``transfer_to_human_agents`` hands the customer
to a person, so it is irreversible and is never run early. The tests check the tables against
tau2's own marks, so a new tau2 tool fails loudly until it is reviewed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ....tools import Effect

__all__ = ["AIRLINE_EFFECTS", "EFFECT_TABLES", "RETAIL_EFFECTS", "ToolEffect"]


@dataclass(frozen=True)
class ToolEffect:
    """One row of an effect table: the class, whether it may run on a DB copy, and why."""

    effect: Effect
    sandboxable: bool
    why: str


def _read(why: str) -> ToolEffect:
    return ToolEffect(Effect.READ_ONLY, False, why)


def _db_write(why: str) -> ToolEffect:
    return ToolEffect(Effect.IRREVERSIBLE, True, why)


_HANDOFF = ToolEffect(
    Effect.IRREVERSIBLE, False, "hands the customer to a human; no DB change, cannot be undone"
)

AIRLINE_EFFECTS: dict[str, ToolEffect] = {
    "book_reservation": _db_write("adds a reservation, takes seats, charges payment methods"),
    "calculate": _read("arithmetic on its argument"),
    "cancel_reservation": _db_write("cancels a reservation and records refunds"),
    "get_flight_status": _read("reads a flight's status on a date"),
    "get_reservation_details": _read("reads one reservation"),
    "get_user_details": _read("reads one user profile"),
    "list_all_airports": _read("reads the airport list"),
    "search_direct_flight": _read("searches flights"),
    "search_onestop_flight": _read("searches flights"),
    "send_certificate": _db_write("adds a certificate to the user's payment methods"),
    "transfer_to_human_agents": _HANDOFF,
    "update_reservation_baggages": _db_write("changes bags and charges for them"),
    "update_reservation_flights": _db_write("changes flights, seats and payments"),
    "update_reservation_passengers": _db_write("changes passenger details"),
}
"""Airline tools (14). Reviewed against tau2's own READ/WRITE marks by the tests."""

RETAIL_EFFECTS: dict[str, ToolEffect] = {
    "calculate": _read("arithmetic on its argument"),
    "cancel_pending_order": _db_write("cancels an order and refunds it"),
    "exchange_delivered_order_items": _db_write("marks items for exchange, settles the price"),
    "find_user_id_by_email": _read("looks a user up"),
    "find_user_id_by_name_zip": _read("looks a user up"),
    "get_order_details": _read("reads one order"),
    "get_product_details": _read("reads one product and its variants"),
    "get_user_details": _read("reads one user profile"),
    "list_all_product_types": _read("reads the catalogue's product types"),
    "modify_pending_order_address": _db_write("changes an order's shipping address"),
    "modify_pending_order_items": _db_write("swaps items of a pending order, settles the price"),
    "modify_pending_order_payment": _db_write("changes an order's payment method"),
    "modify_user_address": _db_write("changes the user's default address"),
    "return_delivered_order_items": _db_write("marks items for return and refund"),
    "transfer_to_human_agents": _HANDOFF,
}
"""Retail tools (15). Reviewed against tau2's own READ/WRITE marks by the tests."""

EFFECT_TABLES: dict[str, dict[str, ToolEffect]] = {
    "airline": AIRLINE_EFFECTS,
    "retail": RETAIL_EFFECTS,
}
