"""The hint a configuration error ends with: the closest valid name, else every valid one."""

import difflib


def closest(name, choices):
    """``did you mean 'x'?`` for the choice closest to ``name``, else the list of valid keys."""
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f"did you mean {match[0]!r}?" if match else f"valid keys: {', '.join(choices)}"
