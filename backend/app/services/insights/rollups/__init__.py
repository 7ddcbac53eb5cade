"""The rollups that keep reports fast, folded by id watermark (watermark.py): activity per
zone, the latency histogram, challenge progress and per-user event spans.

May import models, app-wide modules and services.database; never a report.
"""
