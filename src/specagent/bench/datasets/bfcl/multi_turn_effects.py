"""Effect classes of BFCL's multi-turn backends: one reviewed line per method.

The speculative policy runs a read-only call the moment the model asks, runs a sandboxable
state-changing call at once on a private copy of its state, and holds any other state-changing
call until its commit point. Getting a class wrong is a safety bug (a held call run early) or a
lost speed-up (a read held), so the classes are written out here, one reviewed line per tool.

**Multi-turn backends** (:data:`MULTI_TURN_EFFECTS`). Every public method of the eight BFCL
multi-turn classes, read from the backend source (``bfcl_eval/eval_checker/multi_turn_eval/
func_source_code``) and confirmed by running every ground-truth call (a test re-checks that each
read-only method leaves the whole instance, private attributes included, unchanged). The
backends are plain in-memory Python objects, so every state-changing method is sandboxable:
a copy-on-write run touches only the copy (see :mod:`specagent.sandbox`). Methods that only
*read* but draw from the backend's seeded random generator count as state-changing: run early
on the real object, a withdrawn call would shift every later random value (and BFCL compares
results), so they run on a copy too.
"""

from __future__ import annotations

from ....tools import Effect
from ..effects import ToolEffect

__all__ = ["MULTI_TURN_EFFECTS", "ToolEffect", "multi_turn_effect"]


_READ = ToolEffect(Effect.READ_ONLY, False)
_WRITE = ToolEffect(Effect.IRREVERSIBLE, True)


def _rng(note: str) -> ToolEffect:
    return ToolEffect(Effect.IRREVERSIBLE, True, note)


MULTI_TURN_EFFECTS: dict[str, dict[str, ToolEffect]] = {
    "GorillaFileSystem": {
        "pwd": _READ,
        "ls": _READ,
        "cat": _READ,
        "find": _READ,
        "wc": _READ,
        "sort": _READ,  # returns the sorted text; the file is not rewritten
        "grep": _READ,
        "du": _READ,
        "tail": _READ,
        "diff": _READ,
        "cd": ToolEffect(
            Effect.IRREVERSIBLE, True, "moves the private working directory later calls use"
        ),
        "mkdir": _WRITE,
        "touch": _WRITE,
        "echo": ToolEffect(
            Effect.IRREVERSIBLE, True, "writes the file when file_name is given, else only prints"
        ),
        "mv": _WRITE,
        "rm": _WRITE,
        "rmdir": _WRITE,
        "cp": _WRITE,
    },
    "MathAPI": {  # stateless: every method is a pure calculation
        name: _READ
        for name in (
            "absolute_value",
            "add",
            "divide",
            "imperial_si_conversion",
            "logarithm",
            "max_value",
            "mean",
            "min_value",
            "multiply",
            "percentage",
            "power",
            "round_number",
            "si_unit_conversion",
            "square_root",
            "standard_deviation",
            "subtract",
            "sum_values",
        )
    },
    "MessageAPI": {
        "list_users": _READ,
        "get_user_id": _READ,
        "message_get_login_status": _READ,
        "view_messages_sent": _READ,
        "search_messages": _READ,
        "get_message_stats": _READ,
        "message_login": ToolEffect(Effect.IRREVERSIBLE, True, "sets the current user"),
        "send_message": ToolEffect(
            Effect.IRREVERSIBLE, True, "appends to the inbox; draws a message id from the RNG"
        ),
        "delete_message": _WRITE,
        "add_contact": _WRITE,
    },
    "TwitterAPI": {
        "get_tweet": _READ,
        "get_tweet_comments": _READ,
        "get_user_stats": _READ,
        "get_user_tweets": _READ,
        "list_all_following": _READ,
        "posting_get_login_status": _READ,
        "search_tweets": _READ,
        "authenticate_twitter": ToolEffect(Effect.IRREVERSIBLE, True, "sets authenticated"),
        "post_tweet": _WRITE,
        "retweet": _WRITE,
        "comment": _WRITE,
        "mention": _WRITE,
        "follow_user": _WRITE,
        "unfollow_user": _WRITE,
    },
    "TicketAPI": {
        "get_ticket": _READ,
        "get_user_tickets": _READ,
        "ticket_get_login_status": _READ,
        "ticket_login": ToolEffect(Effect.IRREVERSIBLE, True, "sets the current user"),
        "logout": ToolEffect(Effect.IRREVERSIBLE, True, "clears the current user"),
        "create_ticket": _WRITE,
        "close_ticket": _WRITE,
        "resolve_ticket": _WRITE,
        "edit_ticket": _WRITE,
    },
    "TradingBot": {
        "get_current_time": _READ,
        "get_symbol_by_name": _READ,
        "get_stock_info": _READ,
        "get_order_details": _READ,
        "get_order_history": _READ,
        "get_account_info": _READ,
        "get_transaction_history": _READ,
        "get_watchlist": _READ,
        "get_available_stocks": _READ,
        "filter_stocks_by_price": _READ,
        "notify_price_change": _READ,
        "trading_get_login_status": _READ,
        "trading_login": ToolEffect(Effect.IRREVERSIBLE, True, "sets authenticated"),
        "trading_logout": ToolEffect(Effect.IRREVERSIBLE, True, "clears authenticated"),
        "place_order": _WRITE,
        "cancel_order": _WRITE,
        "fund_account": _WRITE,
        "withdraw_funds": _WRITE,
        "add_to_watchlist": _WRITE,
        "remove_stock_from_watchlist": _WRITE,
    },
    "TravelAPI": {
        "travel_get_login_status": _READ,
        "get_budget_fiscal_year": _READ,
        "get_flight_cost": ToolEffect(
            Effect.READ_ONLY,
            False,
            "refreshes a private price cache that book_flight rebuilds itself before use",
        ),
        "get_credit_card_balance": _READ,
        "retrieve_invoice": _READ,
        "get_booking_history": _READ,
        "list_all_airports": _READ,
        "compute_exchange_rate": _READ,
        "verify_traveler_information": _READ,
        "get_nearest_airport_by_city": _READ,
        "contact_customer_support": _READ,  # returns a canned acknowledgement; stores nothing
        "get_all_credit_cards": _READ,
        "authenticate_travel": ToolEffect(
            Effect.IRREVERSIBLE, True, "issues an access token drawn from the RNG"
        ),
        "register_credit_card": _WRITE,
        "book_flight": _WRITE,
        "cancel_booking": _WRITE,
        "set_budget_limit": _WRITE,
        "purchase_insurance": _WRITE,
    },
    "VehicleControlAPI": {
        "check_tire_pressure": _READ,
        "displayCarStatus": _READ,
        "display_log": _READ,
        "estimate_distance": _READ,
        "estimate_drive_feasibility_by_mileage": _READ,
        "find_nearest_tire_shop": _READ,
        "gallon_to_liter": _READ,
        "liter_to_gallon": _READ,
        "get_outside_temperature_from_weather_com": _READ,
        "get_zipcode_based_on_city": _READ,
        "get_current_speed": _rng("a reading drawn from the backend's seeded RNG"),
        "get_outside_temperature_from_google": _rng("a reading drawn from the seeded RNG"),
        "startEngine": _WRITE,
        "fillFuelTank": _WRITE,
        "lockDoors": _WRITE,
        "adjustClimateControl": _WRITE,
        "setHeadlights": _WRITE,
        "activateParkingBrake": _WRITE,
        "pressBrakePedal": _WRITE,
        "releaseBrakePedal": _WRITE,
        "setCruiseControl": _WRITE,
        "set_navigation": _WRITE,
    },
}


def multi_turn_effect(class_name: str, method: str) -> ToolEffect:
    """The reviewed effect of a multi-turn backend method (KeyError if it was never reviewed)."""
    try:
        return MULTI_TURN_EFFECTS[class_name][method]
    except KeyError:
        raise KeyError(
            f"BFCL method {class_name}.{method} has no reviewed effect class; "
            "add it to MULTI_TURN_EFFECTS"
        ) from None
