"""The one error type a user of the training CLI should ever see."""


class TrainingUserError(Exception):
    """A problem the user can fix (bad argument, malformed data, missing file).

    The CLI prints its message as a single line on stderr and exits with status 2;
    every other exception is a bug and exits with status 1.
    """
