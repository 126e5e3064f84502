"""Which ToolTalk APIs may run before their commit point, and why: one reviewed table.

ToolTalk's ``is_action`` decides: actions are irreversible, the rest read-only. Actions that
only change the simulated databases are sandboxable; sending an email, a message or a
verification code reaches another person, so those are never run early.
"""

from __future__ import annotations

from dataclasses import dataclass

from ....tools import Effect

__all__ = ["TOOLTALK_EFFECTS", "ToolEffect"]


@dataclass(frozen=True)
class ToolEffect:
    """One row of the effect table: the class, whether it may run on a state copy, and why."""

    effect: Effect
    sandboxable: bool
    why: str


def _read(why: str) -> ToolEffect:
    return ToolEffect(Effect.READ_ONLY, False, why)


def _db_action(why: str) -> ToolEffect:
    return ToolEffect(Effect.IRREVERSIBLE, True, why)


def _outbound(why: str) -> ToolEffect:
    return ToolEffect(Effect.IRREVERSIBLE, False, why)


TOOLTALK_EFFECTS: dict[str, ToolEffect] = {
    # Account
    "ChangePassword": _db_action("changes the account's password"),
    "DeleteAccount": _db_action("deletes the account and ends the session"),
    "GetAccountInformation": _read("reads the logged-in account"),
    "LogoutUser": _db_action("ends the session"),
    "QueryUser": _read("looks up another user"),
    "RegisterUser": _db_action("creates an account and a session"),
    "ResetPassword": _db_action("sets a new password with a verification code"),
    "SendVerificationCode": _outbound("emails a code to the user (and stores it)"),
    "UpdateAccountInformation": _db_action("changes the account's details"),
    "UserLogin": _db_action("starts a session"),
    # Alarm
    "AddAlarm": _db_action("adds an alarm"),
    "DeleteAlarm": _db_action("deletes an alarm"),
    "FindAlarms": _read("lists alarms"),
    # Calendar
    "CreateEvent": _db_action("adds a calendar event"),
    "DeleteEvent": _db_action("deletes a calendar event"),
    "ModifyEvent": _db_action("changes a calendar event"),
    "QueryCalendar": _read("lists events in a time range"),
    # Email
    "SearchInbox": _read("searches the inbox"),
    "SendEmail": _outbound("sends an email to other people"),
    # Messages
    "SearchMessages": _read("searches messages"),
    "SendMessage": _outbound("sends a text message to another user"),
    # Reminder
    "AddReminder": _db_action("adds a reminder"),
    "CompleteReminder": _db_action("marks a reminder done"),
    "DeleteReminder": _db_action("deletes a reminder"),
    "GetReminders": _read("lists reminders"),
    # Weather
    "CurrentWeather": _read("reads the weather"),
    "ForecastWeather": _read("reads the forecast"),
    "HistoricWeather": _read("reads past weather"),
}
"""All 28 ToolTalk APIs. The tests check the classes against ToolTalk's own ``is_action``."""
