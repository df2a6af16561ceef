"""Console route modules of the analysis area (overview, insights, dashboards, people,
events). ``yunying.web.app.mount_console`` must include each (as ``yunying.web.routes.<name>``);
a test checks that it does."""

CONSOLE_ROUTERS = ["overview", "insights", "dashboards", "people", "events"]
