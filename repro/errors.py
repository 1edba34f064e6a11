"""Errors a user can cause: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input (spec, data, arguments): the message is one line saying what is wrong and how to fix it."""
