"""bim package of the community twin."""
