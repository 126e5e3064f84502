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
