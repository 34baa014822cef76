"""The runtime half: what applications import in production.

Modules here import the standard library and SQLAlchemy (and psycopg2) only,
never the tool beside them (warming, reports, rendering, the command line),
so that an application serving requests loads none of it.
"""
