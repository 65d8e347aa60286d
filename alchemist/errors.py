"""Exceptions every floor may raise: errors a user can cause (the CLI prints them as one line and exits
non-zero, no traceback), and a stage's "nothing to do" (`StageSkipped`)."""


class UserError(Exception):
    """A problem with the user's input (recipe, file, record, endpoint) and what to do about it."""


class RecipeError(UserError):
    """One or more problems in a recipe; the message lists all of them."""


class MalformedRecord(UserError):
    """A record that cannot become a Sample. `where` is `file:line`."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class StageSkipped(Exception):
    """Raised by a stage that has nothing to do this time (e.g. a leaderboard with no results):
    recorded as skipped, its output left as it was."""
