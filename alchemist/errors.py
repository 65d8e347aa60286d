"""Errors a user can cause. The CLI prints them as one line and exits non-zero, no traceback."""


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
