"""ToolTalk's API classes loaded without torch, their schemas, and the free-text comparison.

The package's ``apis`` module imports torch and transformers at import time only to embed text
with DistilBERT when *comparing* free text; the weights cannot be fetched here. So the API
modules are loaded under a private package name next to a light ``utils`` module that takes the
two format checks (phone, email) from the real ``utils.py`` source and replaces
``semantic_str_compare`` with :func:`text_similarity`. The real ``tooltalk.apis`` package is
never imported or altered.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import math
import re
import sys
import threading
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .. import DatasetUnavailable

__all__ = ["ToolTalkPackage", "api_schemas", "text_similarity", "tooltalk_package"]

_API_MODULES = ("account", "alarm", "calendar", "email", "message", "reminder", "weather")
_PRIVATE_PACKAGE = "_specagent_tooltalk_apis"


# -- free-text similarity ---------------------------------------------------------------------


def text_similarity(prediction: str | None, ground_truth: str | None) -> float:
    """Cosine of word-count vectors: 1.0 for the same words, 0.0 for none in common.

    Stands in for ToolTalk's DistilBERT comparison (``semantic_str_compare``), whose weights
    are not available offline. ``None`` scores 0, as in ToolTalk.
    """
    if prediction is None or ground_truth is None:
        return 0.0
    a = Counter(re.findall(r"[a-z0-9]+", str(prediction).lower()))
    b = Counter(re.findall(r"[a-z0-9]+", str(ground_truth).lower()))
    if not a or not b:
        return 1.0 if a == b else 0.0
    dot = sum(n * b[w] for w, n in a.items())
    return dot / math.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))


# -- loading the API classes without torch -----------------------------------------------------

_load_lock = threading.Lock()


@dataclass(frozen=True)
class ToolTalkPackage:
    data_dir: Path
    apis: dict[str, type]
    """API classes by name, in ToolTalk's suite order."""


@functools.cache
def tooltalk_package() -> ToolTalkPackage:
    with _load_lock:
        spec = importlib.util.find_spec("tooltalk")
        if spec is None or not spec.submodule_search_locations:
            raise DatasetUnavailable(
                "ToolTalk needs nvidia-tooltalk==26.3 (install with --no-deps)"
            )
        root = Path(next(iter(spec.submodule_search_locations)))
        apis_dir = root / "apis"
        if not (apis_dir / "api.py").is_file() or not (root / "data").is_dir():
            raise DatasetUnavailable(f"ToolTalk's APIs or data are missing under {root}")
        package = sys.modules.get(_PRIVATE_PACKAGE)
        if package is None:
            package = types.ModuleType(_PRIVATE_PACKAGE)
            package.__path__ = [str(apis_dir)]
            package.__package__ = _PRIVATE_PACKAGE
            sys.modules[_PRIVATE_PACKAGE] = package
            utils = _light_utils(apis_dir / "utils.py")
            sys.modules[utils.__name__] = utils
            package.utils = utils  # type: ignore[attr-defined]
        base = importlib.import_module(f"{_PRIVATE_PACKAGE}.api").API
        found: dict[str, type] = {}
        for module_name in _API_MODULES:
            module = importlib.import_module(f"{_PRIVATE_PACKAGE}.{module_name}")
            for name, obj in vars(module).items():
                if (
                    isinstance(obj, type)
                    and issubclass(obj, base)
                    and obj.__module__ == module.__name__
                    and not inspect.isabstract(obj)
                ):
                    found[name] = obj
    return ToolTalkPackage(data_dir=root / "data", apis=found)


def _light_utils(path: Path) -> types.ModuleType:
    """ToolTalk's ``apis/utils`` without torch: its format checks, our text comparison.

    The two format checks are compiled from the package's own source, so they are exactly
    ToolTalk's; the DistilBERT vectoriser is left out.
    """
    module = types.ModuleType(f"{_PRIVATE_PACKAGE}.utils")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    wanted = {"verify_phone_format", "verify_email_format"}
    body: list[ast.stmt] = [ast.Import(names=[ast.alias(name="re")])]
    body += [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    if {n.name for n in body if isinstance(n, ast.FunctionDef)} != wanted:
        raise DatasetUnavailable(f"ToolTalk's {path} no longer defines {sorted(wanted)}")
    code = compile(
        ast.fix_missing_locations(ast.Module(body=body, type_ignores=[])), str(path), "exec"
    )
    exec(code, module.__dict__)  # noqa: S102 - the package's own functions, nothing else
    module.semantic_str_compare = text_similarity  # type: ignore[attr-defined]
    return module


def _schema(api: type) -> dict[str, Any]:
    """The API's parameters as a JSON Schema object (``required`` inside, where it belongs)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, attributes in api.parameters.items():  # type: ignore[attr-defined]
        attrs = {k: v for k, v in attributes.items() if k != "required"}
        if api.__name__ == "CreateEvent" and name == "name":
            # ToolTalk's schema gives the event *name* the enum meant for event_type;
            # no ground-truth call satisfies it, and ToolTalk never validates against it.
            attrs.pop("enum", None)
        properties[name] = attrs
        if attributes.get("required"):
            required.append(name)
    schema = {"type": "object", "properties": properties, "required": required}
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@functools.cache
def api_schemas() -> dict[str, dict[str, Any]]:
    return {name: _schema(cls) for name, cls in tooltalk_package().apis.items()}
