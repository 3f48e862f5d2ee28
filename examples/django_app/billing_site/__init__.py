"""A minimal Django project around the ``dunning_hooks`` app."""
