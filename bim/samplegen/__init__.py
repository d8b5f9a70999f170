"""Deterministic generator of the sample sites (``lakeside``, ``tiny``).

Run ``python -m bim.samplegen [--out sample_sites] [--site lakeside|tiny|all]``. The
output follows ``docs/site-format.md``; ``docs/sample-sites.md`` describes the sites.
"""

from bim.samplegen.build import SiteSummary, generate_site
from bim.samplegen.errors import SampleGenError
from bim.samplegen.ids import NAMESPACE, guid
from bim.samplegen.kinds import DEVICE_KINDS, SPACE_USAGES
from bim.samplegen.sites import SITES

__all__ = [
    "DEVICE_KINDS",
    "NAMESPACE",
    "SITES",
    "SPACE_USAGES",
    "SampleGenError",
    "SiteSummary",
    "generate_site",
    "guid",
]
