"""Tools: what an agent can call, with the effect class that decides when it may run.

A :class:`Tool` couples a name, an argument schema, an async callable and an :class:`Effect`.
The effect class is the safety contract: read-only calls may run the moment the model asks;
every other call changes state (an idempotent setter included: repeating it is harmless, a wrong
guess is not) and waits for its commit point, or runs early only on a sandbox copy or with a
compensating action (see :mod:`specagent.speculation`). Build tools from a typed function with :func:`tool`, or from a JSON Schema
(as benchmarks supply) with :meth:`Tool.from_json_schema`.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import pydantic

from .errors import SpecagentError
from .events import ToolErrorType
from .sandbox import StateCell

__all__ = [
    "Effect",
    "Tool",
    "Toolset",
    "tool",
    "ToolError",
    "UnknownToolError",
    "InvalidArgumentsError",
]


class Effect(enum.Enum):
    """What a call does to the world, which decides when it may run."""

    READ_ONLY = "read_only"
    """Reads only: may run the moment the model writes it."""
    IDEMPOTENT = "idempotent"
    """Changes state, but doing it twice equals doing it once (a setter)."""
    REVERSIBLE = "reversible"
    """Changes state; the tool's ``compensate`` action undoes it."""
    IRREVERSIBLE = "irreversible"
    """Changes state for good (a message sent, a card charged)."""

    @property
    def changes_state(self) -> bool:
        """Everything but a read: such a call must not act on words the user may still
        change. Idempotent calls included: a repeat is harmless, a wrong guess is not."""
        return self is not Effect.READ_ONLY


class ToolError(SpecagentError):
    """Base of tool lookup and validation errors."""

    error_type: ToolErrorType = "tool_error"


class UnknownToolError(ToolError):
    error_type: ToolErrorType = "unknown_tool"

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown tool {name!r}; available tools: {', '.join(self.known)}")


class InvalidArgumentsError(ToolError):
    error_type: ToolErrorType = "invalid_arguments"

    def __init__(self, tool_name: str, detail: str) -> None:
        self.tool_name = tool_name
        self.detail = detail
        super().__init__(f"invalid arguments for {tool_name}: {detail}")


ToolFn = Callable[..., Awaitable[Any]]
CompensateFn = Callable[[dict[str, Any], Any], Awaitable[Any]]
EquivalenceFn = Callable[[dict[str, Any], dict[str, Any]], bool]


@dataclass(frozen=True)
class Tool:
    """One callable tool.

    ``compensate(arguments, result)`` undoes a :attr:`Effect.REVERSIBLE` call.
    ``timeout_s`` bounds one execution (the executor reports a timeout failure past it).
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    fn: ToolFn
    effect: Effect = Effect.READ_ONLY
    timeout_s: float = 10.0
    compensate: CompensateFn | None = None
    args_model: type[pydantic.BaseModel] | None = None
    state: StateCell[Any] | None = None
    """The in-memory state this tool reads and changes, if any (see :mod:`specagent.sandbox`)."""
    sandboxable: bool = False
    """Whether a call may run early on a copy of ``state`` (its only effect is on ``state``)."""
    equivalent: EquivalenceFn | None = None
    """Semantic guard: are two argument sets the same request? Default: equal after validation."""
    confirm: bool | str = False
    """Ask the user before this call runs: ``True`` for a generic question, or a question
    template formatted with the call's arguments (``"Send {text!r} to {to}?"``). The call then
    runs only after the user says yes (see :mod:`specagent.agent.confirmation`)."""
    idempotency_key: str | None = None
    """The name of a keyword parameter of ``fn`` (hidden from the model) that the executor fills
    with a key unique to the call (session, call id and version). A service that deduplicates
    on it lets a resumed session re-send a call whose outcome a crash left unknown, exactly
    once; without it such a call is reported to the model as "outcome unknown"."""

    def __post_init__(self) -> None:
        if self.effect is Effect.REVERSIBLE and self.compensate is None:
            raise ValueError(f"tool {self.name!r} is REVERSIBLE but has no compensate action")
        if self.sandboxable and self.state is None:
            raise ValueError(f"tool {self.name!r} is sandboxable but has no state to copy")
        if self.timeout_s <= 0:
            raise ValueError(f"tool {self.name!r}: timeout_s must be positive")
        if self.idempotency_key is not None and self.idempotency_key in self.parameters.get(
            "properties", {}
        ):
            raise ValueError(
                f"tool {self.name!r}: idempotency_key {self.idempotency_key!r} must not be an "
                "argument the model writes"
            )

    @classmethod
    def from_json_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        fn: ToolFn,
        **options: Any,
    ) -> Tool:
        jsonschema.Draft202012Validator.check_schema(dict(parameters))
        return cls(name=name, description=description, parameters=parameters, fn=fn, **options)

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Check arguments against the schema; return them normalised or raise."""
        if self.args_model is not None:
            try:
                model = self.args_model.model_validate(dict(arguments))
            except pydantic.ValidationError as exc:
                details = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise InvalidArgumentsError(self.name, details) from None
            return model.model_dump()
        errors = sorted(
            jsonschema.Draft202012Validator(dict(self.parameters)).iter_errors(dict(arguments)),
            key=lambda e: list(e.path),
        )
        if errors:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors
            )
            raise InvalidArgumentsError(self.name, detail)
        return dict(arguments)

    def same_request(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        """The semantic guard used when a call is revised."""
        if self.equivalent is not None:
            return self.equivalent(dict(a), dict(b))
        return dict(a) == dict(b)

    async def call(self, arguments: Mapping[str, Any], *, call_key: str | None = None) -> Any:
        """Run the tool. ``call_key`` is passed as the :attr:`idempotency_key` parameter, if the
        tool has one."""
        if self.idempotency_key is not None:
            if call_key is None:
                raise ValueError(f"tool {self.name!r} needs a call key")
            return await self.fn(**arguments, **{self.idempotency_key: call_key})
        return await self.fn(**arguments)

    def confirmation_question(self, arguments: Mapping[str, Any]) -> str:
        """The question to ask the user before this call runs: :attr:`confirm` formatted with
        the arguments when it is a template that fits them, else a generic one."""
        if isinstance(self.confirm, str):
            try:
                return self.confirm.format(**arguments)
            except (KeyError, IndexError, ValueError):
                pass  # a template that does not fit these arguments: ask generically
        shown = ", ".join(f"{k} {v}" for k, v in arguments.items())
        return f"Shall I {self.name.replace('_', ' ')}" + (f" ({shown})" if shown else "") + "?"

    def schema(self) -> dict[str, Any]:
        """OpenAI-style function description (what the model is shown)."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": dict(self.parameters),
        }


def tool(
    *,
    effect: Effect = Effect.READ_ONLY,
    timeout_s: float = 10.0,
    compensate: CompensateFn | None = None,
    name: str | None = None,
    state: StateCell[Any] | None = None,
    sandboxable: bool = False,
    equivalent: EquivalenceFn | None = None,
    confirm: bool | str = False,
    idempotency_key: str | None = None,
) -> Callable[[ToolFn], Tool]:
    """Make a :class:`Tool` from an async function with type-annotated parameters.

    The docstring's first paragraph is the description; the argument schema comes from the
    signature through pydantic (leaving out the ``idempotency_key`` parameter, which the
    executor fills).
    """

    def wrap(fn: ToolFn) -> Tool:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"tool {fn.__name__!r} must be an async function")
        fields: dict[str, Any] = {}
        for pname, param in inspect.signature(fn).parameters.items():
            if pname == idempotency_key:
                continue
            annotation = param.annotation if param.annotation is not inspect.Parameter.empty else Any
            default = param.default if param.default is not inspect.Parameter.empty else ...
            fields[pname] = (annotation, default)
        model = pydantic.create_model(
            f"{fn.__name__}_args", __config__=pydantic.ConfigDict(extra="forbid"), **fields
        )
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        doc = inspect.getdoc(fn) or ""
        return Tool(
            name=name or fn.__name__,
            description=doc.split("\n\n")[0].replace("\n", " "),
            parameters=schema,
            fn=fn,
            effect=effect,
            timeout_s=timeout_s,
            compensate=compensate,
            args_model=model,
            state=state,
            sandboxable=sandboxable,
            equivalent=equivalent,
            confirm=confirm,
            idempotency_key=idempotency_key,
        )

    return wrap


class Toolset(Mapping[str, Tool]):
    """The tools of a session, by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            if t.name in self._tools:
                raise ValueError(f"duplicate tool name {t.name!r}")
            self._tools[t.name] = t

    def __getitem__(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownToolError(name, self._tools) from None

    # Mapping's own ``in`` and ``get`` rely on KeyError, which ``[]`` deliberately does not raise.
    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str, default: Any = None) -> Any:
        return self._tools.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self._tools.values()]

    @classmethod
    def from_mcp(cls, *servers: Any, **options: Any) -> Any:
        """Tools from MCP servers: ``async with Toolset.from_mcp(...) as tools`` (or ``tools =
        await Toolset.from_mcp(...)`` and later ``await tools.aclose()``).

        ``servers``: stdio command lines (``"python my_server.py"``) or ``http(s)://`` URLs.
        Options: ``clock`` (required), ``overrides`` (tool name -> :class:`Effect` or
        :class:`~specagent.mcptools.ToolOverride`), ``tools`` (Python tools to add),
        ``timeout_s``, ``connect_timeout_s``, ``virtual_cost_s``. Effect classes come from the
        servers' annotations (see :mod:`specagent.mcptools.effects`); needs the ``mcp`` extra.
        """
        from .mcptools import McpToolset  # the mcp extra is imported only when connecting

        return McpToolset.connect(*servers, **options)
