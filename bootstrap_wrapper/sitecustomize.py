"""Runs at interpreter start in the function process (placeholder: instrumentation lands later)."""
