"""Rule checks: what a rule file refers to, checked against what exists.

Errors (the loader raises them in its :class:`~dunning_rules.errors.RuleFileError`, with every
other problem): ``steps.<id>`` that names no earlier step of the same rule, ``settings.<key>``
that names no setting (of all files together), ``vars.<name>`` that names no lookup.

Warnings (``RuleSet.warnings``): the file loads, but is probably wrong. Each ends with its
code, which a YAML comment silences at its line (``# dunning-rules: ignore[unknown-field]``,
at the end of the line, or alone on the line above; for a value written over several lines,
on the line where it starts):

- ``unknown-event-type``: an event type that stripe-python's ``stripe.Event.type`` does not
  list, or a ``*`` pattern that matches none;
- ``unknown-field``: a path into ``data.object`` that is no field of the object an event type
  the rule listens to carries (for ``key``, also the types of ``cancel_on``); a pattern is
  checked against the objects of all the types it matches together;
- ``type-mismatch``: a field compared with a literal (or a setting) of another JSON type,
  which is never equal and never ordered.

Every place is the first character of the offending text: the event type, or the path.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location, Problem
from . import _stripe_types as types
from ._parse import also_forget, remembered
from ._paths import Comparison, Segment, expression_paths, placeholders
from .locations import JsonPath, SourceMap, format_path
from .model import COMMON_KEYS

__all__ = ["CODES", "check_rule_files"]

CODES = ("unknown-event-type", "unknown-field", "type-mismatch")
"""The codes of warnings, for ``# dunning-rules: ignore[code]``."""

_IGNORE = re.compile(r"(?:^|\s)#\s*dunning-rules:\s*ignore\[([a-z\-,\s]+)\]\s*$")


@dataclass(frozen=True, slots=True, eq=False)
class _Group:
    """Event types a path must fit together: one type, or all the types of a pattern.

    Compared by identity (the groups of a list of patterns are made once, see _groups_of),
    so that a cache keyed by groups hashes fast."""

    label: str
    roots: tuple[types.Alternative, ...]


@dataclass(slots=True)
class _Site:
    """One expression of a file: where it is, and what it may read."""

    source: SourceMap
    json_path: JsonPath
    text: str
    start: int
    rule: str | None
    earlier_steps: Mapping[str, int] | None  # None: no step has run (a rule's when, key)
    later_steps: Mapping[str, int] = field(default_factory=dict)
    groups: tuple[_Group, ...] = ()
    lookup: str | None = None  # a lookup's argument: checked on the types of its readers


_Text = tuple[JsonPath, str, int]  # where in a step, the expression, its offset there


@dataclass(slots=True)
class _Checker:
    settings: Mapping[str, Any]
    lookups: Sequence[str]
    errors: list[Problem] = field(default_factory=list)
    warnings: list[tuple[Problem, str, SourceMap, JsonPath]] = field(default_factory=list)
    readers: dict[str, list[_Group]] = field(default_factory=dict)
    steps: dict[tuple[str, tuple[_Group, ...]], tuple[_Text, ...]] = field(default_factory=dict)
    """The texts of each step to check, by what the step says and its event types."""

    # -- reporting ----------------------------------------------------------------------------

    def where(self, site: _Site, offset: int) -> Location:
        return site.source.locate_in_scalar(site.json_path, site.start, site.text, offset)

    def error(self, site: _Site, offset: int, message: str) -> None:
        self.errors.append(
            Problem(
                location=self.where(site, offset),
                json_path=format_path(site.json_path),
                message=message,
                rule=site.rule,
            )
        )

    def warn(self, site: _Site, offset: int, code: str, message: str) -> None:
        problem = Problem(
            location=self.where(site, offset),
            json_path=format_path(site.json_path),
            message=f"{message} [{code}]",
            rule=site.rule,
        )
        self.warnings.append((problem, code, site.source, site.json_path))

    # -- expressions --------------------------------------------------------------------------

    def check_site(self, site: _Site) -> None:
        found = expression_paths(site.text)
        if found is None:
            return  # the loader reports the syntax error
        paths, comparisons = found
        for path in paths:
            self.check_reference(site, path)
        if site.lookup is not None:
            return
        # What depends on the text and the event types only: once for the many rules alike.
        for offset, code, message in _type_warnings(site.text, site.groups):
            self.warn(site, offset, code, message)
        for comparison in comparisons:
            if comparison.other is not None:
                self.check_comparison(site, comparison)

    def check_reference(self, site: _Site, path: tuple[Segment, ...]) -> None:
        if len(path) < 2 or path[1][0] in (types.EACH, types.INDEX):
            return
        (head, start), (name, _) = path[0], path[1]
        if head == "steps":
            self.check_step(site, start, name)
        elif head == "settings" and name not in self.settings:
            known = sorted(self.settings)
            listed = f"; settings: {', '.join(known)}" if known else "; no file has settings"
            self.error(site, start, f"settings.{name} names no setting{_hint(name, known)}{listed}")
        elif head == "vars":
            if name not in self.lookups:
                known = sorted(self.lookups)
                listed = f"; lookups: {', '.join(known)}" if known else "; no file has lookups"
                self.error(site, start, f"vars.{name} names no lookup{_hint(name, known)}{listed}")
            elif site.lookup is None:
                self.readers.setdefault(name, []).extend(site.groups)

    def check_step(self, site: _Site, start: int, name: str) -> None:
        earlier = site.earlier_steps
        if earlier is not None and name in earlier:
            return
        if name in site.later_steps:
            self.error(
                site,
                start,
                f"steps.{name} is step {site.later_steps[name]}, which has not run yet here: "
                "a step reads only the steps before it",
            )
            return
        if earlier is None:
            self.error(
                site,
                start,
                f"steps.{name}: no step has run yet where the rule's condition "
                "and key are evaluated",
            )
            return
        known = sorted(earlier)
        listed = (
            f"; earlier steps with an id: {', '.join(known)}"
            if known
            else "; no earlier step has an id"
        )
        self.error(
            site,
            start,
            f"steps.{name} names no earlier step of rule {site.rule!r}{_hint(name, known)}{listed}",
        )

    def check_fields(
        self, site: _Site, path: tuple[Segment, ...], groups: Sequence[_Group]
    ) -> None:
        if len(path) < 2 or path[0][0] != "data" or path[1][0] != "object" or not groups:
            return
        message = _field_problem(tuple(name for name, _ in path), tuple(groups))
        if message is not None:
            self.warn(site, path[0][1], "unknown-field", message)

    def check_comparison(self, site: _Site, comparison: Comparison) -> None:
        """A path compared with a setting (``settings.x``), which must be of its type."""
        path, other = comparison.path, comparison.other
        if other is None:
            return
        if [n for n, _ in path[:1]] == ["settings"] and [n for n, _ in other[:2]] == [
            "data",
            "object",
        ]:
            path, other = other, path
        other_names = [n for n, _ in other]
        if len(other_names) != 2 or other_names[0] != "settings":
            return
        if other_names[1] not in self.settings:
            return
        literal = self.settings[other_names[1]]
        shown_literal = f"settings.{other_names[1]} ({_literal(literal)})"
        found = _mismatch(path, literal, shown_literal, comparison.op, site.groups)
        if found is not None:
            self.warn(site, found[0], "type-mismatch", found[1])


@functools.lru_cache(maxsize=8192)
def _type_warnings(text: str, groups: tuple[_Group, ...]) -> tuple[tuple[int, str, str], ...]:
    """``(offset, code, message)`` of the warnings of ``text`` on the event types of
    ``groups`` that depend on nothing else: unknown fields, and comparisons with a literal of
    another type."""
    found = expression_paths(text)
    if found is None or not groups:
        return ()
    paths, comparisons = found
    out: list[tuple[int, str, str]] = []
    for path in paths:
        if len(path) < 2 or path[0][0] != "data" or path[1][0] != "object":
            continue
        message = _field_problem(tuple(name for name, _ in path), groups)
        if message is not None:
            out.append((path[0][1], "unknown-field", message))
    for comparison in comparisons:
        if comparison.other is None:
            literal = comparison.literal
            mismatch = _mismatch(comparison.path, literal, _literal(literal), comparison.op, groups)
            if mismatch is not None:
                out.append((mismatch[0], "type-mismatch", mismatch[1]))
    return tuple(out)


def _mismatch(
    path: tuple[Segment, ...], literal: Any, shown_literal: str, op: str, groups: Sequence[_Group]
) -> tuple[int, str] | None:
    """The offset and message of a comparison of ``path`` with a value of another type."""
    names = [n for n, _ in path]
    literal_kind = _kind_of(literal)
    if names[:2] != ["data", "object"] or not groups or literal_kind is None:
        return None
    ends: list[types.Alternative] = []
    for group in groups:
        result = _walk(group.roots, tuple(names[2:]))
        if isinstance(result, types.Missing):
            return None  # reported as an unknown field
        ends.extend(a for a in result if a not in ends)
    kinds = types.json_kinds(ends)
    if not kinds or literal_kind in kinds:
        return None
    field_type = " or ".join(sorted({types.type_name(a) for a in ends}))
    outcome = "always true" if op == "ne" else "always false"
    return path[0][1], (
        f"{_display(path)} is {field_type}, {shown_literal} is {_article(literal_kind)}: "
        f"the comparison is {outcome}{_suggest(literal, kinds)}"
    )


@functools.lru_cache(maxsize=8192)
def _field_problem(names: tuple[str, ...], groups: tuple[_Group, ...]) -> str | None:
    """What is wrong with the path ``data.object...`` of ``names`` on the event types of
    ``groups`` (None: nothing); once per path and groups, which many rules share."""
    failing: dict[int, list[tuple[_Group, types.Missing]]] = {}
    for group in groups:
        result = _walk(group.roots, names[2:])
        if isinstance(result, types.Missing):
            failing.setdefault(result.index, []).append((group, result))
    if not failing:
        return None
    index = min(failing)
    misses = failing[index]
    missing = misses[0][1]
    owners = sorted({types.type_name(o) for _, m in misses for o in m.owners})
    known = sorted({k for _, m in misses for k in m.known})
    labels = ", ".join(dict.fromkeys(g.label for g, _ in misses))
    shown = _display([(name, -1) for name in names[: index + 3]])
    return (
        f"{shown}: no field {missing.name!r} in {' or '.join(owners)} ({labels})"
        f"{_hint(missing.name, known, ';')}"
    )


@functools.lru_cache(maxsize=8192)
def _walk(
    roots: tuple[types.Alternative, ...], segments: tuple[str, ...]
) -> tuple[types.Alternative, ...] | types.Missing:
    return types.walk(roots, segments)


also_forget(_type_warnings.cache_clear)
also_forget(_field_problem.cache_clear)
also_forget(_walk.cache_clear)


def _article(kind: str) -> str:
    return {"array": "a list", "object": "an object"}.get(kind, f"a {kind}")


def _kind_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return f"`{json.dumps(value, separators=(',', ':'))}`"


def _suggest(value: Any, kinds: frozenset[str]) -> str:
    """A literal of the field's type that ``value`` probably meant."""
    if isinstance(value, str) and "number" in kinds:
        try:
            number = json.loads(value.strip())
        except ValueError:
            return ""
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            return f"; did you mean `{value.strip()}`?"
    if isinstance(value, str) and "boolean" in kinds and value.strip().lower() in ("true", "false"):
        return f"; did you mean `{value.strip().lower()}`?"
    if isinstance(value, (int, float, bool)) and "string" in kinds:
        return f"; did you mean '{json.dumps(value)}'?"
    return ""


def _display(path: Sequence[Segment]) -> str:
    out = ""
    for name, _ in path:
        if name in (types.EACH, types.INDEX):
            out += "[]"
        else:
            out += ("." if out else "") + name
    return out


def _hint(name: str, known: Sequence[str], separator: str = "") -> str:
    near = difflib.get_close_matches(name, known, n=1)
    if not near:
        return ""
    return (
        f"{separator} did you mean {near[0]!r}?" if separator else f" (did you mean {near[0]!r}?)"
    )


# -- event types ----------------------------------------------------------------------------------


def _groups(patterns: Sequence[str], label: str = "") -> tuple[_Group, ...]:
    return _groups_of(tuple(patterns), label)


@functools.lru_cache(maxsize=1024)
def _groups_of(patterns: tuple[str, ...], label: str) -> tuple[_Group, ...]:
    """The groups of event types (once per list of patterns: rules share them)."""
    known = types.event_types()
    listed = _known_types()
    out: list[_Group] = []
    for pattern in patterns:
        if "*" in pattern:
            matching = [t for t in known if fnmatch.fnmatchcase(t, pattern)]
        else:
            matching = [pattern] if pattern in listed else []
        classes = list(dict.fromkeys(c for t in matching for c in types.resources_for(t)))
        if classes:
            out.append(_Group(label + pattern, types.roots_of(classes)))
    return tuple(out)


@functools.cache
def _known_types() -> frozenset[str]:
    return frozenset(types.event_types())


@functools.lru_cache(maxsize=1024)
def _event_type_problem(value: str) -> str | None:
    known = types.event_types()
    if "*" not in value:
        if value in _known_types():
            return None
        return f"Stripe sends no event of type {value!r}{_hint(value, known, ';')}"
    if any(fnmatch.fnmatchcase(t, value) for t in known):
        return None
    patterns = sorted({t.rsplit(".", 1)[0] + ".*" for t in known})
    return f"{value!r} matches no event type Stripe sends{_hint(value, patterns, ';')}"


also_forget(_groups_of.cache_clear)
also_forget(_event_type_problem.cache_clear)


def _as_list(value: Any) -> list[tuple[JsonPath, str]]:
    if isinstance(value, str):
        return [((), value)]
    if isinstance(value, list):
        return [((i,), v) for i, v in enumerate(value) if isinstance(v, str)]
    return []


# -- the files ------------------------------------------------------------------------------------


def _condition_leaves(raw: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(raw, str):
        yield path, raw
    elif isinstance(raw, dict):
        for word in ("all", "any"):
            children = raw.get(word)
            for i, child in enumerate(children if isinstance(children, list) else ()):
                yield from _condition_leaves(child, (*path, word, i))
        if "not" in raw:
            yield from _condition_leaves(raw["not"], (*path, "not"))


def _strings(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _rule_sites(
    checker: _Checker, source: SourceMap, raw: dict[str, Any], base: JsonPath
) -> Iterator[_Site]:
    """The expressions of a rule that may have something to report (see :func:`_needed`)."""
    name = raw.get("name") if isinstance(raw.get("name"), str) else None
    on = [v for _, v in _as_list(raw.get("on"))]
    cancel = [v for _, v in _as_list(raw.get("cancel_on"))]
    for word in ("on", "cancel_on"):
        for sub, value in _as_list(raw.get(word)):
            problem = _event_type_problem(value)
            if problem is not None:
                site = _Site(source, (*base, word, *sub), value, 0, name, None)
                checker.warn(site, 0, "unknown-event-type", problem)
    groups = _groups(on)
    for path, text in _condition_leaves(raw.get("when"), (*base, "when")):
        if _needed(text, groups):
            yield _Site(source, path, text, 0, name, None, groups=groups)
    if isinstance(raw.get("key"), str):
        key_groups = groups + _groups(cancel, "cancel_on ")
        if _needed(raw["key"], key_groups):
            yield _Site(source, (*base, "key"), raw["key"], 0, name, None, groups=key_groups)
    actions = raw.get("actions")
    steps = [
        a if isinstance(a, dict) else {} for a in (actions if isinstance(actions, list) else ())
    ]
    ids = [s.get("id") if isinstance(s.get("id"), str) else None for s in steps]
    for index, step in enumerate(steps):
        # A step written alike in many rules (the same email in each) has the same texts to
        # check on the same event types: found once per load.
        memo = (repr(step), groups)
        texts = checker.steps.get(memo)
        if texts is None:
            texts = checker.steps[memo] = tuple(_step_texts(step, groups))
        if not texts:
            continue
        earlier = {i: n for n, i in enumerate(ids[:index]) if i is not None}
        later = {
            i: n for n, i in enumerate(ids) if i is not None and n >= index and i not in earlier
        }
        at = (*base, "actions", index)
        for sub, text, start in texts:
            yield _Site(source, (*at, *sub), text, start, name, earlier, later, groups)


def _step_texts(step: dict[str, Any], groups: tuple[_Group, ...]) -> Iterator[_Text]:
    """``(path in the step, text, offset)`` of each expression of a step that may have
    something to report (see :func:`_needed`): its conditions, its placeholders, its time
    zone (read when the step is reached)."""
    for path, text in _condition_leaves(step.get("when"), ("when",)):
        if _needed(text, groups):
            yield path, text, 0
    params = {k: v for k, v in step.items() if k not in COMMON_KEYS}
    for path, text in _strings(params, ()):
        for body, start in placeholders(text):
            if _needed(body, groups):
                yield path, body, start
    window = step.get("send_window")
    zone = window.get("time_zone") if isinstance(window, dict) else None
    if isinstance(zone, str) and _needed(zone, groups):
        yield ("send_window", "time_zone"), zone, 0


def _needed(text: str, groups: tuple[_Group, ...]) -> bool:
    """Whether checking ``text`` of a rule can find anything: it reads ``steps``, ``settings``
    or ``vars``, compares a path with a setting, or has a warning on these event types. Most
    expressions do none of these; they need no site."""
    return _reads_context(text) or bool(_type_warnings(text, groups))


_CONTEXT = frozenset({"steps", "settings", "vars"})


@remembered(maxsize=4096)
def _reads_context(text: str) -> bool:
    found = expression_paths(text)
    if found is None:
        return False  # a syntax error: the loader reports it
    paths, comparisons = found
    for path in paths:
        if (
            len(path) >= 2
            and path[0][0] in _CONTEXT
            and path[1][0] not in (types.EACH, types.INDEX)
        ):
            return True
    return any(comparison.other is not None for comparison in comparisons)


def check_rule_files(
    files: Sequence[tuple[SourceMap, Any]],
    settings: Mapping[str, Any],
    lookups: Sequence[str],
) -> tuple[list[Problem], list[Problem]]:
    """The errors and the (unsilenced) warnings of parsed rule files, checked together."""
    checker = _Checker(settings, lookups)
    sites: list[_Site] = []
    for source, data in files:
        if not isinstance(data, dict):
            continue
        rules = data.get("rules")
        for index, raw in enumerate(rules if isinstance(rules, list) else ()):
            if isinstance(raw, dict):
                sites.extend(_rule_sites(checker, source, raw, ("rules", index)))
        found = data.get("lookups")
        for name, spec in found.items() if isinstance(found, dict) else ():
            for arg, text in spec.items() if isinstance(spec, dict) else ():
                if arg != "type" and isinstance(text, str):
                    site = _Site(source, ("lookups", name, arg), text, 0, None, None, lookup=name)
                    sites.append(site)
    for site in sites:
        checker.check_site(site)
    for site in sites:  # a lookup's arguments, on the event types of the rules that read it
        if site.lookup is not None:
            readers = tuple(dict.fromkeys(checker.readers.get(site.lookup, ())))
            found_paths = expression_paths(site.text)
            for path in found_paths[0] if found_paths else ():
                checker.check_fields(site, path, readers)
    warnings = [
        p for p, code, source, path in checker.warnings if not _silenced(p, code, source, path)
    ]
    return _unique(checker.errors), _unique(warnings)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _silenced(problem: Problem, code: str, source: SourceMap, json_path: JsonPath) -> bool:
    """A ``# dunning-rules: ignore[code]`` comment at the end of the warning's line or of the
    first line of the value that holds it, or alone on the line above either."""
    own = {problem.location.line, source.location(json_path).line}
    for line in own | {n - 1 for n in own}:
        text = source.source_line(line)
        match = _IGNORE.search(text)
        if match is None or code not in {c.strip() for c in match.group(1).split(",")}:
            continue
        if line in own or text.lstrip().startswith("#"):
            return True
    return False
