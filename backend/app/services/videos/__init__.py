"""Workout videos and likes.

May import models, app-wide modules and services.analytics_service.
"""
