"""Operator tools: run by a person against a deployed or local stack, never by a function."""
