"""Exit statuses of ``balloon-harness``: a harness error or a crash is 2, never a command's own verdict."""

import contextlib
import io
import unittest
from pathlib import Path
from unittest import mock

from harness import cli
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]


class ExitStatusTest(unittest.TestCase):
    def run_cli(self, error):
        err = io.StringIO()
        with mock.patch("harness.commands.compare.run", side_effect=error), contextlib.redirect_stderr(err):
            return cli.main(["compare", "/nonexistent"]), err.getvalue()

    def test_a_harness_error_is_2_with_its_cause(self):
        rc, err = self.run_cli(HarnessError("results.json unreadable", hint="rerun the job"))
        self.assertEqual(rc, 2)
        self.assertIn("balloon-harness: error: results.json unreadable", err)
        self.assertIn("hint: rerun the job", err)

    def test_a_crash_is_2_with_its_traceback_never_1(self):
        rc, err = self.run_cli(KeyError("verdict"))
        self.assertEqual(rc, 2)
        self.assertIn("KeyError: 'verdict'", err)
        self.assertIn("internal error", err)

    def test_schedulers_run_the_script_that_keeps_the_exit_status(self):
        """make turns every failure into 2: GitLab, GitHub and systemd call contrib/nightly instead."""
        for path in (".gitlab-ci.yml", ".github/workflows/nightly.yml",
                     "contrib/systemd/balloon-harness-nightly.service"):
            text = (ROOT / path).read_text()
            self.assertIn("contrib/nightly configs/nightly.yaml", text, path)
            self.assertNotIn("make nightly", text, path)


if __name__ == "__main__":
    unittest.main()
