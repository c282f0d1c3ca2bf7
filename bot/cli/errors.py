"""Exit codes and the error a command prints without a stack trace."""

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A problem the user can fix; printed without a stack trace."""
