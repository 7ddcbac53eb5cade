"""Challenges and enrollments: joining, leaving, and which day of a challenge a user is on.

May import models, app-wide modules and services.analytics_service (server-owned events).
"""
