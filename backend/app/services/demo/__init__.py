"""Demo data: the seed behind `make run` (seed.py) and the activity generator behind
`flask analytics generate` (generator/).

May import models, app-wide modules and any other service it needs to build real rows.
"""
