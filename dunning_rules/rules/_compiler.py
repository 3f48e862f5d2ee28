"""Compile JMESPath expressions to Python functions that give the interpreter's exact results.

Why
    ``jmespath.compile(e).search(data)`` walks the AST dicts with one method call per node and
    builds a ``TreeInterpreter`` on every search: 5-8 us for a rule condition such as
    ``data.object.amount_due > `50000` && data.object.currency == 'usd'`` (0.2 us compiled).
    Rules are evaluated for every webhook, so :func:`compile_expression` turns the same AST
    into Python source, compiled once with ``compile()``; the result is a plain function.

How
    :mod:`._compiler_codegen` emits a few statements per AST node that leave the node's value in
    a local variable. Each operation has an inline fast path for the common exact types (a
    ``dict`` field is ``v.get(k) if type(v) is dict``; ``x > `5``` is ``x > 5`` when ``x`` is an
    ``int`` or ``float``; a function whose argument types are known to pass jmespath's check is
    called directly) and falls back to a helper of :mod:`._compiler_runtime` that is a copy of the
    interpreter's method, so dict subclasses, bools against numbers, strings against numbers and
    every error come out exactly as jmespath has them. Functions always run jmespath's own
    implementation (``functions.FUNCTION_TABLE``); where argument types are not known to pass,
    through ``functions.call_function``, which raises jmespath's own errors. ``&expr`` becomes
    the same ``jmespath.visitor._Expression`` object, whose ``visit`` runs compiled code.

    Generated code never contains text from the expression except through ``repr()`` of a
    ``str``, ``int`` or finite ``float``; every other constant is passed in the namespace.
    Closures (one Python function per node) were measured too: they are 1.6-1.8x slower than
    generated statements, because every node costs a call (see docs/performance.md).

Batches
    :func:`compile_batch` (:mod:`._compiler_batch`) generates one module for many expressions
    (all conditions of an event type), which shares the loads, comparisons and calls that
    several of them make. One expression that reads a path twice loads it once too. Loading a
    path early is invisible for JSON data; if it raises (a mapping whose ``get`` raises), the
    function starts again on the exact path: a single expression with the interpreter.

Differences from jmespath 1.1.0
    Slicing an array with a step of 0 (``foo[8:2:0]``) raises :class:`SliceStepError`, a
    ``JMESPathError`` (and ``ValueError``) with the message "Invalid value: slice step cannot be
    0", where jmespath lets Python's bare ``ValueError`` escape. A node type the generator does not
    know makes :func:`compile_expression` fall back to the interpreter (:func:`uses_fallback`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath import visitor as _jp_visitor
from jmespath.functions import Functions
from jmespath.parser import ParsedResult

from . import _compiler_runtime as _runtime
from ._compiler_codegen import (
    MAX_HOISTED,
    CodeGen,
    Namespace,
    Node,
    UnsupportedError,
    flatten_chain,
    flatten_same,
    leading_fields,
)
from ._compiler_runtime import SliceStepError
from .functions import FUNCTIONS

__all__ = [
    "SliceStepError",
    "compile_batch",
    "compile_expression",
    "compile_tree",
    "uses_fallback",
]

logger = logging.getLogger(__name__)


Search = Callable[[Any], Any]

_HELPERS = (
    "NO_VALUES",
    "SliceStepError",
    "cmp_ge",
    "cmp_gt",
    "cmp_le",
    "cmp_lt",
    "equals",
    "field",
    "index",
    "is_false",
    "not_value",
    "values",
)


@dataclass(frozen=True, slots=True)
class _Compiled:
    search: Search
    fallback: bool
    source: str


# Nodes whose children all apply to the node's own value.
_SAME_VALUE = (
    "comparator",
    "and_expression",
    "or_expression",
    "not_expression",
    "multi_select_list",
    "multi_select_dict",
    "function_expression",
)
_CHAINS = ("subexpression", "index_expression")


def _root_paths(tree: Node) -> Iterator[tuple[str, ...]]:
    """Field paths (at most MAX_HOISTED long) that ``tree`` reads from the value it is applied
    to; without recursion, as chains and ``||`` lists can be thousands of nodes deep."""
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = node["type"]
        if kind == "field":
            yield (node["value"],)
        elif kind in _CHAINS:
            steps = flatten_chain(node)
            names = leading_fields(steps, MAX_HOISTED)
            if names:
                yield names
            else:
                stack.append(steps[0])
        elif kind in ("or_expression", "and_expression"):
            stack.extend(reversed(flatten_same(node)))
        elif kind in _SAME_VALUE:
            stack.extend(reversed(node["children"]))
        elif kind == "key_val_pair" or kind in (
            "pipe",
            "projection",
            "value_projection",
            "filter_projection",
            "flatten",
        ):
            stack.append(flatten_same(node)[0] if kind == "pipe" else node["children"][0])


def _count_root_paths(nodes: list[Node]) -> Counter[tuple[str, ...]]:
    """How many times each field path from the root (and each of its prefixes) is read.

    Each distinct tree is walked once (the same text gives the same tree, :mod:`._parse`)."""
    times = Counter(id(node) for node in nodes)
    distinct = {id(node): node for node in nodes}
    counts: Counter[tuple[str, ...]] = Counter()
    for key, node in distinct.items():
        for path in _root_paths(node):
            for length in range(1, len(path) + 1):
                counts[path[:length]] += times[key]
    return counts


def _namespace(functions: Any) -> Namespace:
    space = Namespace(functions)
    space.values.update({name: getattr(_runtime, name) for name in _HELPERS})
    space.values.update(
        {
            "call": functions.call_function,
            "F": functions,
            "_Expression": _jp_visitor._Expression,
            "__builtins__": {
                "dict": dict,
                "float": float,
                "int": int,
                "isinstance": isinstance,
                "len": len,
                "list": list,
                "str": str,
                "bool": bool,
                "type": type,
                "Exception": Exception,
            },
        }
    )
    return space


def _hoisting(
    space: Namespace, trees: Sequence[Any], lines: list[str]
) -> dict[tuple[str, ...], str]:
    """Emit the loads of root paths read more than once; return path -> variable."""
    counts = _count_root_paths(list(trees))
    hoisted: dict[tuple[str, ...], str] = {}
    for path in sorted((p for p, n in counts.items() if n > 1), key=len):
        source = hoisted[path[:-1]] if len(path) > 1 else "root"
        name = f"h{len(hoisted)}"
        key = repr(path[-1])
        lines.append(
            f"        {name} = {source}.get({key}) if type({source}) is dict "
            f"else field({source}, {key})"
        )
        hoisted[path] = name
    return hoisted


def _finish(space: Namespace, main: str, options: Any) -> tuple[Search, str]:
    """Compile the generated module; bind the exprefs; return the main function and source."""
    source = "\n".join([*space.defs, main])
    code = compile(source, "<dunning_rules.rules._compiler>", "exec")
    exec(code, space.values)  # the source is built from repr()s only, see the module docstring
    for name, node, run in space.exprefs:
        space.values[name] = _runtime.make_expref(node, space.values[run], options)
    search: Search = space.values["_main"]
    return search, source


def _build(expression: str, functions: Any, tree: Any = None) -> _Compiled:
    # Without a tree, jmespath's own parse (and cache): the tree whose literals the
    # interpreter returns.
    parsed = jmespath.compile(expression) if tree is None else ParsedResult(expression, tree)
    options = jmespath.Options(custom_functions=functions)

    def interpret(data: Any) -> Any:
        return parsed.search(data, options=options)

    try:
        space = _namespace(functions)
        space.values["_slow"] = interpret
        prelude: list[str] = []
        hoisted = _hoisting(space, [parsed.parsed], prelude)
        gen = CodeGen(space, hoisted=hoisted)
        result = gen.gen(parsed.parsed, "root", root=True)
        lines = ["def _main(root):"]
        if prelude:
            lines += ["    try:", *prelude, "    except Exception:", "        return _slow(root)"]
        lines += [*gen.lines, f"    return {result}"]
        search, source = _finish(space, "\n".join(lines) + "\n", options)
    except (UnsupportedError, RecursionError, SyntaxError, MemoryError) as exc:
        logger.debug("JMESPath expression %r is interpreted: %s", expression, exc)
        return _Compiled(interpret, True, "")
    return _Compiled(search, False, source)


def compile_expression(expression: str, functions: Functions = FUNCTIONS) -> Search:
    """Compile ``expression``; the function returns what jmespath's ``search`` would return.

    It raises the same exception class with the same message as the interpreter (jmespath
    errors, and Python's own where jmespath lets them escape), except for
    :class:`SliceStepError`. Parse errors propagate from ``jmespath.compile``.
    """
    return _build(expression, functions).search


def compile_tree(expression: str, tree: Any, functions: Functions = FUNCTIONS) -> Search:
    """:func:`compile_expression` of an expression already parsed (``tree``, which
    :func:`._parse.parse` gave for ``expression``): nothing is parsed again."""
    return _build(expression, functions, tree).search


def uses_fallback(expression: str) -> bool:
    """True when :func:`compile_expression` hands ``expression`` to jmespath's interpreter."""
    return _build(expression, FUNCTIONS).fallback


def _generated_source(expression: str, functions: Functions = FUNCTIONS) -> str:
    """The Python source generated for ``expression`` ("" when it is interpreted)."""
    return _build(expression, functions).source


from ._compiler_batch import compile_batch  # noqa: E402 - it reads this module's functions
