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
    :func:`compile_batch` generates one module for many expressions (all conditions of a rule
    set). Field paths from the root that several expressions read (``data``, ``data.object``,
    ``data.object.currency``...) are loaded once, at the top, before the expressions run; then each
    expression runs inside its own ``try`` and leaves its value or its exception in the list
    (in functions of 100 expressions each, which CPython compiles in linear time). The
    same sharing happens inside one expression that reads a path twice. Loading a path early is
    invisible for JSON data; if it raises (a mapping whose ``get`` raises), the function starts
    again on the exact path: the batch evaluates expression by expression, a single expression
    with the interpreter.

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

__all__ = ["SliceStepError", "compile_batch", "compile_expression", "uses_fallback"]

logger = logging.getLogger(__name__)

_NUMBERS = (int, float)  # JMESPath's 0 is true; bool is its own class

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
# Expressions per generated function in a batch: CPython compiles one huge function in
# superlinear time (0.9 s for 1,000 conditions), many small ones in linear time.
_CHUNK = 100


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
    """How many times each field path from the root (and each of its prefixes) is read."""
    counts: Counter[tuple[str, ...]] = Counter()
    for node in nodes:
        for path in _root_paths(node):
            for length in range(1, len(path) + 1):
                counts[path[:length]] += 1
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


def _build(expression: str, functions: Any) -> _Compiled:
    parsed = jmespath.compile(expression)
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


def uses_fallback(expression: str) -> bool:
    """True when :func:`compile_expression` hands ``expression`` to jmespath's interpreter."""
    return _build(expression, FUNCTIONS).fallback


def _generated_source(expression: str, functions: Functions = FUNCTIONS) -> str:
    """The Python source generated for ``expression`` ("" when it is interpreted)."""
    return _build(expression, functions).source


def compile_batch(
    expressions: Sequence[str],
    functions: Functions = FUNCTIONS,
    *,
    select: bool = False,
    compiled: Sequence[Search | None] | None = None,
) -> Callable[[Any], list[Any]]:
    """Compile expressions to evaluate together: ``batch(root)[i]`` is expression i's value.

    Where expression i raises, element i is the exception instance (it is not raised). Root
    field paths that several expressions read are loaded once per call.

    With ``select``, the batch returns only ``(i, value)`` pairs for the expressions whose
    value is true by JMESPath's rules (``0`` included) or that raised, in order: what rule
    matching needs, without a Python loop over every false condition.

    ``compiled[i]``, where given, is expression i already compiled (by
    :func:`compile_expression`): the batch calls it instead of compiling the expression again
    (a condition that joins 10,000 conditions is compiled once, not twice).
    """
    expressions = list(expressions)
    given: list[Search | None] = (
        list(compiled) if compiled is not None else [None] * len(expressions)
    )
    trees = [jmespath.compile(expression).parsed for expression in expressions]
    exact = _one_by_one(expressions, functions, select, given)
    try:
        return _batch_source(expressions, trees, functions, exact, select, given)
    except (RecursionError, SyntaxError, MemoryError) as exc:
        logger.debug("JMESPath batch is evaluated one by one: %s", exc)
        return exact


def _one_by_one(
    expressions: list[str],
    functions: Any,
    select: bool = False,
    given: list[Search | None] | None = None,
) -> Callable[[Any], list[Any]]:
    """The batch as a loop over compile_expression(), compiled when first needed."""
    searches: list[Search] = []
    known = given or [None] * len(expressions)

    def batch(root: Any) -> list[Any]:
        if len(searches) < len(expressions):
            searches[:] = [
                search or compile_expression(e, functions)
                for e, search in zip(expressions, known, strict=True)
            ]
        results: list[Any] = []
        for position, search in enumerate(searches):
            try:
                value = search(root)
            except Exception as exc:
                results.append((position, exc) if select else exc)
                continue
            if not select:
                results.append(value)
            elif value or value.__class__ in _NUMBERS:
                results.append((position, value))
        return results

    return batch


def _batch_source(
    expressions: list[str],
    trees: list[Any],
    functions: Any,
    exact: Callable[[Any], list[Any]],
    select: bool = False,
    given: list[Search | None] | None = None,
) -> Callable[[Any], list[Any]]:
    """One module: ``_main`` loads the shared paths, then calls one function per chunk."""
    options = jmespath.Options(custom_functions=functions)
    space = _namespace(functions)
    space.values["_exact"] = exact
    space.values["_NUMBERS"] = _NUMBERS
    known = given or [None] * len(trees)
    prelude: list[str] = []
    generated = [tree for tree, search in zip(trees, known, strict=True) if search is None]
    hoisted = _hoisting(space, generated, prelude)
    shared = ", ".join(["root", "add", *hoisted.values()])
    calls = []
    for start in range(0, len(trees), _CHUNK):
        name = f"_chunk{start}"
        body = [f"def {name}({shared}):"]
        for position in range(start, min(start + _CHUNK, len(trees))):
            search = known[position]
            if search is not None:
                space.values[f"_given{position}"] = search
            item = _batch_item(space, hoisted, expressions, trees, position, select, search)
            failed = f"({position}, exc)" if select else "exc"
            body += ["    try:", *item, "    except Exception as exc:", f"        add({failed})"]
        space.defs.append("\n".join(body) + "\n")
        calls.append(f"    {name}({shared})")
    lines = ["def _main(root):"]
    if prelude:
        lines += ["    try:", *prelude, "    except Exception:", "        return _exact(root)"]
    lines += ["    out = []", "    add = out.append", *calls, "    return out"]
    search, _ = _finish(space, "\n".join(lines) + "\n", options)
    return search


def _batch_item(
    space: Namespace,
    hoisted: dict[tuple[str, ...], str],
    expressions: list[str],
    trees: list[Any],
    position: int,
    select: bool = False,
    search: Search | None = None,
) -> list[str]:
    """The statements that append expression ``position``'s value to the batch's list."""
    gen = CodeGen(space, indent=2, hoisted=hoisted)
    lines: list[str] = []
    if search is not None:
        result = f"_given{position}(root)"
    else:
        try:
            result = gen.gen(trees[position], "root", root=True)
            lines = gen.lines
        except (UnsupportedError, RecursionError) as exc:
            logger.debug("JMESPath expression %r is interpreted: %s", expressions[position], exc)
            name = f"_interpreted{position}"
            space.values[name] = _build(expressions[position], space.functions).search
            lines, result = [], f"{name}(root)"
    if not select:
        return [*lines, f"        add({result})"]
    return [
        *lines,
        f"        _value = {result}",
        "        if _value is True or (",
        "            _value is not False and (_value or _value.__class__ in _NUMBERS)",
        "        ):",
        f"            add(({position}, _value))",
    ]
