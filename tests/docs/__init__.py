"""Helpers of tests/test_docs.py: the documentation's code blocks, and how each kind is run."""
