"""The REST API: one view per operation; services do the writing, selectors the reading."""
