"""Load rule files: YAML, schema, expressions and names, with every problem collected.

``load_rules`` takes a path, a list of paths, or YAML text (a ``str`` holding a newline), and
returns an immutable :class:`~dunning_rules.rules.model.RuleSet` or raises one
:class:`~dunning_rules.errors.RuleFileError` listing every problem, each as
``path:line:column: $.json.path: rule 'name': message``.

Several files merge into one rule set: rule names are unique across all of them; ``settings``
merge key by key, a later file's value replacing an earlier one's; a lookup may be defined in
more than one file only with the same definition.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DunningRulesError, Location, Problem, RuleFileError, sorted_by_place
from . import _load_delivery as extras
from . import _parse
from ._delivery import WindowSpec
from ._schema_build import SUPPORTED_VERSIONS, fast_validator, rules_schema, validator
from ._schema_errors import explain
from .checks import check_rule_files
from .expressions import (
    Analysis,
    Condition,
    ExpressionSyntaxError,
    ParamTree,
    check_expression,
    compile_condition,
    compile_expression,
    compile_params,
)
from .limits import (
    MAX_CONDITION_DEPTH,
    MAX_FILE_BYTES,
    condition_too_deep,
    excerpt,
    retry_problem,
)
from .locations import JsonPath, SourceMap, format_path, parse_yaml, size_problem
from .model import (
    COMMON_KEYS,
    ActionSpec,
    LookupSpec,
    RetryPolicy,
    Rule,
    RuleSet,
    is_duration,
    parse_duration,
)

__all__ = ["compile_stored_rule", "load_rules", "rules_schema"]

# The parameters of built-in step types that are durations, each at most MAX_DURATION.
_DURATION_PARAMS = {"wait": ("duration",), "approval": ("timeout",)}
_DEFAULT_BACKOFF = _dt.timedelta(minutes=1)


def load_rules(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> RuleSet:
    """Load and compile rule files into a :class:`RuleSet`; raise :class:`RuleFileError`."""
    with _parse.session(), _collector_paused():  # each distinct expression parsed once
        return _load(source)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a load builds its objects.

    A load makes hundreds of thousands of objects (nodes, values, places, specs) and keeps
    most of them; each collection the allocations set off walks all of them again, a third of
    the time of a big load. The collector is on again afterwards (if it was on before), and
    what a load leaves to collect is collected then.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> RuleSet:
    documents: list[tuple[str, str]] = []
    problems: list[Problem] = []
    items: Iterable[str | os.PathLike[str]] = (
        [source] if isinstance(source, (str, os.PathLike)) else list(source)
    )
    for item in items:
        if isinstance(item, str) and "\n" in item:
            documents.append(("<string>", item))
            continue
        path = os.fspath(item)
        try:
            text, size = _read(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(_problem(path, 1, 1, "$", f"cannot read the file: {reason}"))
            continue
        if text is None:
            problems.append(size_problem(path, size, exact=size > 0))
        else:
            documents.append((path, text))
    builder = _Builder()
    for path, text in documents:
        try:
            builder.add_file(path, text)
        except RecursionError:  # only from a caller already near the recursion limit
            builder.problems.append(
                _problem(path, 1, 1, "$", "the document is nested too deeply to load here")
            )
    # A setting that only some connected accounts have is a setting all the same.
    known = {k: v for settings in builder.accounts.values() for k, v in settings.items()}
    known.update(builder.settings)
    errors, warnings = check_rule_files(builder.files, known, list(builder.lookups))
    problems.extend(builder.problems)
    problems.extend(errors)
    if problems:
        raise RuleFileError(problems, warnings)
    if not documents:
        raise RuleFileError([_problem("<none>", 1, 1, "$", "no rule files given")])
    return builder.result(warnings)


def _read(path: str) -> tuple[str | None, int]:
    """A file's text; or None and its size in bytes (0: unknown, a device or a pipe) when it is
    longer than MAX_FILE_BYTES.

    At most one character more than the bound is read, whatever the file; :func:`parse_yaml`
    then counts the bytes of what was read.
    """
    with open(path, encoding="utf-8") as handle:
        text = handle.read(MAX_FILE_BYTES + 1)
        if len(text) <= MAX_FILE_BYTES:
            return text, len(text)
        try:
            size = os.fstat(handle.fileno()).st_size
        except OSError:  # pragma: no cover - fstat of an open file does not fail
            size = 0
    return None, size if size > MAX_FILE_BYTES else 0


def compile_stored_rule(definition: Mapping[str, Any], *, order: int = 0) -> Rule:
    """Rebuild a rule from the definition a run stored (it follows the version it started with)."""
    builder = _Builder()
    source = SourceMap("<stored rule>", "")
    rule = builder.compile_rule(dict(definition), ("rules", order), source, order)
    if rule is None or builder.problems:
        raise DunningRulesError(
            "a stored rule definition no longer compiles: "
            + "; ".join(str(p) for p in builder.problems)
        )
    return rule


def _problem(
    path: str, line: int, column: int, json_path: str, message: str, rule: str | None = None
) -> Problem:
    return Problem(
        location=Location(path=path, line=line, column=column),
        json_path=json_path,
        message=message,
        rule=rule,
    )


def _digest(definition: Mapping[str, Any]) -> str:
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


class _Builder:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.rules: list[Rule] = []
        self.names: dict[str, Location] = {}
        self.settings: dict[str, Any] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.lookups: dict[str, tuple[LookupSpec, Any]] = {}
        self.sources: list[str] = []
        self.files: list[tuple[SourceMap, Any]] = []  # for the checks, once all are read
        self.steps: dict[str, _Step] = {}  # compiled steps by what they say (compile_action)

    def result(self, warnings: Sequence[Problem] = ()) -> RuleSet:
        rules = RuleSet(
            rules=tuple(self.rules),
            settings=self.settings,
            lookups={name: spec for name, (spec, _) in self.lookups.items()},
            sources=tuple(self.sources),
            warnings=sorted_by_place(warnings),
            accounts=self.accounts,
        )
        # Compile the matching of every event type a rule names now, not on the first event;
        # a type reached only through a pattern (invoice.*) is compiled when first seen.
        for event_type in sorted({t for rule in rules for t in rule.on if "*" not in t}):
            rules.batch_for(event_type)
        return rules

    # -- reporting ------------------------------------------------------------------------

    def report(
        self,
        source: SourceMap,
        json_path: JsonPath,
        message: str,
        *,
        rule: str | None = None,
        key: bool = False,
        location: Location | None = None,
    ) -> None:
        where = location or source.location(json_path, key=key)
        self.problems.append(
            Problem(location=where, json_path=format_path(json_path), message=message, rule=rule)
        )

    def report_expression(
        self,
        source: SourceMap,
        json_path: JsonPath,
        exc: ExpressionSyntaxError,
        *,
        rule: str | None,
    ) -> None:
        where = source.locate_in_scalar(json_path, exc.start, exc.expression, exc.offset)
        message = f"invalid expression: {exc.message}"
        line, column = excerpt(source.source_line(where.line), where.column)
        if line:
            message += f"\n    {line}\n    {' ' * (column - 1)}^"
        self.report(source, json_path, message, rule=rule, location=where)

    # -- files ----------------------------------------------------------------------------

    def add_file(self, path: str, text: str) -> None:
        data, source, problems = parse_yaml(text, path)
        self.problems.extend(problems)
        if problems:
            return
        if data is None:
            self.report(source, (), "the file is empty: a rule file needs 'version: 1' and 'rules'")
            return
        if not isinstance(data, dict):
            self.report(source, (), "a rule file is a mapping with 'version' and 'rules'")
            return
        version = data.get("version")
        if "version" in data and version not in SUPPORTED_VERSIONS:
            supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            self.report(
                source,
                ("version",),
                f"unsupported version {version!r}: this dunning_rules reads version {supported}",
            )
            return
        invalid = self.check_schema(data, source)
        self.files.append((source, data))
        self.sources.append(path)
        self.merge_settings(data.get("settings"))
        report = extras.reporters(self, source, None)
        extras.check_settings(data.get("settings"), ("settings",), *report)
        for account, settings in extras.read_accounts(data.get("accounts"), *report).items():
            self.accounts.setdefault(account, {}).update(settings)
        lookups = data.get("lookups")
        if isinstance(lookups, dict) and ("lookups",) not in invalid:
            for name, spec in lookups.items():
                if ("lookups", name) not in invalid:
                    self.add_lookup(name, spec, source)
        rules = data.get("rules")
        if not isinstance(rules, list):
            return
        for index, raw in enumerate(rules):
            if not isinstance(raw, dict):
                continue
            # A rule that failed the schema is still compiled, to report its expressions too.
            valid = ("rules", index) not in invalid
            rule = self.compile_rule(raw, ("rules", index), source, len(self.rules), valid=valid)
            if rule is not None:
                self.rules.append(rule)

    def merge_settings(self, settings: Any) -> None:
        if isinstance(settings, dict):
            self.settings.update(settings)

    def add_lookup(self, name: str, spec: dict[str, Any], source: SourceMap) -> None:
        args = {}
        for arg, text in spec.items():
            if arg == "type":
                continue
            try:
                args[arg] = compile_expression(text)
            except ExpressionSyntaxError as exc:
                self.report_expression(source, ("lookups", name, arg), exc, rule=None)
        lookup = LookupSpec(
            name=name, type=spec["type"], args=args, location=source.location(("lookups", name))
        )
        previous = self.lookups.get(name)
        if previous is not None and previous[1] != spec:
            self.report(
                source,
                ("lookups", name),
                f"lookup {name!r} is already defined differently at {previous[0].location}",
                key=True,
            )
            return
        self.lookups[name] = (lookup, spec)

    def claim_name(self, name: str, json_path: JsonPath, source: SourceMap) -> bool:
        where = source.location(json_path)
        first = self.names.get(name)
        if first is not None:
            self.report(
                source,
                json_path,
                f"duplicate rule name {name!r} (first defined at {first})",
                rule=name,
            )
            return False
        self.names[name] = where
        return True

    # -- schema ---------------------------------------------------------------------------

    def check_schema(self, data: dict[str, Any], source: SourceMap) -> set[JsonPath]:
        """Report schema problems; return the paths of rules and lookups that have any.

        A file the fast check passes has none; jsonschema finds and explains the others.
        """
        invalid: set[JsonPath] = set()
        if fast_validator(1)(data):
            return invalid
        for error in validator(1).iter_errors(data):
            path: JsonPath = tuple(error.absolute_path)
            if len(path) >= 2 and path[0] in ("rules", "lookups"):
                invalid.add(path[:2])
            elif path[:1] == ("lookups",):
                invalid.add(path[:1])
            rule = _rule_name(data, path)
            for json_path, message, at_key in explain(error):
                self.report(source, json_path, message, rule=rule, key=at_key)
        return invalid

    # -- rules ----------------------------------------------------------------------------

    def compile_rule(
        self,
        raw: dict[str, Any],
        base: JsonPath,
        source: SourceMap,
        order: int,
        *,
        valid: bool = True,
    ) -> Rule | None:
        name = raw.get("name")
        if not isinstance(name, str):
            return None
        before = len(self.problems)
        self.claim_name(name, (*base, "name"), source)
        when = self.compile_condition(raw.get("when"), (*base, "when"), source, name)
        key_text = raw.get("key", "data.object.id")
        key = None
        if isinstance(key_text, str):
            try:
                key = compile_expression(key_text)
            except ExpressionSyntaxError as exc:
                self.report_expression(source, (*base, "key"), exc, rule=name)
        actions = []
        seen_ids: dict[str, int] = {}
        raw_actions = raw.get("actions")
        for index, action in enumerate(raw_actions if isinstance(raw_actions, list) else ()):
            if not isinstance(action, dict) or not isinstance(action.get("type"), str):
                continue
            spec = self.compile_action(action, index, (*base, "actions", index), source, name)
            if spec is None:
                continue
            if isinstance(spec.id, str):
                if spec.id in seen_ids:
                    self.report(
                        source,
                        (*base, "actions", index, "id"),
                        f"duplicate step id {spec.id!r} (also step {seen_ids[spec.id]})",
                        rule=name,
                    )
                seen_ids[spec.id] = index
            actions.append(spec)
        split = extras.compile_split(
            raw,
            [(a.variants, (*base, "actions", a.index)) for a in actions],
            base,
            extras.reporters(self, source, name)[0],
        )
        if len(self.problems) > before or key is None or not valid:
            return None
        return Rule(
            name=name,
            on=_as_tuple(raw["on"]),
            when=when,
            priority=int(raw.get("priority", 0)),
            stop=bool(raw.get("stop", False)),
            key=key,
            cancel_on=_as_tuple(raw.get("cancel_on")),
            actions=tuple(actions),
            order=order,
            location=source.location(base),
            json_path=format_path(base),
            version=_digest(raw),
            definition=raw,
            split=split,
        )

    def compile_condition(self, raw: Any, json_path: JsonPath, source: SourceMap, rule: str) -> Any:
        if raw is None:
            return None
        too_deep = condition_too_deep(raw, json_path)
        if too_deep is not None:
            self.report(
                source,
                too_deep,
                f"all, any and not nest more than {MAX_CONDITION_DEPTH} levels deep",
                rule=rule,
            )
            return None
        ok = _well_formed(raw)
        leaves: list[Analysis] = []
        # Each leaf for its own place, in the order of the text. A loop, not a nested function
        # that calls itself: that would be a reference cycle holding the builder and every
        # node of the file until the garbage collector ran.
        stack: list[tuple[Any, JsonPath]] = [(raw, json_path)]
        while stack:
            node, path = stack.pop()
            if isinstance(node, str) and node.strip():
                try:
                    leaves.append(check_expression(node))
                except ExpressionSyntaxError as exc:
                    ok = False
                    self.report_expression(source, path, exc, rule=rule)
            elif isinstance(node, dict):
                children: list[tuple[Any, JsonPath]] = []
                for word in ("all", "any"):
                    items = node.get(word)
                    for i, child in enumerate(items if isinstance(items, list) else ()):
                        children.append((child, (*path, word, i)))
                if "not" in node:
                    children.append((node["not"], (*path, "not")))
                stack.extend(reversed(children))
        return compile_condition(raw, leaves) if ok else None

    def check_duration(
        self, value: Any, json_path: JsonPath, source: SourceMap, rule: str
    ) -> _dt.timedelta | None:
        """A duration of the file, or None; one longer than MAX_DURATION is a problem (a value
        that is no duration is the schema's to report, a template is rendered at run time)."""
        if not isinstance(value, str) or not is_duration(value):
            return None
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.report(source, json_path, str(exc), rule=rule)
            return None

    def compile_retry(
        self, raw: dict[str, Any], json_path: JsonPath, source: SourceMap, rule: str
    ) -> RetryPolicy:
        attempts: int = raw["attempts"]
        backoff = _DEFAULT_BACKOFF
        if "backoff" in raw:
            given = self.check_duration(raw["backoff"], (*json_path, "backoff"), source, rule)
            if given is None:
                return RetryPolicy(attempts=attempts)  # the problem is reported
            backoff = given
        problem = retry_problem(attempts, backoff)
        if problem is not None:
            where = (*json_path, "backoff" if "backoff" in raw else "attempts")
            self.report(source, where, problem, rule=rule)
        return RetryPolicy(attempts=attempts, backoff=backoff)

    def compile_action(
        self, raw: dict[str, Any], index: int, json_path: JsonPath, source: SourceMap, rule: str
    ) -> ActionSpec | None:
        """One step; None when it has problems (they are reported).

        What a step compiles to depends on what it says only, so a step written alike in many
        rules (the same email in each) is compiled once per load; its places are its own.
        """
        key = repr(raw)  # the same text for the same keys, values and types, in the same order
        step = self.steps.get(key)
        if step is None:
            before = len(self.problems)
            step = self.compile_step(raw, json_path, source, rule)
            if len(self.problems) > before:
                return None
            self.steps[key] = step
        return ActionSpec(
            index=index,
            type=step.type,
            id=step.id,
            when=step.when,
            on_error=step.on_error,
            retry=step.retry,
            params=step.params,
            location=source.location(json_path),
            json_path=format_path(json_path),
            param_locations={
                k: source.location((*json_path, k), key=True) for k in step.params.raw
            },
            type_location=source.location((*json_path, "type")),
            send_window=step.send_window,
            variants=step.variants,
            localised=step.localised,
        )

    def compile_step(
        self, raw: dict[str, Any], json_path: JsonPath, source: SourceMap, rule: str
    ) -> _Step:
        kind: str = raw["type"]
        when = self.compile_condition(raw.get("when"), (*json_path, "when"), source, rule)
        retry = None
        raw_retry = raw.get("retry")
        if isinstance(raw_retry, dict) and isinstance(raw_retry.get("attempts"), int):
            retry = self.compile_retry(raw_retry, (*json_path, "retry"), source, rule)
        params = {k: v for k, v in raw.items() if k not in COMMON_KEYS}
        for key in _DURATION_PARAMS.get(kind, ()):
            self.check_duration(params.get(key), (*json_path, key), source, rule)

        def bad_param(path: tuple[str | int, ...], exc: ExpressionSyntaxError) -> None:
            self.report_expression(source, (*json_path, *path), exc, rule=rule)

        tree = compile_params(params, bad_param)
        window, variants, localised = extras.compile_step_extras(
            raw, params, json_path, *extras.reporters(self, source, rule)
        )
        return _Step(
            type=kind,
            id=raw.get("id"),
            when=when,
            on_error=raw.get("on_error", "stop"),
            retry=retry,
            params=tree,
            send_window=window,
            variants=variants,
            localised=localised,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Step:
    """What a step compiles to, apart from its places (see :meth:`_Builder.compile_action`)."""

    type: str
    id: Any
    when: Condition | None
    on_error: Any
    retry: RetryPolicy | None
    params: ParamTree
    send_window: WindowSpec | None
    variants: tuple[str, ...] | None
    localised: bool


def _well_formed(raw: Any) -> bool:
    """A condition of the right shape (the schema reports the others)."""
    if isinstance(raw, str):
        return bool(raw.strip())
    if not isinstance(raw, dict) or len(raw) != 1:
        return False
    word, value = next(iter(raw.items()))
    if word in ("all", "any"):
        return isinstance(value, list) and bool(value) and all(_well_formed(v) for v in value)
    return word == "not" and _well_formed(value)


def _rule_name(data: Mapping[str, Any], path: JsonPath) -> str | None:
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rules = data.get("rules")
        if isinstance(rules, list) and path[1] < len(rules):
            raw = rules[path[1]]
            if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                return str(raw["name"])
    return None
