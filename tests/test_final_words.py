"""benchmarks/final_words.py: when every value of a call has been said, chunk by chunk."""

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "final_words.py"
_spec = importlib.util.spec_from_file_location("final_words", _PATH)
assert _spec is not None and _spec.loader is not None
final_words = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(final_words)


def test_a_call_whose_values_are_said_early_has_a_head_start():
    question = "Weather in Paris please and then tell me a joke about cats"  # 12 words
    row = final_words.classify(question, {"city": "Paris"}, wpm=60.0, chunk=3)
    # "Paris" is in the first chunk (ends at 3 s); the final words end at 12 s
    assert row == {"class": "before_final", "head_start_s": 9.0}


def test_a_value_in_the_final_words_leaves_no_head_start():
    question = "Find the area of a triangle with base 10 and height 5"
    row = final_words.classify(question, {"base": 10, "height": 5}, wpm=150.0, chunk=3)
    assert row == {"class": "at_final", "head_start_s": 0.0}


def test_a_value_never_said_as_such_is_its_own_class():
    question = "How far is it from here to the station"
    row = final_words.classify(question, {"unit": "kilometers"}, wpm=150.0, chunk=3)
    assert row["class"] == "never_said" and row["head_start_s"] is None


_HEARD_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "assistant_heard.py"
_hspec = importlib.util.spec_from_file_location("assistant_heard", _HEARD_PATH)
assert _hspec is not None and _hspec.loader is not None
assistant_heard = importlib.util.module_from_spec(_hspec)
_hspec.loader.exec_module(assistant_heard)


def test_assistant_values_are_heard_by_meaning() -> None:
    said = assistant_heard.said
    assert said("date", "2026-06-05", "book it for Friday")
    assert not said("date", "2026-06-05", "book it for Thursday")
    assert said("time", "19:00", "a table at seven")
    assert said("party_size", 4, "a table for four")
    assert said("mode", "transit", "if I take the T to Fenway")
    assert said("destination", "15 Charles Street, Boston", "walk to Lena's place")
    assert not said("destination", "15 Charles Street, Boston", "walk to Maria's place")


def test_an_assistant_chain_gets_its_head_start_from_its_first_result() -> None:
    from specagent.bench.datasets.assistant.episodes import all_specs

    spec = next(s for s in all_specs() if s.id == "hw-25")
    # "Find a free half hour on Wednesday morning and set up a call with Chris then."
    # 16 words at 0.4 s each, chunks of 3 end at 1.2, 2.4, 3.6, ... and the last at 6.4 s.
    # "half" (30 min), "Wednesday" and "morning" (09:00-12:00) are all heard by the third
    # chunk (3.6 s): the lookup can start 2.8 s before the final words, and the event, whose
    # start comes from the lookup's result, counts from the same moment (latency ignored)
    rows = assistant_heard.classify_episode(spec)
    assert [r["name"] for r in rows] == ["find_free_time", "add_calendar_event"]
    assert [r["head_start_s"] for r in rows] == [2.8, 2.8]
