"""The ``twin`` command line: one sub-command module per concern, wired in :mod:`.main`."""
