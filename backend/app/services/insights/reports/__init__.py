"""One module per report: parameters in, a typed result out, computed with select().

May import models, app-wide modules, the insights helpers (params, sql, reader) and the
rollups; never ingestion.
"""
