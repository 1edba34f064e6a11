"""Errors a user can cause: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input (spec, data, arguments): the message is one line saying what is wrong and how to fix it."""


def missing_extra(extra: str, package: str) -> UserError:
    """The error for a package that only one task needs, installed with the extra `extra` (pyproject)."""
    return UserError(f'{package} is not installed; this spec needs the {extra!r} extra: '
                     f'pip install -e ".[{extra}]"')


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during `repro run`, with how many of the jobs it was training have finished records."""

    def __init__(self, finished: int, total: int):
        super().__init__(finished, total)
        self.finished, self.total = finished, total
