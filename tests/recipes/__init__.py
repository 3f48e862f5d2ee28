"""The framework recipes in examples/, each driven by its framework's own test client."""
