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
        "settings": {"$ref": "#/$defs/settings"},
        "accounts": {
            "type": "object",
            "description": (
                "Stripe Connect: per connected account (`acct_...`), settings that replace "
                "`settings`' values for that account's events."
            ),
            "propertyNames": {"pattern": "^acct_[A-Za-z0-9]{1,64}$"},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"settings": {"$ref": "#/$defs/settings"}},
            },
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
                "variants": {
                    "type": "array",
                    "minItems": 2,
                    "description": (
                        "Split the rule's keys by a hash of the rule's name and the key into "
                        "named variants by weight; one may be the holdout, which sends nothing."
                    ),
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
                            "weight": {"type": "number", "minimum": 0, "default": 1},
                            "holdout": {"type": "boolean", "default": False},
                        },
                    },
                },
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
                "send_window": {
                    "$ref": "#/$defs/send_window",
                    "description": (
                        "When the step may run, in the recipient's time zone; outside it the run "
                        "waits for the next opening. false: none (not even its type's default)."
                    ),
                },
                "variant": {
                    "description": "Run the step only in this variant (or these) of the rule.",
                    "oneOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    ],
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
        "settings": {
            "type": "object",
            "description": (
                "Free-form values, visible to expressions as `settings`; the engine reads "
                "send_windows, time_zone and locale itself."
            ),
            "properties": {
                "send_windows": {
                    "type": "object",
                    "description": (
                        "A send window per step type (sms has 08:00-21:00 by default; false "
                        "turns it off)."
                    ),
                    "additionalProperties": {"$ref": "#/$defs/send_window"},
                },
                "time_zone": {
                    "type": "string",
                    "description": (
                        "The recipients' time zone when neither the window nor the customer's "
                        "address names one (an IANA name; default UTC)."
                    ),
                },
                "locale": {
                    "description": "The customers' locale when they have none: a tag or a list.",
                    "oneOf": [
                        {"type": "string"},
                        {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    ],
                },
            },
        },
        "send_window": {
            "oneOf": [
                {"const": False},
                {"$ref": "#/$defs/hours"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["hours"],
                    "properties": {
                        "hours": {
                            "oneOf": [
                                {"$ref": "#/$defs/hours"},
                                {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"$ref": "#/$defs/hours"},
                                },
                            ]
                        },
                        "days": {
                            "description": (
                                "Days of the week the window opens on: mon..sun, ranges "
                                "(mon-fri), weekdays, weekends."
                            ),
                            "oneOf": [
                                {"type": "string"},
                                {"type": "array", "minItems": 1, "items": {"type": "string"}},
                            ],
                        },
                        "time_zone": {
                            "type": "string",
                            "minLength": 1,
                            "description": (
                                "A JMESPath expression for the recipient's zone: an IANA name, "
                                "a country code or an address (metadata.timezone, "
                                "data.object.customer_shipping.address)."
                            ),
                        },
                    },
                },
            ]
        },
        "hours": {
            "type": "string",
            "pattern": "^\\s*[0-9]{1,2}:[0-9]{2}\\s*-\\s*[0-9]{1,2}:[0-9]{2}\\s*$",
            "description": "Local hours, HH:MM-HH:MM (08:00-21:00; 22:00-06:00 crosses midnight).",
        },
        "localised_text": {
            "type": "object",
            "description": (
                "Text by locale: {en: ..., es: ..., default: en}; the customer's preferred "
                "locales pick one (es-MX, then es, then the default)."
            ),
            "required": ["default"],
            "minProperties": 2,
            "propertyNames": {"pattern": "^(default|[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*)$"},
            "properties": {"default": {"type": "string"}},
            "additionalProperties": {"type": "string"},
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
