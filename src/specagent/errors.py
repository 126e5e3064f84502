"""One exception tree: every error specagent raises on purpose derives from SpecagentError.

A caller can catch :class:`SpecagentError` to handle whatever specagent refused or could not
do, or one class below it; each class also keeps the builtin parent it always had (the second
name in brackets), so ``except ValueError`` code written before this tree still works. Each
class lives beside the code that raises it; this docstring is the map (a test checks that it
names every class and that every class is in the tree)::

    SpecagentError
    ├── ClockError (RuntimeError)            clock: a clock is used outside its event loop
    ├── MissingExtraError (ImportError)      extras: a feature needs an extra not installed
    ├── TracingError (ValueError)            tracing: a --trace value names no known exporter
    ├── ParseError (ValueError)              protocol: a model output holds no readable action
    ├── ResultReferenceError (ValueError)    references: an argument names a result (or part
    │                                        of one) that does not exist
    ├── ToolError                            tools: a call names no tool, or bad arguments
    │   ├── UnknownToolError                     no tool has that name
    │   └── InvalidArgumentsError                the arguments fail the tool's schema
    ├── ModelError (RuntimeError)            models: a backend cannot produce output
    │   ├── ModelNotInstalledError               its files are missing or fail their hash
    │   ├── ModelUnreachableError                a model server does not answer
    │   ├── ContextWindowExceeded                the context no longer fits the window
    │   └── UnsupportedRequestError              a request sets a field the backend cannot
    │                                            honour (a prefix or a draft it cannot take)
    ├── McpError                             mcptools: an MCP server or tool fails
    │   ├── McpConfigError (ValueError)          an MCP option or override is wrong
    │   ├── McpConnectError (ConnectionError)    a server cannot be started or reached
    │   ├── McpServerGone (ConnectionError)      a server died or dropped the connection
    │   ├── McpToolError                         a tool answers with an error result
    │   ├── McpCompensationError                 a compensating call cannot be built
    │   └── McpCallTimeout (TimeoutError)        a call does not answer within its timeout
    ├── VoiceError (RuntimeError)            voice: speech in or out cannot work as asked
    │   ├── VoiceModelMissing                    a speech model's package is not installed
    │   └── AudioFormatError (ValueError)        an audio file or buffer cannot be read
    ├── AudioMessageError (ValueError)       serve: a binary message is not 16-bit PCM
    ├── BindError (ValueError)               serve: listening beyond loopback without a token
    ├── ConversationBusy (RuntimeError)      serve: another connection has the conversation
    ├── UnknownConversation (KeyError)       serve: no conversation has that id
    ├── UnknownDataset (ValueError)          bench: no dataset has that name
    ├── DatasetUnavailable (RuntimeError)    bench: a dataset's data package is not installed
    ├── EpisodeFormatError (ValueError)      bench: a line of an episode file is not valid
    ├── UnsupportedTask (ValueError)         bench (tau2): a task needs an LLM judge or state
    ├── UnsupportedVariant (ValueError)      bench (BFCL): a category not turned into episodes
    ├── BackendUnavailable (RuntimeError)    bench (BFCL): a backend class cannot be imported
    ├── BfclSchemaError (ValueError)         bench (BFCL): a function doc uses an unknown type
    ├── ResultsError (ValueError)            bench: a document is not a readable results.json
    ├── WorldError (ValueError)              bench (assistant): the world refuses a request
    ├── UnreadableValue (ValueError)         bench (assistant): a date, time or name is unreadable
    ├── IllegalTransition (RuntimeError)     agent: a session made a move its state machine
    │                                        does not have (a bug, never bad input)
    ├── SpeculatorWriteRefused (RuntimeError) agent (verified): the speculator tried a
    │                                        state-changing tool
    ├── SpeculationConfigError (ValueError)  actions: a speculation setting is out of range
    ├── ChessConfigError (ValueError)        actions: a chess setting is out of range
    ├── TuningConfigError (ValueError)       actions: a tuning setting is out of range
    ├── RetailUnavailable (RuntimeError)     actions: tau2's retail data is not installed
    ├── UciError (RuntimeError)              actions: a UCI engine is missing or misbehaves
    ├── TestSplitError (ValueError)          train: a test-split task was offered for training
    ├── TeacherError (RuntimeError)          train: the teacher cannot follow its context
    ├── TraceInvalid (ValueError)            train: a synthesized trace must not be used
    ├── TrainingStackMissing (RuntimeError)  train: the training packages are not installed
    ├── RunDirError (ValueError)             train: a run directory cannot be started or resumed
    └── ExportError (RuntimeError)           train: an export step failed

Not in the tree, on purpose: ``serve.connection.Hangup`` (a signal that ends a connection,
caught where it is raised), ``bench.datasets.bfcl.ast_checker._Mismatch`` (a private verdict)
and ``protocol.grammar._Unsupported`` (a schema feature the grammar falls back on, never raised
out of the module).

:func:`sole_error` unwraps the exception groups task groups raise, so callers get the typed
error they can act on.
"""

from __future__ import annotations

__all__ = ["SpecagentError", "sole_error"]


class SpecagentError(Exception):
    """Base of every error specagent raises on purpose (see the tree above)."""


def sole_error(group: BaseExceptionGroup, *, distinct: bool) -> BaseException:
    """The one error a task group wrapped, else the group itself.

    Task groups wrap even a single failure (and nested groups wrap it again); a caller should
    get the typed error it can act on. ``distinct``: count the same exception object once
    even if it appears in several places of the tree (it was re-raised through nested groups);
    otherwise every appearance counts, so a repeated error returns the group.
    """
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        error = stack.pop()
        if isinstance(error, BaseExceptionGroup):
            stack.extend(error.exceptions)
        elif not distinct or not any(error is seen for seen in leaves):
            leaves.append(error)
    return leaves[0] if len(leaves) == 1 else group
