"""Adapters from the `dunning_rules.actions` entry-point group: plug-ins, broken plug-ins."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

import pytest

import dunning_rules as dr
from dunning_rules.actions import registry

NOT_AN_ADAPTER = 42
CALLS: list[dict[str, object]] = []


def crm_note(params: dict[str, object], ctx: dr.ActionContext) -> dict[str, object]:
    CALLS.append(params)
    return {"id": "note_1"}


class Broken:
    def __init__(self) -> None:
        raise RuntimeError("needs a token")


RULES = """
version: 1
rules:
  - name: r
    on: invoice.payment_failed
    actions:
      - {type: crm_note, text: "{{ data.object.customer_email }}"}
"""


@pytest.fixture
def plugin(monkeypatch):
    """Install one fake entry point named crm_note pointing at ``value``."""

    def install(value: str) -> None:
        point = EntryPoint(name="crm_note", value=value, group=registry.ACTIONS_GROUP)
        real = registry._entry_points(registry.ACTIONS_GROUP)
        monkeypatch.setattr(
            registry,
            "_entry_points",
            lambda group: {**real, "crm_note": point} if group == registry.ACTIONS_GROUP else {},
        )

    return install


def test_a_plugin_adapter_is_found_by_its_entry_point(plugin, failed_event):
    """A function published under dunning_rules.actions runs for its type."""
    plugin(f"{__name__}:crm_note")
    CALLS.clear()
    outcome = dr.Engine(dr.load_rules(RULES)).handle(failed_event)
    assert outcome.actions[0].output == {"id": "note_1"}
    assert CALLS == [{"text": "jenny.rosen@example.com"}]


def test_a_plugin_that_fails_to_import_is_logged_and_skipped(plugin, caplog):
    """An entry point whose module is missing is logged; its type then has no adapter."""
    plugin("no_such_module_anywhere:adapter")
    with (
        caplog.at_level(logging.WARNING, logger=registry.__name__),
        pytest.raises(dr.RuleFileError, match="no adapter for step type 'crm_note'"),
    ):
        dr.Engine(dr.load_rules(RULES))
    assert "cannot load dunning_rules.actions entry point 'crm_note'" in caplog.text


def test_an_entry_point_that_is_not_callable_is_a_plugin_error(plugin):
    """PluginError names the entry point when it gives no callable."""
    plugin(f"{__name__}:NOT_AN_ADAPTER")
    with pytest.raises(dr.PluginError, match=r"entry point 'crm_note' \(.*NOT_AN_ADAPTER\)"):
        dr.Engine(dr.load_rules(RULES))


def test_a_class_that_cannot_be_built_is_a_plugin_error(plugin):
    """A class adapter is built with no arguments; failing to, it is a PluginError."""
    plugin(f"{__name__}:Broken")
    with pytest.raises(dr.PluginError, match="cannot build Broken\\(\\): needs a token"):
        dr.Engine(dr.load_rules(RULES))


def test_every_built_in_type_is_registered():
    """The built-in step types are all listed through the entry-point group."""
    assert set(registry.available()) >= {
        "wait",
        "guard",
        "approval",
        "email",
        "sms",
        "slack",
        "teams",
        "ticket",
        "http",
        "llm",
        "stripe.invoice",
        "stripe.portal_link",
    }
    assert set(registry.available(registry.LOOKUPS_GROUP)) == {
        "stripe.customer",
        "stripe.customer_ltv",
    }
