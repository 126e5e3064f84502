"""Which tau2 tools may run before their commit point, and why: one reviewed table per domain.

Tools tau2 marks ``READ`` (and ``calculate``) are read-only; every ``WRITE`` tool is
irreversible and *sandboxable*, since its only effect is on the in-memory DB (a speculative run
works on a deep copy of the toolkit and its DB); ``transfer_to_human_agents`` hands the customer
to a person, so it is irreversible and is never run early. The tests check the tables against
tau2's own marks, so a new tau2 tool fails loudly until it is reviewed here.
"""

from __future__ import annotations

from ..effects import ToolEffect, outbound, read_only, state_write

__all__ = ["AIRLINE_EFFECTS", "EFFECT_TABLES", "RETAIL_EFFECTS", "ToolEffect"]


_HANDOFF = outbound("hands the customer to a human; no DB change, cannot be undone")

AIRLINE_EFFECTS: dict[str, ToolEffect] = {
    "book_reservation": state_write("adds a reservation, takes seats, charges payment methods"),
    "calculate": read_only("arithmetic on its argument"),
    "cancel_reservation": state_write("cancels a reservation and records refunds"),
    "get_flight_status": read_only("reads a flight's status on a date"),
    "get_reservation_details": read_only("reads one reservation"),
    "get_user_details": read_only("reads one user profile"),
    "list_all_airports": read_only("reads the airport list"),
    "search_direct_flight": read_only("searches flights"),
    "search_onestop_flight": read_only("searches flights"),
    "send_certificate": state_write("adds a certificate to the user's payment methods"),
    "transfer_to_human_agents": _HANDOFF,
    "update_reservation_baggages": state_write("changes bags and charges for them"),
    "update_reservation_flights": state_write("changes flights, seats and payments"),
    "update_reservation_passengers": state_write("changes passenger details"),
}
"""Airline tools (14). Reviewed against tau2's own READ/WRITE marks by the tests."""

RETAIL_EFFECTS: dict[str, ToolEffect] = {
    "calculate": read_only("arithmetic on its argument"),
    "cancel_pending_order": state_write("cancels an order and refunds it"),
    "exchange_delivered_order_items": state_write("marks items for exchange, settles the price"),
    "find_user_id_by_email": read_only("looks a user up"),
    "find_user_id_by_name_zip": read_only("looks a user up"),
    "get_order_details": read_only("reads one order"),
    "get_product_details": read_only("reads one product and its variants"),
    "get_user_details": read_only("reads one user profile"),
    "list_all_product_types": read_only("reads the catalogue's product types"),
    "modify_pending_order_address": state_write("changes an order's shipping address"),
    "modify_pending_order_items": state_write("swaps items of a pending order, settles the price"),
    "modify_pending_order_payment": state_write("changes an order's payment method"),
    "modify_user_address": state_write("changes the user's default address"),
    "return_delivered_order_items": state_write("marks items for return and refund"),
    "transfer_to_human_agents": _HANDOFF,
}
"""Retail tools (15). Reviewed against tau2's own READ/WRITE marks by the tests."""

EFFECT_TABLES: dict[str, dict[str, ToolEffect]] = {
    "airline": AIRLINE_EFFECTS,
    "retail": RETAIL_EFFECTS,
}
