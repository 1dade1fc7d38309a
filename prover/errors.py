"""Errors that reach the user as one line: bad input, bad config, missing files."""


class UserError(Exception):
    """Something the user can fix (unknown theorem, malformed file, bad config). The CLI exits 2."""
