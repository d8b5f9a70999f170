"""Drill reports: a multi-page PDF for planners (docs/drill-report.md).

:func:`write_report` assembles it (matplotlib ``PdfPages``); :func:`storey_queueing` and
:func:`exit_flow` compute what it shows; :func:`render_towers` draws the towers off-screen
(pyvista), each storey in the colour :func:`queue_colour` gives its queueing time.
"""

from services.drill_report.data import CMAP, NO_DATA_RGB, SLOW_MPS, compare_drills, exit_flow, queue_colour, storey_queueing
from services.drill_report.pdf import PAGE_TITLES, Labels, write_report
from services.drill_report.render import RenderError, Slab, render_towers, slabs_of

__all__ = ["CMAP", "Labels", "NO_DATA_RGB", "PAGE_TITLES", "RenderError", "SLOW_MPS", "Slab", "compare_drills",
           "exit_flow",
           "queue_colour", "render_towers", "slabs_of", "storey_queueing", "write_report"]
