"""The exception tree in specagent/errors.py is the whole truth: every class in it, each under
SpecagentError with the builtin parent the map gives it, and every group unwrapped as documented."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re

import pytest

import specagent
from specagent import errors
from specagent.errors import SpecagentError, sole_error

# Outside the tree on purpose: a signal that ends a connection, and a private verdict.
EXEMPT = {"Hangup", "_Mismatch", "_Unsupported"}

_TREE_ROW = re.compile(r"^\s*[│ ]*[├└]── (?P<name>\w+)(?: \((?P<parent>\w+)\))?", re.M)


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(specagent.__path__, "specagent."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed here
            continue
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def _tree() -> dict[str, str | None]:
    assert errors.__doc__ is not None
    return {m.group("name"): m.group("parent") for m in _TREE_ROW.finditer(errors.__doc__)}


def test_every_exception_class_is_in_the_tree_under_specagent_error() -> None:
    classes = _exception_classes()
    assert len(classes) >= 45  # the walk really found the package's classes
    tree = _tree()
    outside = sorted(
        path
        for path, cls in classes.items()
        if cls is not SpecagentError
        and not issubclass(cls, SpecagentError)
        and cls.__name__ not in EXEMPT
    )
    assert outside == []
    unmapped = sorted(
        path
        for path, cls in classes.items()
        if issubclass(cls, SpecagentError)
        and cls is not SpecagentError
        and cls.__name__ not in tree
    )
    assert unmapped == []
    names = {cls.__name__ for cls in classes.values()}
    assert sorted(set(tree) - names) == []  # the map names no class that does not exist


def test_each_class_keeps_the_builtin_parent_the_map_gives() -> None:
    by_name = {cls.__name__: cls for cls in _exception_classes().values()}
    tree = _tree()
    assert sum(parent is not None for parent in tree.values()) >= 30
    for name, parent in tree.items():
        if parent is not None:
            assert issubclass(by_name[name], getattr(builtins, parent)), (name, parent)


def test_existing_except_clauses_still_catch() -> None:
    from specagent.protocol import ParseError, parse_output
    from specagent.references import ResultReferenceError, resolve_references

    with pytest.raises(ValueError) as caught:
        parse_output("<remove/>", 1)
    assert isinstance(caught.value, ParseError) and isinstance(caught.value, SpecagentError)
    with pytest.raises(ValueError) as ref:
        resolve_references({"x": "$1.missing"}, {1: {"a": 1}})
    assert isinstance(ref.value, ResultReferenceError)
    assert not issubclass(ResultReferenceError, builtins.ReferenceError)


def _group(*errors_: BaseException) -> BaseExceptionGroup:
    return BaseExceptionGroup("wrapped", list(errors_))


def test_sole_error_unwraps_nested_groups() -> None:
    boom = ValueError("boom")
    assert sole_error(_group(_group(boom)), distinct=False) is boom
    assert sole_error(_group(_group(boom)), distinct=True) is boom
    two = _group(ValueError("a"), KeyError("b"))
    assert sole_error(two, distinct=True) is two


def test_sole_error_distinct_counts_one_object_once() -> None:
    boom = RuntimeError("boom")
    twice = _group(boom, _group(boom))
    assert sole_error(twice, distinct=True) is boom
    assert sole_error(twice, distinct=False) is twice
