"""Console accounts: users, project memberships, browser sessions, sign-in throttling.

Pure rules (role changes, session liveness, the rate-limit window) are plain functions;
the service functions around them take a SQLAlchemy ``session`` keyword argument and
never commit (the caller's unit of work does).
"""
