"""The public API: a sorted ``__all__`` whose names all exist, and the public submodules."""

from __future__ import annotations

import importlib

import pytest

import dunning_rules


def test_all_is_sorted_case_insensitively():
    """dunning_rules.__all__ is sorted, ignoring case."""
    names = list(dunning_rules.__all__)
    assert names == sorted(names, key=str.casefold)


def test_all_has_no_duplicates():
    """No name appears twice in __all__."""
    assert len(set(dunning_rules.__all__)) == len(dunning_rules.__all__)


@pytest.mark.parametrize("name", dunning_rules.__all__, ids=dunning_rules.__all__)
def test_every_exported_name_exists(name):
    """Every name in __all__ is an attribute of the package."""
    assert getattr(dunning_rules, name, None) is not None


@pytest.mark.parametrize(
    "name",
    [
        "Engine",
        "load_rules",
        "verify_stripe_event",
        "RuleFileError",
        "EventError",
        "SignatureError",
        "DunningRulesError",
        "Outcome",
        "Run",
        "ActionRecord",
        "ActionContext",
    ],
)
def test_design_names_are_exported(name):
    """The names DESIGN.md makes public are in __all__."""
    assert name in dunning_rules.__all__


@pytest.mark.parametrize("module", ["actions", "store", "errors", "testing"])
def test_public_submodules_import(module):
    """dunning_rules.actions, .store, .errors and .testing import."""
    imported = importlib.import_module(f"dunning_rules.{module}")
    assert imported.__name__ == f"dunning_rules.{module}"


def test_every_error_derives_from_the_root():
    """Each exported exception derives from DunningRulesError."""
    errors = [getattr(dunning_rules, n) for n in dunning_rules.__all__ if n.endswith("Error")]
    assert errors
    assert all(issubclass(e, dunning_rules.DunningRulesError) for e in errors)
