"""Rule files: model, loader, expressions, engine and executor."""
