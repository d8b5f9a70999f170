"""``python -m services``: the ``twin`` command line.

The guard matters: worker processes started with ``spawn`` (drill jobs, the evacuation
forecast) import the parent's main module under another name; unguarded, each worker
would run the parent's command again (a second ``twin serve`` on the same port) and die.
"""

from services.cli.main import main

if __name__ == "__main__":
    main()
