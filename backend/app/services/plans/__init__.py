"""Daily plans: the plan a user sees for a day, and completing a day.

May import models, app-wide modules, services.challenges and services.analytics_service.
"""
