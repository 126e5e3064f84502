"""Environments: toolsets with state that sessions act on."""
