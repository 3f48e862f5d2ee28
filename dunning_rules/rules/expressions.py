"""Expressions: JMESPath conditions, ``{{ }}`` templates and the parameters that hold them.

Everything is parsed and checked once, when a rule file is loaded: a text that loads has no
syntax error, no unknown function and no wrong arity left. Low-level functions here raise
:class:`ExpressionSyntaxError` with an offset into the expression; the loader turns that into a
:class:`~dunning_rules.errors.RuleFileError` with the file's line and column.

Each distinct text is parsed and checked once per load (:mod:`._parse`), and an
:class:`Expression`'s Python code is generated from that tree when it is first evaluated (then
kept): a rule set of thousands of rules loads without generating code for the expressions that
only the batch of conditions (:meth:`~dunning_rules.rules.model.RuleSet.batch_for`) runs, or
that no event reaches.

At run time the root of every expression is the event plus ``settings``, ``vars`` and
``steps``. A condition that raises is false (the caller adds a warning); a parameter that
raises fails its step with :class:`~dunning_rules.errors.ExpressionError`.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jmespath import exceptions as jp_errors
from jmespath.lexer import Lexer

from ..errors import ExpressionError
from . import _compiler
from ._compiler_trees import nesting
from ._parse import also_forget, parse, remembered
from .functions import FUNCTIONS
from .limits import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH, format_count

__all__ = [
    "Analysis",
    "Condition",
    "Expression",
    "ExpressionSyntaxError",
    "ParamTree",
    "Template",
    "check_expression",
    "compile_condition",
    "compile_expression",
    "compile_params",
    "compile_template",
    "empty_warning",
    "is_true",
    "to_text",
]

Escape = Callable[[str], str]

Analysis = tuple["frozenset[str] | None", bool]
"""What :func:`check_expression` finds: the lookups read (None: any) and whether steps are."""


class ExpressionSyntaxError(Exception):
    """An expression that cannot be compiled.

    ``offset`` is the rejected character's index in ``expression``, which itself starts at index
    ``start`` of the string it came from (a placeholder inside a template).
    """

    def __init__(self, message: str, *, expression: str, offset: int, start: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.offset = offset
        self.start = start


def is_true(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false; everything else is true."""
    return not (value is None or value is False or value == "" or value == [] or value == {})


def to_text(value: Any) -> str:
    """How a placeholder renders inside text: null is empty, strings as they are, the rest JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True, eq=False)
class Expression:
    """One compiled JMESPath expression.

    ``lookups`` is the set of ``vars.<name>`` it reads (None: it may read any), and
    ``reads_steps`` whether it reads ``steps``, so the engine fetches only what it needs.
    """

    source: str
    search: Callable[[Any], Any]
    lookups: frozenset[str] | None
    reads_steps: bool

    def evaluate(self, root: Any) -> Any:
        return self.search(root)


def _function_problem(node: Mapping[str, Any]) -> str | None:
    name = node["value"]
    spec = FUNCTIONS.FUNCTION_TABLE.get(name)
    if spec is None:
        known = sorted(FUNCTIONS.FUNCTION_TABLE)
        near = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return f"unknown function '{name}()'{hint}"
    signature = spec["signature"]
    count = len(node["children"])
    if signature and signature[-1].get("variadic"):
        if count < len(signature):
            return f"function '{name}()' takes at least {len(signature)} arguments, got {count}"
    elif count != len(signature):
        plural = "argument" if len(signature) == 1 else "arguments"
        return f"function '{name}()' takes {len(signature)} {plural}, got {count}"
    return None


def _analyse(parsed: Mapping[str, Any], expression: str) -> tuple[frozenset[str] | None, bool]:
    """Check function names and arities; find which lookups and whether steps are read.

    The tree is walked without recursion: a long chain (``a.b.c...``, ``x || y || ...``) is as
    deep as it is long.
    """
    lookups: set[str] | None = set()
    reads_steps = False
    stack: list[tuple[Mapping[str, Any], Mapping[str, Any] | None]] = [(parsed, None)]
    while stack:
        node, parent = stack.pop()
        kind = node.get("type")
        if kind == "field":
            value = node.get("value")
            if value == "steps":
                reads_steps = True
            elif value == "vars":
                sibling = None
                if parent is not None and parent.get("type") == "subexpression":
                    children = parent["children"]
                    if children and children[0] is node and len(children) > 1:
                        sibling = children[1]
                if sibling is not None and sibling.get("type") == "field":
                    if lookups is not None:
                        lookups.add(sibling["value"])
                else:
                    lookups = None
        elif kind == "function_expression":
            problem = _function_problem(node)
            if problem is not None:
                at = expression.find(f"{node['value']}(")
                raise ExpressionSyntaxError(problem, expression=expression, offset=max(at, 0))
        # Children in reverse, so the first unknown function in the text is the one reported.
        # (jmespath's nodes are dicts; a slice's children are numbers.)
        for child in reversed(node.get("children", ())):
            if isinstance(child, dict):
                stack.append((child, node))
    return (frozenset(lookups) if lookups is not None else None), reads_steps


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Expression:
    """Parse and check one JMESPath expression; its code is generated when it first runs.

    Once per text: an Expression is immutable, so rules that say the same thing share it, as
    ``key: data.object.id`` does. Raises :class:`ExpressionSyntaxError`.
    """
    lookups, reads_steps = check_expression(expression)
    return _deferred(expression, parse(expression), lookups, reads_steps)


also_forget(compile_expression.cache_clear)


class _Deferred:
    """An :class:`Expression`'s ``search`` until its first call, which generates and compiles
    its code from the tree parsed at load (nothing is parsed again), puts the compiled function
    in the expression's place and runs it.

    Generating code takes about as long as a hundred evaluations, and most expressions of a
    big rule set run seldom or never (a rule's condition runs in its event type's batch).
    Until then the expression and its deferred code refer to each other, a cycle that the
    garbage collector frees with the rule set.
    """

    __slots__ = ("_compiled", "_expression", "_tree")

    def __init__(self, expression: Expression, tree: Any) -> None:
        self._expression = expression
        self._tree = tree
        self._compiled: Callable[[Any], Any] | None = None

    def __call__(self, root: Any) -> Any:
        compiled = self._compiled
        if compiled is None:
            source = self._expression.source
            compiled = _compiler.compile_tree(source, self._tree, FUNCTIONS)
            self._compiled, self._tree = compiled, None
            # The same function, found sooner: Expression is frozen for its users, not for this.
            object.__setattr__(self._expression, "search", compiled)
        return compiled(root)


def _deferred(
    source: str, tree: Any, lookups: frozenset[str] | None, reads_steps: bool
) -> Expression:
    """An Expression whose code is generated from ``tree`` on its first evaluation."""
    expression = Expression(
        source=source, search=_not_yet, lookups=lookups, reads_steps=reads_steps
    )
    object.__setattr__(expression, "search", _Deferred(expression, tree))
    return expression


def _not_yet(root: Any) -> Any:  # pragma: no cover - replaced before the Expression is returned
    raise AssertionError("an Expression's search was read before it was set")


def _too_deep(expression: str, offset: int) -> ExpressionSyntaxError:
    return ExpressionSyntaxError(
        f"the expression nests more than {MAX_EXPRESSION_DEPTH} levels deep",
        expression=expression,
        offset=offset,
    )


def _check_brackets(expression: str) -> None:
    """Refuse brackets, parentheses and braces nested past MAX_EXPRESSION_DEPTH, at the first
    one too deep (before the parser, which recurses once per level)."""
    if sum(expression.count(c) for c in "[({") <= MAX_EXPRESSION_DEPTH:
        return  # too few to nest that deep (the usual case: no second lexing)
    depth = 0
    try:
        for token in Lexer().tokenize(expression):
            kind = token["type"]
            if kind in ("lbracket", "filter", "lparen", "lbrace"):
                depth += 1
                if depth > MAX_EXPRESSION_DEPTH:
                    raise _too_deep(expression, token["start"])
            elif kind in ("rbracket", "rparen", "rbrace"):
                depth -= 1
    except jp_errors.LexerError:
        return  # the parser reports it, with its own message
    except RecursionError:  # a JSON literal nested thousands of levels deep
        raise _too_deep(expression, 0) from None


def check_expression(
    expression: str, *, bounded: bool = True
) -> tuple[frozenset[str] | None, bool]:
    """Parse and check one expression without compiling it; return which lookups it reads
    (None: any) and whether it reads ``steps``. Raises :class:`ExpressionSyntaxError`.

    ``bounded``: refuse an expression longer than MAX_EXPRESSION_LENGTH or nested deeper than
    MAX_EXPRESSION_DEPTH. A condition joined from checked leaves is not held to them. What a
    text gives is remembered (:mod:`._parse`): the checks of a rule set of a thousand rules that
    share a condition run once.
    """
    return (_check_bounded if bounded else _check_unbounded)(expression)


@remembered(maxsize=4096)
def _check_bounded(expression: str) -> Analysis:
    return _check(expression, bounded=True)


@remembered(maxsize=256)
def _check_unbounded(expression: str) -> Analysis:
    return _check(expression, bounded=False)


def _check(expression: str, *, bounded: bool) -> Analysis:
    if not expression.strip():
        raise ExpressionSyntaxError("empty expression", expression=expression, offset=0)
    if bounded and len(expression) > MAX_EXPRESSION_LENGTH:
        raise ExpressionSyntaxError(
            f"the expression is {format_count(len(expression))} characters long; "
            f"at most {format_count(MAX_EXPRESSION_LENGTH)}",
            expression=expression,
            offset=0,
        )
    if bounded:
        _check_brackets(expression)
    try:
        parsed = parse(expression)
    except jp_errors.ParseError as exc:
        message = exc.msg if exc.msg != jp_errors.ParseError._ERROR_MESSAGE else "invalid syntax"
        token = exc.token_value
        if isinstance(exc, jp_errors.IncompleteExpressionError) or exc.token_type == "eof":
            detail = f"{message}: the expression ends too early"
        else:
            detail = f"{message} at {token!r}" if token not in (None, "") else message
        offset = min(max(exc.lex_position, 0), len(expression))
        raise ExpressionSyntaxError(detail, expression=expression, offset=offset) from None
    except (jp_errors.JMESPathError, ValueError) as exc:
        raise ExpressionSyntaxError(str(exc), expression=expression, offset=0) from None
    except RecursionError:  # thousands of `!` or projections: the parser recurses per level
        raise _too_deep(expression, 0) from None
    if bounded and _may_nest_deeply(expression) and nesting(parsed) > MAX_EXPRESSION_DEPTH:
        raise _too_deep(expression, 0)
    return _analyse(parsed, expression)


_NESTING_CHARACTERS = "[]{}()<>=!*&:?|"


def _may_nest_deeply(expression: str) -> bool:
    """False when the text is too short of the characters that make a level of
    :func:`nesting` (a bracket, an operator, a ``:`` of a key or a slice, a ``*``, ``&``, ``|``:
    each level takes at least one) to nest past MAX_EXPRESSION_DEPTH."""
    if len(expression) <= MAX_EXPRESSION_DEPTH:
        return False
    return sum(expression.count(c) for c in _NESTING_CHARACTERS) > MAX_EXPRESSION_DEPTH


# A condition's raw form in a rule file: a string, or {all|any: [...]}, {not: ...}.
RawCondition = str | Mapping[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A compiled condition: nested ``all``/``any``/``not`` joined into one expression."""

    expression: Expression

    @property
    def source(self) -> str:
        return self.expression.source

    def test(self, root: Any) -> bool:
        """True or false; an evaluation error propagates (the caller warns and treats it false)."""
        return is_true(self.expression.search(root))


def condition_source(raw: RawCondition) -> str:
    """The single JMESPath expression equivalent to a nested condition."""
    if isinstance(raw, str):
        return raw
    if "all" in raw:
        return " && ".join(f"({condition_source(c)})" for c in raw["all"])
    if "any" in raw:
        return " || ".join(f"({condition_source(c)})" for c in raw["any"])
    return f"!({condition_source(raw['not'])})"


def compile_condition(raw: RawCondition, leaves: Sequence[Analysis] | None = None) -> Condition:
    """Compile a condition whose leaves have already been checked one by one.

    ``leaves``: what checking them found, which the joined expression reads too (else it is
    checked again). The joined expression is as long as its leaves together and not held to
    their bounds; a long ``any`` list is one flat ``||``, which compiles without recursion.
    It is parsed now (a problem is the loader's), its code generated when it first runs.
    """
    source = condition_source(raw)
    if leaves is None:
        lookups, reads_steps = check_expression(source, bounded=False)
    else:
        lookups, reads_steps = _join(leaves)
    return Condition(_deferred(source, parse(source), lookups, reads_steps))


def _join(leaves: Sequence[Analysis]) -> Analysis:
    reads_steps = any(reads for _, reads in leaves)
    if any(found is None for found, _ in leaves):
        return None, reads_steps
    return frozenset().union(*(found for found, _ in leaves if found is not None)), reads_steps


# --- templates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """A string with ``{{ expr }}`` placeholders.

    A string that is exactly one placeholder keeps the expression's type; otherwise the results
    are joined into text (null as empty, other non-strings as compact JSON).
    """

    parts: tuple[str | Expression, ...]
    whole: Expression | None

    def render(
        self, root: Any, escape: Escape | None = None, empty: list[Expression] | None = None
    ) -> Any:
        """The rendered value; each placeholder that put nothing (null or "") into joined
        text is appended to ``empty``."""
        if self.whole is not None:
            value = self._run(self.whole, root)
            if escape is not None and isinstance(value, str):
                return escape(value)
            return value
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                text = to_text(self._run(part, root))
                if not text and empty is not None:
                    empty.append(part)
                out.append(escape(text) if escape is not None else text)
        return "".join(out)

    @staticmethod
    def _run(expression: Expression, root: Any) -> Any:
        try:
            return expression.search(root)
        except Exception as exc:  # jmespath raises several unrelated types
            raise ExpressionError(
                f"{{{{ {expression.source} }}}} failed: {exc}", expression=expression.source
            ) from exc

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return tuple(p for p in self.parts if isinstance(p, Expression))


def compile_template(text: str) -> Template | str:
    """Compile a string; one without placeholders is returned as it is.

    Raises :class:`ExpressionSyntaxError` with ``start`` set to where the bad placeholder's
    expression begins in ``text``.
    """
    if "{{" not in text:
        return text
    parts: list[str | Expression] = []
    pos = 0
    while True:
        opening = text.find("{{", pos)
        if opening < 0:
            if pos < len(text):
                parts.append(text[pos:])
            break
        if opening > pos:
            parts.append(text[pos:opening])
        closing = text.find("}}", opening + 2)
        if closing < 0:
            line_end = text.find("\n", opening)
            raise ExpressionSyntaxError(
                "'{{' has no closing '}}'",
                expression=text[opening : line_end if line_end >= 0 else len(text)],
                offset=0,
                start=opening,
            )
        inner = text[opening + 2 : closing]
        lead = len(inner) - len(inner.lstrip())
        body = inner.strip()
        if not body:
            raise ExpressionSyntaxError("empty placeholder", expression=text, offset=opening)
        try:
            parts.append(compile_expression(body))
        except ExpressionSyntaxError as exc:
            raise ExpressionSyntaxError(
                exc.message, expression=body, offset=exc.offset, start=opening + 2 + lead
            ) from None
        pos = closing + 2
    whole = parts[0] if len(parts) == 1 and isinstance(parts[0], Expression) else None
    return Template(parts=tuple(parts), whole=whole)


# --- parameters ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class ParamTree:
    """A step's parameters with their templates compiled; :meth:`render` fills them in."""

    raw: Mapping[str, Any]
    compiled: Mapping[str, Any]
    lookups: frozenset[str] | None
    reads_steps: bool
    static: bool = False
    """No placeholder anywhere: every event renders the same parameters."""

    def render(
        self,
        root: Any,
        escapes: Mapping[str, Escape] | None = None,
        empty: list[tuple[str, Expression]] | None = None,
    ) -> dict[str, Any]:
        """The parameters filled in; ``empty`` gets ``(param, expression)`` for each
        placeholder that rendered nothing into text (the "Dear ," of a mistyped field)."""
        escapes = escapes or {}
        every = escapes.get("*")
        if empty is None:
            return {
                key: _render(value, root, escapes.get(key, every), None)
                for key, value in self.compiled.items()
            }
        rendered = {}
        found: list[Expression] = []
        for key, value in self.compiled.items():
            rendered[key] = _render(value, root, escapes.get(key, every), found)
            if found:
                empty.extend((key, expression) for expression in found)
                found.clear()
        return rendered


def empty_warning(what: str, param: str, expression: Expression) -> str:
    """The warning for a placeholder that rendered nothing into a parameter's text."""
    return f"{what}: {{{{ {expression.source} }}}} in {param} rendered empty"


def _render(value: Any, root: Any, escape: Escape | None, empty: list[Expression] | None) -> Any:
    if isinstance(value, Template):
        return value.render(root, escape, empty)
    if isinstance(value, dict):
        return {k: _render(v, root, escape, empty) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, root, escape, empty) for v in value]
    return value


def compile_params(
    raw: Mapping[str, Any],
    on_error: Callable[[tuple[str | int, ...], ExpressionSyntaxError], None],
) -> ParamTree:
    """Compile every string at any depth; report each bad one through ``on_error(path, exc)``."""
    walk = _ParamWalk(on_error)
    compiled = {key: walk.walk(value, (key,)) for key, value in raw.items()}
    lookups = walk.lookups
    return ParamTree(
        raw=raw,
        compiled=compiled,
        lookups=frozenset(lookups) if lookups is not None else None,
        reads_steps=walk.reads_steps,
        static=walk.static,
    )


class _ParamWalk:
    """What :func:`compile_params` finds on its way (an object, not a nested function that
    calls itself: that is a reference cycle, which would keep ``on_error`` and all it holds,
    the loader and the file's nodes, until the garbage collector ran)."""

    __slots__ = ("lookups", "on_error", "reads_steps", "static")

    def __init__(
        self, on_error: Callable[[tuple[str | int, ...], ExpressionSyntaxError], None]
    ) -> None:
        self.on_error = on_error
        self.lookups: set[str] | None = set()
        self.reads_steps = False
        self.static = True

    def walk(self, value: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(value, str):
            try:
                compiled = compile_template(value)
            except ExpressionSyntaxError as exc:
                self.on_error(path, exc)
                return value
            if isinstance(compiled, Template):
                self.static = False
                for expression in compiled.expressions:
                    self.reads_steps = self.reads_steps or expression.reads_steps
                    if expression.lookups is None:
                        self.lookups = None
                    elif self.lookups is not None:
                        self.lookups |= expression.lookups
            return compiled
        if isinstance(value, Mapping):
            return {k: self.walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, (*path, i)) for i, v in enumerate(value)]
        return value
