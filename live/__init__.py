"""live package of the community twin."""
