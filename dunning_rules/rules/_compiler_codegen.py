"""Turn one jmespath AST into Python statements (see :mod:`._compiler` for the design).

:class:`CodeGen` walks the AST dicts that ``jmespath.compile(e).parsed`` returns and appends
statements to the function body being built. Every node becomes a few statements that leave its
value in a fresh local variable (or a constant), so the generated code has no calls for fields,
comparisons, projections or boolean logic in the common case, and calls the helpers of
:mod:`._compiler_runtime` (exact copies of the interpreter) in every other case.

Text from the expression never becomes code: field names, function names and string or number
literals go through ``repr()`` of a ``str``/``int``/finite ``float`` (always a valid literal),
and every other literal value is passed in the namespace under a generated name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jmespath import functions as _jp_functions

from ._compiler_trees import (
    MAX_HOISTED,
    Node,
    comparison_key,
    flatten_chain,
    flatten_same,
    leading_fields,
    nesting,
)

__all__ = [
    "MAX_HOISTED",
    "CodeGen",
    "Namespace",
    "Node",
    "UnsupportedError",
    "flatten_chain",
    "flatten_same",
    "leading_fields",
    "nesting",
]

# Deeper than this, a node moves into a function of its own, so the generated code stays far
# from CPython's limits (20 nested blocks, 100 indentation levels).
_MAX_LOOPS = 8
_MAX_INDENT = 40

_ORDERING = {
    "lt": ("<", "cmp_lt"),
    "gt": (">", "cmp_gt"),
    "lte": ("<=", "cmp_le"),
    "gte": (">=", "cmp_ge"),
}
_NUMBER_GUARD = "(type({0}) is int or type({0}) is float)"
# jmespath type names -> the exact Python types that pass its check (by type name).
_GUARDS = {
    "string": "type({0}) is str",
    "number": _NUMBER_GUARD,
    "array": "type({0}) is list",
    "object": "type({0}) is dict",
    "boolean": "type({0}) is bool",
    "null": "{0} is None",
    "expref": "type({0}) is _Expression",
}
# Python types of JSON literals -> the jmespath type name that accepts them.
_LITERAL_TYPES = {
    str: "string",
    int: "number",
    float: "number",
    list: "array",
    dict: "object",
    bool: "boolean",
    type(None): "null",
}
# The methods that check a function's arguments; where a Functions object keeps jmespath's own,
# a call whose argument types are known to pass can skip the check (same function, same result).
_CHECKERS = (
    "call_function",
    "_validate_arguments",
    "_type_check",
    "_type_check_single",
    "_get_allowed_pytypes",
)


# Stock jmespath functions whose whole body is one Python expression: inlined when their
# argument types are proven (jmespath.functions: ``return search.endswith(suffix)`` ...).
_INLINE = {
    "ends_with": "{0}.endswith({1})",
    "starts_with": "{0}.startswith({1})",
    "length": "len({0})",
    "contains": "({1} in {0})",
}


class UnsupportedError(Exception):
    """The AST holds something the code generator does not know; use the interpreter."""


class Namespace:
    """The globals of the generated module: helpers, constants and generated functions."""

    def __init__(self, functions: Any) -> None:
        self.values: dict[str, Any] = {}
        self.functions = functions
        self.exprefs: list[tuple[str, Node, str]] = []
        self.defs: list[str] = []
        self._ids: dict[int, str] = {}
        self._keys: dict[int, tuple[Any, ...] | None] = {}
        self._count = 0
        table = getattr(functions, "FUNCTION_TABLE", None)
        stock = all(
            getattr(type(functions), name, None) is getattr(_jp_functions.Functions, name)
            for name in _CHECKERS
        )
        self.table: Mapping[str, Any] | None = table if stock and isinstance(table, dict) else None

    def comparison(self, node: Node) -> tuple[Any, ...] | None:
        """:func:`comparison_key` of ``node``, once per node (by id: the trees stay alive
        while the module is generated)."""
        key = id(node)
        if key not in self._keys:
            self._keys[key] = comparison_key(node)
        return self._keys[key]

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"_{prefix}{self._count}"

    def const(self, value: Any) -> str:
        """Source text for a constant: a literal for plain scalars, else a namespace name."""
        kind = type(value)
        if value is None or kind is bool or kind is str:
            return repr(value)
        if kind is int or (kind is float and math.isfinite(value)):
            try:
                return f"({value!r})"
            except ValueError:  # an int too long for repr(); keep it in the namespace
                pass
        key = id(value)
        if key not in self._ids:
            self._ids[key] = self.name("k")
            self.values[self._ids[key]] = value
        return self._ids[key]


class CodeGen:
    """Append the statements of one expression to ``lines``; :meth:`gen` returns its value."""

    def __init__(
        self,
        space: Namespace,
        *,
        indent: int = 1,
        hoisted: Mapping[tuple[str, ...], str] | None = None,
        tests: Mapping[tuple[Any, ...], str] | None = None,
    ) -> None:
        self.space = space
        self.lines: list[str] = []
        self.indent = indent
        self.hoisted = hoisted or {}
        self.tests = tests or {}
        """Comparisons on the root (:func:`comparison_key`) already in a variable."""
        self.used: set[str] = set()
        """The hoisted variables (paths and comparisons) the code reads."""
        self._loops = 0
        self._temps = 0

    # -- emitting -------------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def temp(self) -> str:
        self._temps += 1
        return f"t{self._temps}"

    def gen(self, node: Node, cur: str, root: bool = False) -> str:
        """Emit ``node`` applied to the value in ``cur``; return where its value is."""
        kind = node["type"]
        method = getattr(self, f"_gen_{kind}", None)
        if method is None:
            raise UnsupportedError(kind)
        if self._loops >= _MAX_LOOPS or self.indent >= _MAX_INDENT:
            # Too deep for one function: move the node into a function of its own.
            name = self.outline(node)
            out = self.temp()
            self.emit(f"{out} = {name}({cur})")
            return out
        result: str = method(node, cur, root)
        return result

    def outline(self, node: Node) -> str:
        """Compile ``node`` as a separate one-argument function; return its name."""
        inner = CodeGen(self.space)
        name = self.space.name("f")
        result = inner.gen(node, "v")
        body = "\n".join([*inner.lines, f"    return {result}"])
        self.space.defs.append(f"def {name}(v):\n{body}\n")
        return name

    def truthy(self, atom: str) -> str:
        return (
            f"({atom} is True or "
            f"({atom} is not False and {atom} is not None and not is_false({atom})))"
        )

    def falsy(self, atom: str) -> str:
        return f"({atom} is None or {atom} is False or ({atom} is not True and is_false({atom})))"

    # -- values ---------------------------------------------------------------------------------

    def _gen_literal(self, node: Node, cur: str, root: bool) -> str:
        # Always a local variable: a literal next to ``is`` or ``[]`` would be a SyntaxWarning.
        out = self.temp()
        self.emit(f"{out} = {self.space.const(node['value'])}")
        return out

    def operand(self, node: Node, cur: str, root: bool) -> str:
        """Like :meth:`gen`, but a plain literal stays inline (for ``==``, ``<`` and calls)."""
        if node["type"] == "literal":
            text = self.space.const(node["value"])
            if text[0] in "('\"":  # a str or number literal, never next to ``is`` here
                return text
        return self.gen(node, cur, root)

    def _gen_current(self, node: Node, cur: str, root: bool) -> str:
        return cur

    _gen_identity = _gen_current

    def _gen_expref(self, node: Node, cur: str, root: bool) -> str:
        run = self.outline(node["children"][0])
        name = self.space.name("e")
        self.space.exprefs.append((name, node["children"][0], run))
        return name

    def _field_step(self, cur: str, key: str) -> str:
        out = self.temp()
        k = repr(key)
        self.emit(f"{out} = {cur}.get({k}) if type({cur}) is dict else field({cur}, {k})")
        return out

    def _gen_field(self, node: Node, cur: str, root: bool) -> str:
        if root and (node["value"],) in self.hoisted:
            name = self.hoisted[(node["value"],)]
            self.used.add(name)
            return name
        return self._field_step(cur, node["value"])

    def _gen_subexpression(self, node: Node, cur: str, root: bool) -> str:
        steps = flatten_chain(node)
        start = 0
        if root:
            names = leading_fields(steps, MAX_HOISTED)
            for length in range(len(names), 0, -1):
                if names[:length] in self.hoisted:
                    cur, start = self.hoisted[names[:length]], length
                    self.used.add(cur)
                    break
        for position, step in enumerate(steps[start:], start):
            cur = self.gen(step, cur, root and position == 0)
        return cur

    _gen_index_expression = _gen_subexpression

    def _gen_index(self, node: Node, cur: str, root: bool) -> str:
        position = node["value"]
        out = self.temp()
        fits = f"len({cur}) > {position}" if position >= 0 else f"len({cur}) >= {-position}"
        self.emit(
            f"{out} = ({cur}[{position}] if {fits} else None) if type({cur}) is list "
            f"else index({cur}, {position})"
        )
        return out

    def _gen_slice(self, node: Node, cur: str, root: bool) -> str:
        start, stop, step = node["children"]
        for part in (start, stop, step):
            if part is not None and type(part) is not int:
                raise UnsupportedError("slice")
        out = self.temp()
        if step == 0:
            self.emit(f"if isinstance({cur}, list):")
            self.emit("    raise SliceStepError()")
            self.emit(f"{out} = None")
            return out
        bounds = self.space.const(slice(start, stop, step))
        self.emit(f"{out} = {cur}[{bounds}] if isinstance({cur}, list) else None")
        return out

    # -- projections ----------------------------------------------------------------------------

    def _loop(self, base: str, out: str, body: Node, test: Node | None = None) -> None:
        """``out = [body(e) for e in base if test(e)]`` without the nulls."""
        if body["type"] in ("identity", "current") and test is None:
            self.emit(f"{out} = [e for e in {base} if e is not None]")
            return
        element = self.temp()
        self.emit(f"{out} = []")
        self.emit(f"for {element} in {base}:")
        self.indent += 1
        self._loops += 1
        if test is not None:
            passed = self.gen(test, element)
            self.emit(f"if {self.truthy(passed)}:")
            self.indent += 1
        value = self.gen(body, element)
        self.emit(f"if {value} is not None:")
        self.emit(f"    {out}.append({value})")
        if test is not None:
            self.indent -= 1
        self._loops -= 1
        self.indent -= 1

    def _gen_projection(self, node: Node, cur: str, root: bool) -> str:
        base = self.gen(node["children"][0], cur, root)
        out = self.temp()
        self.emit(f"if isinstance({base}, list):")
        self.indent += 1
        self._loop(base, out, node["children"][1])
        self.indent -= 1
        self.emit("else:")
        self.emit(f"    {out} = None")
        return out

    def _gen_filter_projection(self, node: Node, cur: str, root: bool) -> str:
        left, right, test = node["children"]
        base = self.gen(left, cur, root)
        out = self.temp()
        self.emit(f"if isinstance({base}, list):")
        self.indent += 1
        self._loop(base, out, right, test)
        self.indent -= 1
        self.emit("else:")
        self.emit(f"    {out} = None")
        return out

    def _gen_value_projection(self, node: Node, cur: str, root: bool) -> str:
        base = self.gen(node["children"][0], cur, root)
        items, out = self.temp(), self.temp()
        self.emit(f"{items} = {base}.values() if type({base}) is dict else values({base})")
        self.emit(f"if {items} is NO_VALUES:")
        self.emit(f"    {out} = None")
        self.emit("else:")
        self.indent += 1
        self._loop(items, out, node["children"][1])
        self.indent -= 1
        return out

    def _gen_flatten(self, node: Node, cur: str, root: bool) -> str:
        base = self.gen(node["children"][0], cur, root)
        out, element = self.temp(), self.temp()
        self.emit(f"if isinstance({base}, list):")
        self.emit(f"    {out} = []")
        self.emit(f"    for {element} in {base}:")
        self.emit(f"        if isinstance({element}, list):")
        self.emit(f"            {out}.extend({element})")
        self.emit("        else:")
        self.emit(f"            {out}.append({element})")
        self.emit("else:")
        self.emit(f"    {out} = None")
        return out

    # -- multi-select, pipes, functions -----------------------------------------------------------

    def _gen_pipe(self, node: Node, cur: str, root: bool) -> str:
        for position, stage in enumerate(flatten_same(node)):
            cur = self.gen(stage, cur, root and position == 0)
        return cur

    def _gen_multi_select_list(self, node: Node, cur: str, root: bool) -> str:
        out = self.temp()
        self.emit(f"if {cur} is None:")
        self.emit(f"    {out} = None")
        self.emit("else:")
        self.indent += 1
        items = [self.gen(child, cur, root) for child in node["children"]]
        self.emit(f"{out} = [{', '.join(items)}]")
        self.indent -= 1
        return out

    def _gen_multi_select_dict(self, node: Node, cur: str, root: bool) -> str:
        out = self.temp()
        self.emit(f"if {cur} is None:")
        self.emit(f"    {out} = None")
        self.emit("else:")
        self.indent += 1
        items = []
        for pair in node["children"]:
            if pair["type"] != "key_val_pair" or type(pair["value"]) is not str:
                raise UnsupportedError(pair["type"])
            value = self.gen(pair["children"][0], cur, root)
            items.append(f"{pair['value']!r}: {value}")
        self.emit(f"{out} = {{{', '.join(items)}}}")
        self.indent -= 1
        return out

    def _gen_function_expression(self, node: Node, cur: str, root: bool) -> str:
        name = node["value"]
        if type(name) is not str:
            raise UnsupportedError("function name")
        args = [self.operand(child, cur, root) for child in node["children"]]
        out = self.temp()
        slow = f"call({name!r}, [{', '.join(args)}])"
        fast = self._direct_call(name, args, node["children"])
        if fast is None:
            self.emit(f"{out} = {slow}")
        elif fast[1]:
            self.emit(f"{out} = {fast[0]} if {fast[1]} else {slow}")
        else:
            self.emit(f"{out} = {fast[0]}")
        return out

    def _direct_call(self, name: str, args: list[str], nodes: list[Node]) -> tuple[str, str] | None:
        """A call that skips the argument check, and the guard proving the check would pass.

        The guard tests each checked argument's exact type at run time; a literal argument is
        tested here, once.
        """
        table = self.space.table
        spec = table.get(name) if table is not None else None
        if spec is None:
            return None
        signature = spec["signature"]
        variadic = bool(signature) and bool(signature[-1].get("variadic"))
        if len(args) < len(signature) or (len(args) > len(signature) and not variadic):
            return None
        guards = []
        for arg, node, spec_arg in zip(args, nodes, signature, strict=False):
            kinds = spec_arg["types"]
            if not kinds:
                continue
            if any(kind not in _GUARDS for kind in kinds):
                return None
            if node["type"] == "literal":
                if type(node["value"]) not in _LITERAL_TYPES or not any(
                    _LITERAL_TYPES[type(node["value"])] == kind for kind in kinds
                ):
                    return None  # the check would fail (or is not simple): call_function raises
                continue
            guards.append("(" + " or ".join(_GUARDS[kind].format(arg) for kind in kinds) + ")")
        inline = _INLINE.get(name)
        if inline is not None and spec["function"] is getattr(
            _jp_functions.Functions, f"_func_{name}", None
        ):
            # jmespath's own body, once the guard has proven the argument types.
            return inline.format(*args), " and ".join(guards)
        function = self.space.name("fn")
        self.space.values[function] = spec["function"]
        call = f"{function}(F{''.join(', ' + arg for arg in args)})"
        return call, " and ".join(guards)

    # -- logic and comparisons ------------------------------------------------------------------

    def _gen_or_expression(self, node: Node, cur: str, root: bool) -> str:
        return self._short_circuit(node, cur, root, self.falsy)

    def _gen_and_expression(self, node: Node, cur: str, root: bool) -> str:
        return self._short_circuit(node, cur, root, self.truthy)

    def _short_circuit(self, node: Node, cur: str, root: bool, go_on: Any) -> str:
        """``a || b || c`` (or ``&&``): each operand runs while the value so far says go on.

        One ``if`` after another, not one inside another: a condition that joins 10,000
        conditions is 10,000 statements at one level.
        """
        operands = flatten_same(node)
        out = self.temp()
        first = self.gen(operands[0], cur, root)
        self.emit(f"{out} = {first}")
        for operand in operands[1:]:
            self.emit(f"if {go_on(out)}:")
            self.indent += 1
            value = self.gen(operand, cur, root)
            self.emit(f"{out} = {value}")
            self.indent -= 1
        return out

    def _gen_not_expression(self, node: Node, cur: str, root: bool) -> str:
        value = self.gen(node["children"][0], cur, root)
        out = self.temp()
        self.emit(
            f"{out} = (not {value}) if ({value} is None or type({value}) is bool) "
            f"else not_value({value})"
        )
        return out

    def _gen_comparator(self, node: Node, cur: str, root: bool) -> str:
        if root and self.tests:
            key = self.space.comparison(node)
            name = self.tests.get(key) if key is not None else None
            if name is not None:
                self.used.add(name)
                return name
        operation = node["value"]
        left_node, right_node = node["children"]
        left = self.operand(left_node, cur, root)
        right = self.operand(right_node, cur, root)
        out = self.temp()
        if operation in ("eq", "ne"):
            test = self._equality(left_node, right_node, left, right)
            self.emit(f"{out} = {test}" if operation == "eq" else f"{out} = not {test}")
        elif operation in _ORDERING:
            symbol, helper = _ORDERING[operation]
            slow = f"{helper}({left}, {right})"
            guards = [
                _NUMBER_GUARD.format(atom)
                for atom, side in ((left, left_node), (right, right_node))
                if not _is_number_literal(side)
            ]
            guard = " and ".join(guards) or "True"
            self.emit(f"{out} = ({left} {symbol} {right}) if {guard} else {slow}")
        else:
            raise UnsupportedError(f"comparator {operation}")
        return out

    def _equality(self, left_node: Node, right_node: Node, left: str, right: str) -> str:
        plain = f"({left} == {right})"
        if right_node["type"] == "literal" or left_node["type"] == "literal":
            literal, other = (
                (right_node["value"], left)
                if right_node["type"] == "literal"
                else (left_node["value"], right)
            )
            kind = type(literal)
            if literal is None or kind in (str, list, dict):
                return plain
            if kind in (int, float):
                if literal in (0, 1):
                    return f"(False if type({other}) is bool else {plain})"
                return plain
        return f"({plain} if type({left}) is str else equals({left}, {right}))"


def _is_number_literal(node: Node) -> bool:
    return node["type"] == "literal" and type(node["value"]) in (int, float)
