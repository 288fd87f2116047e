"""Reads: querysets and plain dataclasses, never writes."""
