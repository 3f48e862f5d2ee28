"""Rule checks against Stripe's own types: each mistake at its line and column, with its fix.

Warnings (``RuleSet.warnings``) for unknown event types, fields the event's object does not
have and comparisons of different types; silencing comments; the example rule file and every
rule file of the docs without a warning; and, against the real payloads of
tests/fixtures/stripe/real/, how many fields stripe-python's types know.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import typing
from collections import Counter
from pathlib import Path

import pytest
import stripe

import dunning_rules as dr
from dunning_rules.rules import _stripe_types as types
from tests.docs.pages import all_blocks

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "smart_dunning.yaml"
REAL = ROOT / "tests" / "fixtures" / "stripe" / "real"


def rules_text(body: str, *, on: str = "invoice.payment_failed", head: str = "") -> str:
    """A rule file of one rule named ``r`` whose actions are ``body`` (indented as a list)."""
    return (
        "version: 1\n" + head + "rules:\n  - name: r\n"
        f"    on: {on}\n    actions:\n" + textwrap.indent(textwrap.dedent(body), "      ")
    )


def warnings_of(text: str) -> list[str]:
    return [str(w) for w in dr.load_rules(text).warnings]


# --- event types -------------------------------------------------------------------------------


def test_an_unknown_event_type_in_on_is_a_warning_with_the_near_type():
    """`on: invoice.payment_faild` loads, with a warning at the type naming the right one."""
    text = rules_text("- {type: wait, duration: 1d}\n", on="invoice.payment_faild")
    assert warnings_of(text) == [
        "<string>:4:9: $.rules[0].on: rule 'r': Stripe sends no event of type "
        "'invoice.payment_faild'; did you mean 'invoice.payment_failed'? [unknown-event-type]"
    ]


def test_a_file_with_an_error_carries_its_warnings_on_the_error():
    """The warnings of a file that fails to load are on the RuleFileError, sorted, and are
    the ones the file would have loaded with once the error is fixed."""
    good = rules_text("- {type: wait, duration: 1d}\n", on="invoice.payment_faild")
    bad = good.replace("duration: 1d", "duration: 1 day")
    with pytest.raises(dr.RuleFileError) as caught:
        dr.load_rules(bad)
    assert [p.message for p in caught.value.problems] == [
        "not a duration: '1 day' (use a number and s, m, h, d or w: '3d')"
    ]
    assert [str(w) for w in caught.value.warnings] == warnings_of(good)
    assert caught.value.warnings
    assert str(caught.value) == str(caught.value.problems[0])
    assert dr.RuleFileError(caught.value.problems).warnings == ()


def test_an_unknown_event_type_in_cancel_on_is_a_warning_at_the_list_item():
    """`cancel_on: [invoice.voided, invoice.payed]` warns at the second item."""
    text = rules_text("- {type: wait, duration: 1d}\n").replace(
        "    actions:", "    cancel_on: [invoice.voided, invoice.payed]\n    actions:"
    )
    assert warnings_of(text) == [
        "<string>:5:33: $.rules[0].cancel_on[1]: rule 'r': Stripe sends no event of type "
        "'invoice.payed'; did you mean 'invoice.paid'? [unknown-event-type]"
    ]


def test_a_pattern_that_matches_no_event_type_is_a_warning():
    """`on: "invoce.*"` matches nothing Stripe sends: a warning suggesting `invoice.*`."""
    text = rules_text("- {type: wait, duration: 1d}\n", on='"invoce.*"')
    assert warnings_of(text) == [
        "<string>:4:10: $.rules[0].on: rule 'r': 'invoce.*' matches no event type Stripe "
        "sends; did you mean 'invoice.*'? [unknown-event-type]"
    ]


@pytest.mark.parametrize(
    "on",
    ['"invoice.*"', '"*"', '"customer.subscription.*"', "[invoice.paid, charge.failed]"],
    ids=["prefix", "star", "nested-prefix", "list"],
)
def test_known_types_and_matching_patterns_give_no_warning(on):
    """Event types Stripe lists, and patterns matching some, are not warned about."""
    assert warnings_of(rules_text("- {type: wait, duration: 1d}\n", on=on)) == []


def test_every_event_type_stripe_lists_maps_to_its_resource():
    """All 275 types of stripe.Event.type have a resource class for data.object."""
    listed = typing.get_args(stripe.Event.__annotations__["type"])
    assert types.event_types() == tuple(sorted(listed))
    assert [t for t in types.event_types() if not types.resources_for(t)] == []
    assert types.resources_for("customer.subscription.deleted") == (stripe.Subscription,)
    assert types.resources_for("issuing_card.created") == (stripe.issuing.Card,)
    assert types.resources_for("invoiceitem.created") == (stripe.InvoiceItem,)


# --- fields ------------------------------------------------------------------------------------


def test_a_misspelt_field_in_a_body_is_a_warning_at_the_path():
    """`{{ data.object.custmer_name }}` in a text warns at `data`, suggesting customer_name."""
    text = rules_text('- {type: slack, text: "Dear {{ data.object.custmer_name }}, please pay"}\n')
    assert warnings_of(text) == [
        "<string>:6:38: $.rules[0].actions[0].text: rule 'r': data.object.custmer_name: "
        "no field 'custmer_name' in Invoice (invoice.payment_failed); "
        "did you mean 'customer_name'? [unknown-field]"
    ]


def test_a_misspelt_field_in_a_recipient_is_a_warning():
    """`to: "{{ data.object.custmer_email }}"` (a null recipient at run time) is warned about."""
    text = rules_text(
        """\
        - type: email
          to: "{{ data.object.custmer_email }}"
          subject: Your payment
          text: Hello
        """
    )
    assert warnings_of(text) == [
        "<string>:7:17: $.rules[0].actions[0].to: rule 'r': data.object.custmer_email: "
        "no field 'custmer_email' in Invoice (invoice.payment_failed); "
        "did you mean 'customer_email'? [unknown-field]"
    ]


@pytest.mark.parametrize(
    "path",
    [
        "data.object.lines.data[0].period.end",
        "data.object.lines.data[*].pricing.price_details.price",
        "data.object.lines.data[?amount > `0`].description",
        "data.object.lines.has_more",
        "data.object.customer.email",
        "data.object.customer.invoice_settings.default_payment_method",
        "data.object.parent.subscription_details.subscription.items.data[0].price.unit_amount",
        "data.object.metadata.anything_at_all",
        "data.object.status_transitions.paid_at",
        "data.object.object",
        "data.object | customer_email",
        "id",
        "data.previous_attributes.status",
    ],
    ids=[
        "list-index",
        "projection-nested",
        "filter",
        "list-object-field",
        "expandable",
        "expandable-nested",
        "deep",
        "metadata",
        "nested-class",
        "object",
        "pipe",
        "event-field",
        "previous-attributes",
    ],
)
def test_fields_through_lists_expansions_and_metadata_are_known(path):
    """Nested classes, lists, list objects, expandable fields and metadata give no warning."""
    text = rules_text(f'- {{type: slack, text: "{{{{ {path} }}}}"}}\n')
    assert warnings_of(text) == []


def test_a_misspelt_field_inside_a_list_is_a_warning_at_the_path():
    """`lines.data[0].period.ned` names the nested class and its near field."""
    text = rules_text('- {type: slack, text: "{{ data.object.lines.data[0].period.ned }}"}\n')
    assert warnings_of(text) == [
        "<string>:6:33: $.rules[0].actions[0].text: rule 'r': "
        "data.object.lines.data[].period.ned: no field 'ned' in InvoiceLineItem.Period "
        "(invoice.payment_failed); did you mean 'end'? [unknown-field]"
    ]


def test_a_misspelt_field_inside_a_filter_is_a_warning_at_its_own_path():
    """A filter's condition reads each element: a wrong field there is warned at it."""
    text = rules_text('- {type: slack, text: "{{ data.object.lines.data[?amont > `0`] }}"}\n')
    assert warnings_of(text) == [
        "<string>:6:33: $.rules[0].actions[0].text: rule 'r': "
        "data.object.lines.data[].amont: no field 'amont' in InvoiceLineItem "
        "(invoice.payment_failed); did you mean 'amount'? [unknown-field]"
    ]


def test_a_field_must_fit_every_event_type_of_the_list():
    """On [invoice.payment_failed, charge.failed], amount_due is warned for charge.failed."""
    text = rules_text(
        '- {type: slack, text: "{{ data.object.amount_due }}"}\n',
        on="[invoice.payment_failed, charge.failed]",
    )
    assert warnings_of(text) == [
        "<string>:6:33: $.rules[0].actions[0].text: rule 'r': data.object.amount_due: "
        "no field 'amount_due' in Charge (charge.failed); did you mean 'amount'? [unknown-field]"
    ]


def test_a_pattern_checks_fields_against_the_union_of_its_types():
    """On `customer.*`, a Subscription's field and a Customer's field are both accepted."""
    text = rules_text(
        '- {type: slack, text: "{{ data.object.email }} {{ data.object.cancel_at }}"}\n',
        on='"customer.*"',
    )
    assert warnings_of(text) == []


def test_a_key_is_checked_on_the_cancelling_types_too():
    """A key read on charge.failed and on the cancelling invoice.paid must fit both."""
    text = rules_text("- {type: wait, duration: 1d}\n", on="charge.failed").replace(
        "    actions:",
        "    key: data.object.payment_intent\n    cancel_on: invoice.paid\n    actions:",
    )
    assert warnings_of(text) == [
        "<string>:5:10: $.rules[0].key: rule 'r': data.object.payment_intent: no field "
        "'payment_intent' in Invoice (cancel_on invoice.paid); did you mean 'payment_settings'? "
        "[unknown-field]"
    ]


def test_a_lookup_argument_is_checked_on_the_types_of_the_rules_that_read_it():
    """A lookup read by a rule on invoice.payment_failed has its arguments checked there."""
    head = "lookups:\n  ltv: {type: stripe.customer_ltv, customer: data.object.custmer}\n"
    text = rules_text('- {type: slack, text: "{{ vars.ltv.amount }}"}\n', head=head)
    assert warnings_of(text) == [
        "<string>:3:46: $.lookups.ltv.customer: data.object.custmer: no field 'custmer' in "
        "Invoice (invoice.payment_failed); did you mean 'customer'? [unknown-field]"
    ]


def test_a_field_of_a_number_is_a_warning():
    """`data.object.amount_due.value` is always null: amount_due is an integer."""
    text = rules_text("- {type: guard, when: data.object.amount_due.value}\n")
    assert warnings_of(text) == [
        "<string>:6:29: $.rules[0].actions[0].when: rule 'r': data.object.amount_due.value: "
        "no field 'value' in an integer (invoice.payment_failed) [unknown-field]"
    ]


# --- types -------------------------------------------------------------------------------------


def test_a_number_compared_with_a_string_is_a_warning_with_the_number():
    """`amount_due > '50000'` is always false: the warning gives the field's type and `50000`."""
    text = rules_text("- {type: wait, duration: 1d}\n").replace(
        "    actions:", "    when: \"data.object.amount_due > '50000'\"\n    actions:"
    )
    assert warnings_of(text) == [
        "<string>:5:12: $.rules[0].when: rule 'r': data.object.amount_due is an integer, "
        "'50000' is a string: the comparison is always false; did you mean `50000`? "
        "[type-mismatch]"
    ]


def test_a_string_compared_with_a_number_is_a_warning_and_not_equal_is_always_true():
    """`status != \\`1\\`` always holds; the warning suggests the string '1'."""
    text = rules_text('- {type: guard, when: "data.object.status != `1`"}\n')
    assert warnings_of(text) == [
        "<string>:6:30: $.rules[0].actions[0].when: rule 'r': data.object.status is a string, "
        "`1` is a number: the comparison is always true; did you mean '1'? [type-mismatch]"
    ]


def test_a_number_compared_with_a_string_setting_is_a_warning():
    """A setting written as a string ("50000") compared with amount_due is warned about."""
    head = 'settings:\n  vip: "50000"\n'
    text = rules_text('- {type: guard, when: "settings.vip < data.object.amount_due"}\n', head=head)
    assert warnings_of(text) == [
        "<string>:8:45: $.rules[0].actions[0].when: rule 'r': data.object.amount_due is an "
        "integer, settings.vip ('50000') is a string: the comparison is always false; "
        "did you mean `50000`? [type-mismatch]"
    ]


@pytest.mark.parametrize(
    "condition",
    [
        "data.object.amount_due > `50000`",
        "data.object.status == 'open'",
        "data.object.customer == 'cus_123'",
        "data.object.customer_email == null",
        "data.object.attempted == `true`",
    ],
    ids=["number", "literal-string", "expandable-id", "null", "boolean"],
)
def test_comparisons_of_the_same_type_give_no_warning(condition):
    """A literal of the field's own type (or null) is not warned about."""
    text = rules_text(f'- {{type: guard, when: "{condition}"}}\n')
    assert warnings_of(text) == []


# --- silencing ---------------------------------------------------------------------------------


def test_a_comment_at_the_end_of_the_line_silences_its_code():
    """`# dunning-rules: ignore[unknown-field]` after the value silences that warning."""
    text = rules_text(
        '- {type: slack, text: "{{ data.object.subscription }}"}'
        "  # dunning-rules: ignore[unknown-field]\n"
    )
    assert warnings_of(text) == []


def test_a_comment_alone_on_the_line_above_silences_its_code():
    """The comment may stand on its own line above the flagged one."""
    text = rules_text(
        "# dunning-rules: ignore[unknown-field]\n"
        '- {type: slack, text: "{{ data.object.subscription }}"}\n'
    )
    assert warnings_of(text) == []


def test_a_comment_on_the_key_line_silences_a_block_scalar():
    """In a block scalar (`text: |`), the comment goes on the line of the key."""
    text = rules_text(
        """\
        - type: slack
          text: |  # dunning-rules: ignore[unknown-field]
            Paid: {{ data.object.paid }}
        """
    )
    assert warnings_of(text) == []


def test_a_comment_silences_only_its_codes():
    """ignore[type-mismatch] leaves an unknown-field warning of the same line."""
    text = rules_text(
        '- {type: slack, text: "{{ data.object.subscription }}"}'
        "  # dunning-rules: ignore[type-mismatch, unknown-event-type]\n"
    )
    assert [w.rsplit(" ", 1)[-1] for w in warnings_of(text)] == ["[unknown-field]"]


def test_a_comment_at_the_end_of_the_line_above_silences_nothing():
    """A trailing comment belongs to its own line's value, not to the next line's."""
    text = rules_text(
        "- {type: wait, duration: 1d}  # dunning-rules: ignore[unknown-field]\n"
        '- {type: slack, text: "{{ data.object.subscription }}"}\n'
    )
    assert len(warnings_of(text)) == 1


def test_an_unknown_event_type_is_silenced_at_its_line():
    """ignore[unknown-event-type] lets a type newer than stripe-python load quietly."""
    text = rules_text(
        "- {type: wait, duration: 1d}\n",
        on="invoice.brand_new_type  # dunning-rules: ignore[unknown-event-type]",
    )
    assert warnings_of(text) == []


# --- no false warnings -------------------------------------------------------------------------


def test_the_example_rule_file_has_no_warning():
    """examples/smart_dunning.yaml loads without a single warning."""
    assert dr.load_rules(EXAMPLE).warnings == ()


DOC_RULES = [b for b in all_blocks("yaml") if b.is_rule_file and not b.invalid]


@pytest.mark.parametrize("block", DOC_RULES, ids=[b.where for b in DOC_RULES])
def test_a_documented_rule_file_has_no_warning(block):
    """Every rule file the docs show loads without a warning."""
    assert [str(w) for w in dr.load_rules(block.text).warnings] == []


def _real_invoice_events() -> list[dict]:
    """The real invoice.* events but invoice.upcoming (whose fixtures carry other objects)."""
    found = []
    for path in sorted(REAL.glob("*/invoice.*.json")):
        if not path.name.startswith("invoice.upcoming__"):
            found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


# The top-level fields of real invoice payloads (2014-2025) that stripe-python's Invoice no
# longer types: each is a field of an earlier API version.
OLDER_INVOICE_FIELDS = {
    "application_fee_amount",
    "billing",
    "charge",
    "closed",
    "date",
    "discount",
    "forgiven",
    "paid",
    "paid_out_of_band",
    "payment_intent",
    "quote",
    "rendering_options",
    "subscription",
    "subscription_details",
    "tax",
    "tax_percent",
    "total_tax_amounts",
    "transfer_data",
}


def test_a_broad_rule_over_real_payloads_warns_only_for_fields_of_older_versions():
    """A rule on invoice.* reading every top-level field that real invoice payloads carry
    (46 events, 92 fields) warns once per field stripe-python no longer types (18), for
    nothing else."""
    events = _real_invoice_events()
    fields = sorted({key for event in events for key in event["data"]["object"]})
    assert len(events) >= 40
    assert len(fields) >= 90
    lines = "".join(f'- {{type: guard, when: "data.object.{f}"}}\n' for f in fields)
    rules = dr.load_rules(rules_text(lines, on='"invoice.*"'))
    warned = [w.message.split(":", 1)[0] for w in rules.warnings]
    assert sorted(warned) == sorted(f"data.object.{f}" for f in OLDER_INVOICE_FIELDS)
    assert all(f not in stripe.Invoice.__annotations__ for f in OLDER_INVOICE_FIELDS)
    assert len(warned) <= len(fields) // 4  # no flood: 18 of 92


def _leaves(value, path):
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        yield from _leaves(value[0], (*path, types.INDEX))
    else:
        yield path


def test_most_fields_of_real_payloads_are_known():
    """Of every field path in the real payloads (all API versions), at least 80% are typed by
    stripe-python (84% with stripe 16); the rest belong to other API versions."""
    counts: Counter[bool] = Counter()
    for path in sorted(REAL.glob("*/*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        roots = types.roots_of(types.resources_for(event["type"]))
        if roots:
            for leaf in _leaves(event["data"]["object"], ()):
                counts[not isinstance(types.walk(roots, leaf), types.Missing)] += 1
    assert sum(counts.values()) > 30_000
    assert counts[True] / sum(counts.values()) >= 0.80


# --- the rule set ------------------------------------------------------------------------------


def test_warnings_are_sorted_by_place_and_the_engine_logs_nothing_for_them(caplog):
    """RuleSet.warnings is sorted by line; building an engine on it logs nothing."""
    text = rules_text(
        '- {type: slack, text: "{{ data.object.b_wrong }}"}\n'
        '- {type: slack, text: "{{ data.object.a_wrong }}"}\n'
    )
    rules = dr.load_rules(text)
    assert [w.location.line for w in rules.warnings] == [6, 7]
    with caplog.at_level(logging.DEBUG):
        dr.Engine(rules)
    assert caplog.records == []


def test_importing_the_library_does_not_import_stripe():
    """stripe's types are read on the first load, never by `import dunning_rules`."""
    code = "import sys, dunning_rules; print('stripe' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


def test_a_misspelt_field_in_a_send_windows_time_zone_is_a_warning():
    """A send window's `time_zone` expression is checked like any other path."""
    text = rules_text(
        """\
        - type: sms
          to: "+15555550100"
          body: Pay
          send_window: {hours: "08:00-21:00", time_zone: "data.object.custmer_tz"}
        """
    )
    assert warnings_of(text) == [
        "<string>:9:57: $.rules[0].actions[0].send_window.time_zone: rule 'r': "
        "data.object.custmer_tz: no field 'custmer_tz' in Invoice (invoice.payment_failed); "
        "did you mean 'customer'? [unknown-field]"
    ]
