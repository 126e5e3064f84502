"""Which ToolTalk APIs may run before their commit point, and why: one reviewed table.

ToolTalk's ``is_action`` decides: actions are irreversible, the rest read-only. Actions that
only change the simulated databases are sandboxable; sending an email, a message or a
verification code reaches another person, so those are never run early.
"""

from __future__ import annotations

from ..effects import ToolEffect, outbound, read_only, state_write

__all__ = ["TOOLTALK_EFFECTS", "ToolEffect"]


TOOLTALK_EFFECTS: dict[str, ToolEffect] = {
    # Account
    "ChangePassword": state_write("changes the account's password"),
    "DeleteAccount": state_write("deletes the account and ends the session"),
    "GetAccountInformation": read_only("reads the logged-in account"),
    "LogoutUser": state_write("ends the session"),
    "QueryUser": read_only("looks up another user"),
    "RegisterUser": state_write("creates an account and a session"),
    "ResetPassword": state_write("sets a new password with a verification code"),
    "SendVerificationCode": outbound("emails a code to the user (and stores it)"),
    "UpdateAccountInformation": state_write("changes the account's details"),
    "UserLogin": state_write("starts a session"),
    # Alarm
    "AddAlarm": state_write("adds an alarm"),
    "DeleteAlarm": state_write("deletes an alarm"),
    "FindAlarms": read_only("lists alarms"),
    # Calendar
    "CreateEvent": state_write("adds a calendar event"),
    "DeleteEvent": state_write("deletes a calendar event"),
    "ModifyEvent": state_write("changes a calendar event"),
    "QueryCalendar": read_only("lists events in a time range"),
    # Email
    "SearchInbox": read_only("searches the inbox"),
    "SendEmail": outbound("sends an email to other people"),
    # Messages
    "SearchMessages": read_only("searches messages"),
    "SendMessage": outbound("sends a text message to another user"),
    # Reminder
    "AddReminder": state_write("adds a reminder"),
    "CompleteReminder": state_write("marks a reminder done"),
    "DeleteReminder": state_write("deletes a reminder"),
    "GetReminders": read_only("lists reminders"),
    # Weather
    "CurrentWeather": read_only("reads the weather"),
    "ForecastWeather": read_only("reads the forecast"),
    "HistoricWeather": read_only("reads past weather"),
}
"""All 28 ToolTalk APIs. The tests check the classes against ToolTalk's own ``is_action``."""
