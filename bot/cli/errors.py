"""Exit codes and the error a command prints without a stack trace."""

EXIT_OK, EXIT_ERROR = 0, 1


class CliError(Exception):
    """A problem the user can fix; printed without a stack trace."""
