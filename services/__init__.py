"""services package of the community twin."""
