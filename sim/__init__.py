"""sim package of the community twin."""
