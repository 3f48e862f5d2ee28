"""Compile many expressions to run together: all the conditions of an event type, one module.

:func:`compile_batch` generates one module for many expressions, compiled with one
``compile()`` and run with one ``exec`` (see :mod:`._compiler` for how one expression becomes
code). Its ``_main`` does first, once per call, what several expressions share:

- the field paths from the root that several expressions read (``data``, ``data.object``,
  ``data.object.currency``...) are loaded;
- the comparisons of such paths with literals that several expressions make (``data.object
  .currency == 'usd'`` in a hundred conditions) are made, each with its truth by JMESPath's
  rules; a comparison of JSON values cannot raise;
- the calls of jmespath's own pure functions on such paths and literals (``ends_with
  (data.object.customer_email, '@acme.io')``, :data:`._compiler_trees.SHARED_CALLS`) are made;
  a call that raises keeps its exception, and its truth is None.

Then the expressions run, in functions of 100 expressions each (CPython compiles one huge
function in superlinear time, many small ones in linear time), each function given only the
shared variables it reads. Each expression runs inside its own ``try`` and leaves its value or
its exception. In a selecting batch (``select=True``, what rule matching uses) a condition that
is a shared comparison or call, or a ``&&`` of them, is one ``if`` on their truths: two lines
of code and no ``try``; where one of its calls raised, and every operand before it holds, the
condition's result is that exception, as it is when the condition runs alone.

Loading a path early, and making a comparison or a call that the condition would not reach
(``a && b`` where ``a`` is false), is invisible for JSON data: nothing there raises but the
calls, whose exceptions are kept. If a load raises (a mapping whose ``get`` raises), the batch
starts again on the exact path: expression by expression.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import jmespath
from jmespath.functions import Functions

from . import _compiler
from ._compiler_codegen import CodeGen, Node, UnsupportedError, flatten_same
from ._compiler_trees import root_comparisons
from ._parse import parse
from .functions import FUNCTIONS

__all__ = ["compile_batch"]

logger = logging.getLogger(__name__)

Search = Callable[[Any], Any]

_NUMBERS = (int, float)  # JMESPath's 0 is true; bool is its own class
# Expressions per generated function in a batch: CPython compiles one huge function in
# superlinear time (0.9 s for 1,000 conditions), many small ones in linear time.
_CHUNK = 100
# Operands of a condition's ``&&`` generated one inside the other (more: one after another).
_NESTED_AND = 8
# How many expressions of a batch that gives every value must make a comparison for it to be
# made once for all: a comparison made ahead costs as much as one made where an ``&&`` would
# have skipped it, so sharing it with only one other is no gain (measured: bench_match's sizes).
_SHARED_ALL = 3


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
    trees = [parse(expression) for expression in expressions]
    exact = _one_by_one(expressions, functions, select, given)
    try:
        return _Batch(expressions, trees, functions, select, given).build(exact)
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
                search or _compiler.compile_expression(e, functions)
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


def _variable_order(name: str) -> tuple[str, int]:
    return name[0], int(name[1:])


class _Batch:
    """The module of one batch, built statement by statement."""

    def __init__(
        self,
        expressions: list[str],
        trees: list[Any],
        functions: Any,
        select: bool,
        given: list[Search | None],
    ) -> None:
        self.expressions = expressions
        self.trees = trees
        self.select = select
        self.given = given
        self.space = space = _compiler._namespace(functions)
        space.values["_NUMBERS"] = _NUMBERS
        self.options = jmespath.Options(custom_functions=functions)
        self.prelude: list[str] = []
        generated = [tree for tree, search in zip(trees, given, strict=True) if search is None]
        self.hoisted = _compiler._hoisting(space, generated, self.prelude)
        self.comparisons: dict[tuple[Any, ...], str] = {}
        """Shared comparisons by key -> their value's variable (they cannot raise: generated
        code may read them in place of the comparison)."""
        self.atoms: dict[tuple[Any, ...], str] = {}
        """Shared comparisons and calls by key -> their value's variable."""
        self.truths: dict[str, str] = {}
        """A shared value's variable -> the variable of its truth."""
        self.raising: set[str] = set()
        """The shared calls' variables (their truth is None where they raised)."""
        self._share(generated)

    def _share(self, trees: list[Any]) -> None:
        """Emit the comparisons and calls on the root that several expressions make."""
        times = Counter(id(tree) for tree in trees)  # the same text gives the same tree
        counts: Counter[tuple[Any, ...]] = Counter()
        first: dict[tuple[Any, ...], Node] = {}
        for tree in {id(tree): tree for tree in trees}.values():
            for node in root_comparisons(tree):
                key = self.space.comparison(node)
                if key is not None:
                    counts[key] += times[id(tree)]
                    first.setdefault(key, node)
        for key, node in first.items():
            if counts[key] < (2 if self.select else _SHARED_ALL):
                continue
            if not self.select and node["type"] != "comparator":
                continue  # a call's value is only used by the ifs of a selecting batch
            gen = CodeGen(self.space, indent=3, hoisted=self.hoisted)
            value = gen.gen(node, "root", root=True)
            number = len(self.atoms)
            name, truth = f"c{number}", f"b{number}"
            if node["type"] == "comparator":
                self.prelude += [line[4:] for line in gen.lines]
                self.prelude.append(f"        {name} = {value}")
                if self.select:  # (the generated code of the others tests the value itself)
                    self.prelude.append(f"        {truth} = {gen.truthy(name)}")
                self.comparisons[key] = name
            else:
                self.prelude += ["        try:", *gen.lines]
                self.prelude.append(f"            {name} = {value}")
                self.prelude.append(f"            {truth} = {gen.truthy(name)}")
                self.prelude += ["        except Exception as exc:"]
                self.prelude += [f"            {name} = exc", f"            {truth} = None"]
                self.raising.add(name)
            self.atoms[key] = name
            self.truths[name] = truth

    def build(self, exact: Callable[[Any], list[Any]]) -> Callable[[Any], list[Any]]:
        """``_main`` does the shared work, then calls one function per chunk."""
        space = self.space
        space.values["_exact"] = exact
        calls = []
        for start in range(0, len(self.trees), _CHUNK):
            name = f"_chunk{start}"
            body: list[str] = []
            used: set[str] = set()
            for position in range(start, min(start + _CHUNK, len(self.trees))):
                lines, reads = self.item(position)
                body += lines
                used |= reads
            shared = ", ".join(["root", "add", *sorted(used, key=_variable_order)])
            space.defs.append("\n".join([f"def {name}({shared}):", *body]) + "\n")
            calls.append(f"    {name}({shared})")
        lines = ["def _main(root):"]
        if self.prelude:
            lines += ["    try:", *self.prelude, "    except Exception:"]
            lines += ["        return _exact(root)"]
        lines += ["    out = []", "    add = out.append", *calls, "    return out"]
        search, _ = _compiler._finish(space, "\n".join(lines) + "\n", self.options)
        return search

    def item(self, position: int) -> tuple[list[str], set[str]]:
        """The statements of expression ``position``, and the shared variables they read."""
        search = self.given[position]
        if search is not None:
            self.space.values[f"_given{position}"] = search
            lines = self.finish([], f"_given{position}(root)", position)
            return self.guarded(lines, position), set()
        tree = self.trees[position]
        if self.select:
            operands = flatten_same(tree) if tree["type"] == "and_expression" else [tree]
            shared = [self.atoms.get(self.space.comparison(node) or ()) for node in operands]
            if all(shared):
                return self.shared_test([str(name) for name in shared], position)
            if len(operands) <= _NESTED_AND:
                found = self.chain(operands, position)
                if found is not None:
                    return found
        gen = CodeGen(self.space, indent=2, hoisted=self.hoisted, tests=self.comparisons)
        try:
            result = gen.gen(tree, "root", root=True)
            lines = list(gen.lines)
        except (UnsupportedError, RecursionError) as exc:
            expression = self.expressions[position]
            logger.debug("JMESPath expression %r is interpreted: %s", expression, exc)
            name = f"_interpreted{position}"
            self.space.values[name] = _compiler._build(expression, self.space.functions).search
            lines, result = [], f"{name}(root)"
            gen.used.clear()
        return self.guarded(self.finish(lines, result, position), position), gen.used

    def finish(self, lines: list[str], result: str, position: int) -> list[str]:
        """``lines`` then the statements that add the value in ``result``."""
        if not self.select:
            return [*lines, f"        add({result})"]
        return [
            *lines,
            f"        _value = {result}",
            "        if _value is True or (",
            "            _value is not False and (_value or _value.__class__ in _NUMBERS)",
            "        ):",
            f"            add(({position}, _value))",
        ]

    def guarded(self, lines: list[str], position: int) -> list[str]:
        """``lines`` in a ``try`` that adds the exception they raise."""
        failed = f"({position}, exc)" if self.select else "exc"
        return ["    try:", *lines, "    except Exception as exc:", f"        add({failed})"]

    def shared_test(self, names: list[str], position: int) -> tuple[list[str], set[str]]:
        """A condition that is shared comparisons and calls joined by ``&&``: an ``if`` on their
        truths adds the last one's value; where a call raised and every operand before it
        holds, its exception is the condition's result."""
        truths = [self.truths[name] for name in names]
        lines = [f"    if {' and '.join(truths)}:", f"        add(({position}, {names[-1]}))"]
        for index, name in enumerate(names):
            if name in self.raising and name not in names[:index]:
                test = " and ".join([f"{truths[index]} is None", *truths[:index]])
                lines += [f"    elif {test}:", f"        add(({position}, {name}))"]
        return lines, {*names, *truths}

    def chain(self, operands: list[Node], position: int) -> tuple[list[str], set[str]] | None:
        """``a && b && c`` in a selecting batch: each operand runs inside the ``if`` of the one
        before (a shared comparison tests its truth variable), and the last one's value is added
        when it is true. None where the generator cannot handle an operand."""
        gen = CodeGen(self.space, indent=2, hoisted=self.hoisted, tests=self.comparisons)
        waiting: list[str] = []  # the truths of shared comparisons, joined into one ``if``
        value = ""
        try:
            for operand in operands:
                key = self.space.comparison(operand) if operand["type"] == "comparator" else None
                shared = self.comparisons.get(key) if key is not None else None
                if shared is not None:
                    gen.used |= {shared, self.truths[shared]}
                    waiting.append(self.truths[shared])
                    value = shared
                    continue
                if waiting:  # the operand runs only where the ones before it are true
                    gen.emit(f"if {' and '.join(waiting)}:")
                    gen.indent += 1
                    waiting = []
                value = gen.gen(operand, "root", root=True)
                gen.emit(f"if {gen.truthy(value)}:")
                gen.indent += 1
        except (UnsupportedError, RecursionError):
            return None
        if waiting:
            gen.emit(f"if {' and '.join(waiting)}:")
            gen.indent += 1
        gen.emit(f"add(({position}, {value}))")
        lines = ["    try:", *gen.lines, "    except Exception as exc:"]
        return [*lines, f"        add(({position}, exc))"], gen.used
