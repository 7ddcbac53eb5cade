"""Privacy: IP masking or hashing, analytics opt-out, a person's export and erasure, and
pruning of data past its retention settings ("pruning", never "retention", which is the
cohort report).

May import models, app-wide modules, services.request_logs and the insights rollups (erasure
and pruning keep the rollups exact).
"""
