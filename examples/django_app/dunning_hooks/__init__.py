"""A Django app that takes Stripe's webhook and Slack's approval buttons for dunning_rules,
and a ``dunning_worker`` management command that carries the runs on."""
