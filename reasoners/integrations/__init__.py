"""Optional adapters to other frameworks."""
