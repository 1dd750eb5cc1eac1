"""Series made on another tree, and the prerequisites they need: the real upstream stats-wakeup series (2024, made
on v6.8's virtio_balloon.c) and its prerequisite stay-awake (v6.8) against the 6.1.y file (tests/fixtures/upstream)."""

import mailbox
import shutil
import tempfile
import unittest
from pathlib import Path

from trees import FILE

from harness.errors import ApplyError
from harness.intake import origin
from harness.intake.apply import APPLIES, check_series, range_diff
from harness.intake.series import read_series

UPSTREAM = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
STAY_AWAKE_ID = "57cd6d632dbb0bf70cd72fc488cb557cf13b7621"  # git patch-id --stable of stay-awake


class PrerequisiteTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="test-prerequisites-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.base = self.tmp / "linux"
        (self.base / FILE).parent.mkdir(parents=True)
        shutil.copy(UPSTREAM / "virtio_balloon.c-6.1.y", self.base / FILE)
        self.stay_awake = read_series(UPSTREAM / "stay-awake")
        self.series = read_series(UPSTREAM / "stats-wakeup")

    def test_the_series_does_not_apply_alone_and_applies_on_its_prerequisite(self):
        alone = check_series(self.base, self.series)
        self.assertIn("conflict", [o.status for o in alone])
        on = check_series(self.base, self.series, [self.stay_awake])
        self.assertTrue(all(o.status in APPLIES for o in on), on)
        self.assertEqual((self.base / FILE).read_text(), (UPSTREAM / "virtio_balloon.c-6.1.y").read_text())

    def test_a_tree_that_has_it_already_says_already_applied(self):
        shutil.copy(UPSTREAM / "virtio_balloon.c-b12fbc3f787e", self.base / FILE)  # upstream, stay-awake merged
        (outcome,) = check_series(self.base, self.stay_awake)
        self.assertEqual(outcome.status, "already-applied")

    def test_a_prerequisite_that_does_not_apply_names_its_patch(self):
        with self.assertRaises(ApplyError) as caught:
            check_series(self.base, self.stay_awake, [self.series])
        self.assertIn("1/2 virtio_balloon: Give the balloon its...: conflict", str(caught.exception))

    def test_range_diff_on_the_prerequisite(self):
        text = range_diff(self.base, self.series, self.series, [self.stay_awake])
        self.assertEqual(len(text.splitlines()), 2, text)
        self.assertTrue(all(" = " in line for line in text.splitlines()), text)  # the same patches: unchanged

    def test_b4_am_output_directory_reads_one_copy_with_its_cover_letter(self):
        """``b4 am -o`` leaves the .mbx and its .cover; numbered patches of the same series beside them are a second
        copy: read once, with a warning naming both."""
        out = self.tmp / "b4"
        out.mkdir()
        box = mailbox.mbox(out / "v2_20240321_stevensd_improvements_to_virtio_balloon_pm.mbx")
        for patch in sorted((UPSTREAM / "stats-wakeup").glob("*.patch")):
            box.add(mailbox.mboxMessage(patch.read_bytes()))
            shutil.copy(patch, out)
        box.close()
        (out / "v2_20240321_stevensd_improvements_to_virtio_balloon_pm.cover").write_text(
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            "From: David Stevens <stevensd@chromium.org>\nDate: Thu, 21 Mar 2024 10:24:43 +0900\n"
            "Subject: [PATCH 0/2] Improvements to virtio_balloon pm\n\nThe cover letter.\n\n"
            f"base-commit: e8f897f4afef0031fe618a8e94127a0934896aba\nprerequisite-patch-id: {STAY_AWAKE_ID}\n"
            "prerequisite-change-id: 20240101-foo:v2\n")
        series = read_series(out)
        self.assertTrue(series.usable, series.findings)
        self.assertEqual([p.subject for p in series.patches], [p.subject for p in self.series.patches])
        self.assertEqual(series.cover.subject, "Improvements to virtio_balloon pm")
        [copy] = [f for f in series.findings if f.code == "second-copy"]
        self.assertEqual(copy.severity, "warning")
        self.assertIn("v2_20240321_stevensd_improvements_to_virtio_balloon_pm.mbx are also in 2 patch file(s)",
                      copy.message)
        self.assertEqual(series.prerequisites, (f"patch-id {STAY_AWAKE_ID}", "change-id 20240101-foo:v2"))
        self.assertEqual(origin.patch_id(self.stay_awake.patches[0]), STAY_AWAKE_ID)
        given, missing = origin.named(series, [self.stay_awake])
        self.assertEqual(given, f"patch-id {STAY_AWAKE_ID}: given (stay-awake: virtio_balloon: stay awake while "
                                "adjusting balloon)")
        self.assertIn("change-id 20240101-foo:v2: not given (review --prerequisite SERIES", missing)
        self.assertIn("not given", origin.named(series)[0])

    def test_different_patches_beside_an_mbox_are_not_a_second_copy(self):
        out = self.tmp / "mixed"
        out.mkdir()
        box = mailbox.mbox(out / "series.mbx")
        box.add(mailbox.mboxMessage(next((UPSTREAM / "stats-wakeup").glob("0001-*.patch")).read_bytes()))
        box.close()
        shutil.copy(next((UPSTREAM / "stay-awake").glob("*.patch")), out)
        series = read_series(out)
        self.assertFalse([f for f in series.findings if f.code == "second-copy"])
        self.assertEqual(len(series.patches), 2)


if __name__ == "__main__":
    unittest.main()
