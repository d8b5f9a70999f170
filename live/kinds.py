"""The device-kind table, re-exported from :mod:`twin.kinds` (where it is declared once).

Kept so that ``from live.kinds import KINDS`` goes on working; new code may import
:mod:`twin.kinds` directly.
"""

from twin.kinds import *  # noqa: F401,F403
from twin.kinds import __all__  # noqa: F401
