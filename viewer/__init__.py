"""viewer package of the community twin."""
