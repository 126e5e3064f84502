"""tau2 retail: the next-call predictor, and lossless replays with pre-launched lookups."""

from __future__ import annotations

import pytest

from specagent.actions import SpeculationConfig, compare_runs
from specagent.actions.retail import (
    RetailTiming,
    RetailVariant,
    fit_next_tool_model,
    load_retail_tasks,
    play_task,
    run_retail,
)
from specagent.actions.retail_predictor import START, ApiCall, CallPredictor, NextToolModel
from specagent.tools import Effect


@pytest.fixture(scope="module")
def model() -> NextToolModel:
    return fit_next_tool_model()


def test_splits_are_tau2s_and_disjoint() -> None:
    test, train = load_retail_tasks("test"), load_retail_tasks("train")
    assert (len(test), len(train)) == (40, 74)
    assert not {t.id for t in test} & {t.id for t in train}
    with pytest.raises(ValueError, match="unknown split"):
        load_retail_tasks("dev")


def test_the_model_learns_that_conversations_start_with_a_user_lookup(model: NextToolModel) -> None:
    first = max(model.unigrams, key=lambda n: model.p(START, n))
    assert first.startswith("find_user_id")
    assert model.p("get_user_details", "get_order_details") > model.p(
        "get_user_details", "calculate"
    )


def test_arguments_come_from_what_the_customer_said_and_earlier_results(
    model: NextToolModel,
) -> None:
    text = "You received order #W2378156 and want to exchange the keyboard. You are Yusuf Rossi in zip code 19122."
    p = CallPredictor(model, text)
    assert p.predict([], 1) == [
        ApiCall.make(
            "find_user_id_by_name_zip",
            {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"},
        )
    ]
    history = [
        (p.predict([], 1)[0], "yusuf_rossi_9620"),
        (
            ApiCall.make("get_user_details", {"user_id": "yusuf_rossi_9620"}),
            {"orders": ["#W1", "#W2378156"], "user_id": "yusuf_rossi_9620"},
        ),
    ]
    guesses = p.predict(history, 3)
    # The order the customer named comes before the other listed one; nothing is repeated.
    assert guesses[0] == ApiCall.make("get_order_details", {"order_id": "#W2378156"})
    assert ApiCall.make("get_user_details", {"user_id": "yusuf_rossi_9620"}) not in guesses
    order = {
        "order_id": "#W2378156",
        "status": "delivered",
        "items": [
            {"product_id": "111", "name": "Vacuum"},
            {"product_id": "222", "name": "Keyboard"},
        ],
    }
    guesses = p.predict([*history, (guesses[0], order)], 3)
    products = [g for g in guesses if g.name == "get_product_details"]
    assert products[0] == ApiCall.make("get_product_details", {"product_id": "222"})


def test_api_calls_compare_by_value() -> None:
    assert ApiCall.make("f", {"a": 1, "b": [2]}) == ApiCall.make("f", {"b": [2], "a": 1})
    assert ApiCall.make("f", {"a": 1}) != ApiCall.make("f", {"a": "1"})


@pytest.mark.parametrize("prelaunch_actor", [False, True])
def test_replays_are_lossless_and_writes_never_run_early(
    model: NextToolModel, prelaunch_actor: bool
) -> None:
    timing = RetailTiming()
    tasks = [t for t in load_retail_tasks("test") if t.calls][:6]
    saved = []
    for task in tasks:
        seq, seq_env = play_task(task, model, SpeculationConfig(k=0), timing, 0)
        run, env = play_task(
            task, model, SpeculationConfig(k=3, prelaunch_actor=prelaunch_actor), timing, 0
        )
        assert run.actions == task.calls == seq.actions
        assert run.final_state.history == seq.final_state.history
        assert env.db_fingerprint() == seq_env.db_fingerprint()
        writes = [(i, c) for i, c in env.executed if env.effect(None, c) is not Effect.READ_ONLY]  # type: ignore[arg-type]
        gold_writes = [
            (i, c) for i, c in enumerate(task.calls) if env.effect(None, c) is not Effect.READ_ONLY
        ]  # type: ignore[arg-type]
        assert writes == gold_writes  # each once, in order, only the ones the Actor decided
        saved.append(compare_runs(seq, run).time_saved)
    assert all(s >= -1e-9 for s in saved) and max(saved) > 0


def test_run_retail_summary(model: NextToolModel) -> None:
    report = run_retail([RetailVariant(k=1), RetailVariant(k=2, prelaunch_actor=True)], limit=4)
    data = report.to_json()
    assert data["tasks"] == 4 and data["calls"] == sum(
        len(t.calls) for t in load_retail_tasks()[:4]
    )
    for v in data["variants"]:
        assert v["lossless"]
        assert 0 <= v["predicted_top1"] <= v["predicted_topk"] <= 1
        assert v["prelaunched_hits"] <= v["predicted_topk"]
    assert [a["k"] for a in data["accuracy"]] == [1, 2]


def test_bad_timing_is_refused() -> None:
    with pytest.raises(ValueError):
        RetailTiming(tool_latency_s=(1.0, 0.5))
    with pytest.raises(ValueError, match="not a modelled profile"):
        RetailTiming(profile="measured")
