"""Database helpers shared by services: INSERT ... ON CONFLICT for both dialects, and the
schema check behind `flask analytics verify`.

May import models and app-wide modules only.
"""
