"""Accounts: users, passwords, e-mail and time-zone checks, tokens and their revocation.

May import models and app-wide modules (errors, clock, extensions).
"""
