"""ToolTalk's checker: committed calls matched against the conversation's ground truth.

This is ToolTalk's ``evaluate_predictions``: each committed call is matched greedily against
the not-yet-matched ground-truth calls of the whole conversation with the API's own
``check_api_call_correctness``; a successful action that matches nothing is a bad action.
Success = every ground-truth call matched and no bad action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ....agent.records import ToolCallReport
from .apis import tooltalk_package
from .world import LOGIN_APIS, LOGOUT_APIS, Conversation

__all__ = ["ToolTalkMetrics", "tooltalk_metrics"]


@dataclass(frozen=True)
class ToolTalkMetrics:
    """ToolTalk's per-conversation counts and rates (``evaluate_predictions``)."""

    predictions: int
    ground_truths: int
    matches: int
    actions: int
    valid_actions: int
    bad_actions: int

    @property
    def precision(self) -> float:
        return self.matches / self.predictions if self.predictions else 0.0

    @property
    def recall(self) -> float:
        return self.matches / self.ground_truths if self.ground_truths else 1.0

    @property
    def action_precision(self) -> float:
        return self.valid_actions / self.actions if self.actions else 1.0

    @property
    def bad_action_rate(self) -> float:
        return self.bad_actions / self.actions if self.actions else 0.0

    @property
    def success(self) -> bool:
        return self.recall == 1.0 and self.bad_action_rate == 0.0

    @property
    def soft_success(self) -> float:
        return self.recall * (1.0 - self.bad_action_rate)

    def describe(self) -> str:
        return (
            f"recall {self.matches}/{self.ground_truths}, "
            f"bad actions {self.bad_actions}/{self.actions}, "
            f"predictions {self.predictions}"
        )


def tooltalk_metrics(
    conversation: Conversation, calls: Sequence[ToolCallReport]
) -> ToolTalkMetrics:
    """Match committed calls against the conversation's ground truth, as ToolTalk does."""
    classes = tooltalk_package().apis
    remaining = list(conversation.ground_truth())
    predictions = _as_predictions(conversation, calls)
    matches = actions = valid_actions = bad_actions = 0
    for prediction in predictions:
        name = prediction["request"]["api_name"]
        matched = None
        for i, truth in enumerate(remaining):
            if _same_call(classes, prediction, truth):
                matched = i
                break
        if matched is not None:
            del remaining[matched]
        is_action = name in classes and bool(classes[name].is_action)  # type: ignore[attr-defined]
        matches += matched is not None
        actions += is_action
        valid_actions += is_action and matched is not None
        bad_actions += is_action and matched is None and prediction["exception"] is None
    return ToolTalkMetrics(
        predictions=len(predictions),
        ground_truths=len(conversation.ground_truth()),
        matches=matches,
        actions=actions,
        valid_actions=valid_actions,
        bad_actions=bad_actions,
    )


def _as_predictions(
    conversation: Conversation, calls: Sequence[ToolCallReport]
) -> list[dict[str, Any]]:
    """Calls in ToolTalk's prediction form, with the session token the executor added.

    The token is followed through the committed calls in order (starting from the
    conversation's user, changed by successful login/register and logout/delete calls),
    which is how ToolTalk's executor tracks it.
    """
    classes = tooltalk_package().apis
    token = conversation.user.get("session_token")
    out = []
    for call in calls:
        parameters = dict(call.arguments)
        cls = classes.get(call.name)
        if cls is not None and cls.requires_auth and token is not None:  # type: ignore[attr-defined]
            parameters["session_token"] = token
        result = call.result
        if call.status == "done" and isinstance(result, Mapping) and "exception" in result:
            response, exception = result.get("response"), result["exception"]
        else:  # never reached the API (bad arguments, timeout): a failed prediction
            response, exception = None, call.error or f"call {call.status}"
        out.append(
            {
                "request": {"api_name": call.name, "parameters": parameters},
                "response": response,
                "exception": exception,
            }
        )
        if exception is None and call.name in LOGIN_APIS and isinstance(response, Mapping):
            token = response.get("session_token", token)
        elif exception is None and call.name in LOGOUT_APIS:
            token = None
    return out


def _same_call(
    classes: Mapping[str, type], prediction: dict[str, Any], truth: dict[str, Any]
) -> bool:
    name = prediction["request"]["api_name"]
    if name != truth["request"]["api_name"] or name not in classes:
        return False
    try:
        return bool(classes[name].check_api_call_correctness(prediction, truth))  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError, AttributeError):
        return False  # a malformed prediction (missing key, bad date) matches nothing
