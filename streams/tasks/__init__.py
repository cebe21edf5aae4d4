"""The worker's background tasks: refreshing figures and pressure, delivering alerts, lag."""
