"""Domain types shared by every layer: the holiday calendar and the compound's base data.

Kept free of IO beyond reading the packaged data files, so datasources, analytics and
warehouse can all depend on it without pulling in Redis, SQL or the web.
"""
