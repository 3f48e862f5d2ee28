"""The hand-written part of the rule-file JSON Schema (version 1).

:mod:`._schema_build` adds what the code knows: the event types Stripe sends and each built-in
step type's parameters. ``dunning-rules schema`` prints the result, which is
``schemas/rules.schema.json``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BASE"]

BASE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://dunning-rules.dev/schemas/rules-1.schema.json",
    "title": "dunning_rules rule file, version 1",
    "description": "Rules that map Stripe webhook events to dunning steps.",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "rules"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"const": 1, "description": "The format version: 1."},
        "settings": {
            "type": "object",
            "description": "Free-form values, visible to expressions as `settings`.",
        },
        "lookups": {
            "type": "object",
            "description": (
                "Enrichment, visible as `vars.<name>`: fetched lazily, at most once per event."
            ),
            "additionalProperties": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"type": "string", "minLength": 1}},
                "additionalProperties": {
                    "type": "string",
                    "minLength": 1,
                    "description": "A JMESPath expression, evaluated on the event.",
                },
            },
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        },
        "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
    },
    "$defs": {
        "rule": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "on", "actions"],
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Unique across all rule files.",
                },
                "description": {"type": "string"},
                "on": {
                    "oneOf": [
                        {"$ref": "#/$defs/event_type"},
                        {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/event_type"}},
                    ],
                    "description": "An event type or a list; `*` wildcards allowed (`invoice.*`).",
                },
                "when": {"$ref": "#/$defs/condition"},
                "priority": {
                    "type": "integer",
                    "default": 0,
                    "description": "Higher first; ties keep file order.",
                },
                "stop": {
                    "type": "boolean",
                    "default": False,
                    "description": "A match ends evaluation of lower-priority rules.",
                },
                "key": {
                    "type": "string",
                    "minLength": 1,
                    "default": "data.object.id",
                    "description": (
                        "A JMESPath expression: the correlation key of the runs this rule starts."
                    ),
                },
                "cancel_on": {
                    "oneOf": [
                        {"$ref": "#/$defs/event_type"},
                        {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/event_type"}},
                    ],
                    "description": (
                        "Event types that cancel this rule's waiting runs with the same key."
                    ),
                },
                "actions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/action"}},
            },
        },
        "action": {
            "type": "object",
            "description": (
                "One step. `type` picks the adapter; the keys other than the common ones are the "
                "type's parameters."
            ),
            "required": ["type"],
            "properties": {
                "type": {
                    "type": "string",
                    "minLength": 1,
                    "description": (
                        "The step type: wait, guard, approval, email, sms, slack, teams, ticket, "
                        "http, llm, stripe.invoice, stripe.portal_link, or a plug-in's."
                    ),
                },
                "id": {
                    "type": "string",
                    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                    "description": "Names the step's output for later steps: `steps.<id>`.",
                },
                "when": {
                    "$ref": "#/$defs/condition",
                    "description": (
                        "Skip the step when false. For `guard`, false ends the run as completed."
                    ),
                },
                "on_error": {
                    "enum": ["stop", "continue"],
                    "default": "stop",
                    "description": (
                        "After a failure (and its retries): stop the run as failed, or continue "
                        "with the next step."
                    ),
                },
                "retry": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["attempts"],
                    "properties": {
                        "attempts": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 20,
                            "description": "Attempts in all, the first included (at most 20).",
                        },
                        "backoff": {
                            "$ref": "#/$defs/duration",
                            "description": (
                                "Delay before the second attempt; it doubles each time. Default 1m."
                            ),
                        },
                    },
                },
            },
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "wait"}}, "required": ["type"]},
                    "then": {
                        "required": ["duration"],
                        "properties": {
                            "duration": {
                                "anyOf": [
                                    {"$ref": "#/$defs/duration"},
                                    {"$ref": "#/$defs/template"},
                                ]
                            }
                        },
                    },
                },
                {
                    "if": {"properties": {"type": {"const": "guard"}}, "required": ["type"]},
                    "then": {"required": ["when"]},
                },
                {
                    "if": {"properties": {"type": {"const": "approval"}}, "required": ["type"]},
                    "then": {
                        "properties": {
                            "timeout": {"$ref": "#/$defs/duration"},
                            "on_timeout": {"enum": ["cancel", "continue"]},
                        }
                    },
                },
            ],
        },
        "condition": {
            "description": (
                "A JMESPath expression, or {all: [...]}, {any: [...]}, {not: ...}, nested. "
                'Truthiness is JMESPath\'s: false, null, "", [] and {} are false.'
            ),
            "oneOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "properties": {
                        "all": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/$defs/condition"},
                        }
                    },
                    "required": ["all"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "any": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/$defs/condition"},
                        }
                    },
                    "required": ["any"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"not": {"$ref": "#/$defs/condition"}},
                    "required": ["not"],
                    "additionalProperties": False,
                },
            ],
        },
        "duration": {
            "type": "string",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*(s|m|h|d|w)\\s*$",
            "description": (
                "A duration: a number and a unit, s, m, h, d or w (`30m`, `12h`, `3d`); at most "
                "400 days."
            ),
        },
        "event_type": {
            "type": "string",
            "pattern": "^[a-z0-9_.*]+$",
            "description": (
                "A Stripe event type such as invoice.payment_failed, or a pattern such as invoice.*"
            ),
        },
        "template": {
            "type": "string",
            "pattern": "\\{\\{",
            "description": "A {{ }} placeholder, rendered when the step runs.",
        },
    },
}
