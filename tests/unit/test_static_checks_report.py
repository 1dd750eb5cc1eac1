"""A kernel's static checks (``kernel.checkpatch``, ``kernel.warnings`` of results.json) as the judge says them: the
console's facts line, the HTML report's "Static checks", the nightly's b4 checks and KCIDB tests (validated by
kcidb-io); nothing said where a kernel kept no record."""

import json
import unittest

import kcidb_io
from test_history import Nights, night
from test_report import EVIL, document

from harness.judge import exports, history, html, policy, report, static

PATCHES = ["1/2 virtio_balloon: batch <PFNs> & more", "2/2 virtio_balloon: free pages <script>alert(1)</script>"]
CHECKPATCH = {"strict": False, "errors": 1, "warnings": 2, "checks": 0, "patches": [
    {"patch": PATCHES[0], "errors": 1, "warnings": 0, "checks": 0,
     "lines": ["ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)"]},
    {"patch": PATCHES[1], "errors": 0, "warnings": 2, "checks": 0,
     "lines": ["WARNING:LONG_LINE: line length of 101 exceeds 100 columns",
               "WARNING:AVOID_BUG: Do not crash the kernel unless it is <absolutely> unavoidable"]}]}
WARNINGS = {"levels": ["default", "W=1"], "new": [
    {"level": "W=1", "file": "drivers/virtio/virtio_balloon.c", "line": 211,
     "message": "warning: unused variable 'pfns<x>' [-Wunused-variable]", "patch": PATCHES[1]}],
    "removed": [{"level": "default", "file": "drivers/virtio/virtio_balloon.c", "message": "warning: old one"}]}
CLEAN = {"strict": True, "errors": 0, "warnings": 0, "checks": 0,
         "patches": [{"patch": "virtio_balloon: one patch", "errors": 0, "warnings": 0, "checks": 0, "lines": []}]}
QUIET = {"levels": ["default", "W=1", "sparse"], "new": [], "removed": []}


def checked(doc, name, **records):
    """``doc`` with the kernel of variant ``name`` keeping ``records``."""
    for v in doc["variants"]:
        if v["name"] == name:
            v["kernel"] = {**v["kernel"], **records}
    return doc


class WordsTest(unittest.TestCase):
    def test_checkpatch_counts_by_kind_and_names_the_patches(self):
        self.assertEqual(static.checkpatch_text(CHECKPATCH), "checkpatch: 1 error in 1/2; 2 warnings in 2/2")
        self.assertEqual(static.checkpatch_text(CLEAN), "checkpatch --strict: clean")
        one = {**CLEAN, "strict": False, "checks": 1, "patches": [{**CLEAN["patches"][0], "checks": 1}]}
        self.assertEqual(static.checkpatch_text(one), "checkpatch: 1 check in the patch")
        self.assertEqual([static.checkpatch_status(r) for r in (CHECKPATCH, CLEAN, one)], ["fail", "pass", "warn"])

    def test_new_warnings_are_named_and_removed_ones_counted(self):
        self.assertEqual(static.warnings_text(WARNINGS),
                         "1 new warning (default, W=1): drivers/virtio/virtio_balloon.c:211: warning: unused variable "
                         f"'pfns<x>' [-Wunused-variable] ({PATCHES[1]})")
        self.assertEqual(static.warnings_text(QUIET), "no new warnings (default, W=1, sparse)")
        self.assertEqual(static.warnings_text({**QUIET, "removed": WARNINGS["removed"] * 2}),
                         "no new warnings (default, W=1, sparse); 2 removed")
        self.assertEqual(static.warnings_text(None), "warnings not compared")
        self.assertEqual([static.warnings_status(r) for r in (WARNINGS, QUIET)], ["fail", "pass"])


class FactsTest(unittest.TestCase):
    def test_the_facts_line_says_the_static_checks_where_kept(self):
        doc = checked(document(), EVIL, checkpatch=CHECKPATCH, warnings=WARNINGS)
        lines = report.facts(doc).splitlines()
        self.assertTrue(lines[2].endswith(
            f"; {static.warnings_text(WARNINGS)}; checkpatch: 1 error in 1/2; 2 warnings in 2/2"), lines[2])
        self.assertNotIn("checkpatch", lines[1])  # the base
        self.assertNotIn("warning", "\n".join(lines[3:]))  # kernels without the records: nothing said

    def test_a_kernel_built_before_the_records_says_nothing_of_them(self):
        doc = checked(document(), EVIL, checkpatch=None, warnings=None)
        self.assertNotIn("checkpatch", report.facts(doc))
        self.assertEqual(static.facts_text({"warnings": QUIET}), "; no new warnings (default, W=1, sparse)")


class HtmlTest(unittest.TestCase):
    def page(self, doc):
        return html.page(doc, policy.comparisons(doc))

    def test_static_checks_per_variant_escaped(self):
        page = self.page(checked(document(), EVIL, checkpatch=CHECKPATCH, warnings=WARNINGS))
        section = page[page.index("<h2>Static checks</h2>"):page.index("<h2>Job</h2>")]
        self.assertIn("&lt;b&gt;$(touch /tmp/x)&lt;/b&gt;</h3>", section)
        self.assertIn('<span class="answer worse">warnings: 1 new warning (default, W=1)</span>', section)
        self.assertIn("1 removed: default drivers/virtio/virtio_balloon.c: warning: old one", section)
        self.assertIn("<td><code>drivers/virtio/virtio_balloon.c:211</code></td><td><code>warning: unused variable "
                      "&#39;pfns&lt;x&gt;&#39; [-Wunused-variable]</code></td><td>W=1</td>", section)
        self.assertIn('<span class="answer worse">checkpatch: 1 error in 1/2; 2 warnings in 2/2</span>', section)
        self.assertIn("<tr><td>1/2 virtio_balloon: batch &lt;PFNs&gt; &amp; more</td><td class=\"num\">1</td>",
                      section)
        self.assertIn("<code>WARNING:AVOID_BUG: Do not crash the kernel unless it is &lt;absolutely&gt; "
                      "unavoidable</code>", section)
        self.assertEqual(section.count("2/2 virtio_balloon: free pages &lt;script&gt;alert(1)&lt;/script&gt;"), 2)
        self.assertNotIn("<script>", page)
        self.assertNotIn("<absolutely>", page)
        # a variant with a series whose kernel kept no record: not compared (the base, without a series: not shown)
        self.assertIn("broken</h3>\n<p><span class=\"answer same\">warnings: not compared</span></p>\n"
                      "<p><span class=\"answer same\">checkpatch: not compared</span></p>", section)
        self.assertNotIn("base</h3>", section)

    def test_clean_checks_are_said_clean(self):
        section = self.page(checked(document(), EVIL, checkpatch=CLEAN, warnings=QUIET))
        self.assertIn('<span class="answer better">warnings: no new warnings (default, W=1, sparse)</span>', section)
        self.assertIn('<span class="answer better">checkpatch --strict: clean</span>', section)

    def test_no_section_without_any_record(self):
        self.assertNotIn("Static checks", self.page(document()))


class ExportsTest(unittest.TestCase):
    def night(self, **records):
        db = Nights(self)
        data = night("job-9", {"base": 0.4, "candidate": 0.36}, 50, series=PATCHES)
        data["variants"][1]["kernel"].update(records)
        run = db.add(data)
        return history.Tonight.of(db.conn, run, data, "2026-12-01T02:00:00+00:00"), data

    def kcidb(self, tonight, data):
        record = json.loads(json.dumps(exports.kcidb(tonight, data)))
        kcidb_io.schema.LATEST.validate_exactly(record)
        self.assertNotIn("null", json.dumps(record))
        return {t["path"]: t for t in record["tests"] if t["path"] in ("balloon.checkpatch", "balloon.warnings")}

    def test_kcidb_tests_of_the_static_checks_validated_by_kcidb_io(self):
        tests = self.kcidb(*self.night(checkpatch=CHECKPATCH, warnings=WARNINGS))
        cp, w = tests["balloon.checkpatch"], tests["balloon.warnings"]
        self.assertEqual((cp["status"], cp["build_id"], cp["id"]),
                         ("FAIL", "balloon_harness:job-9:candidate", "balloon_harness:job-9:candidate:checkpatch"))
        self.assertEqual(cp["comment"], "checkpatch: 1 error in 1/2; 2 warnings in 2/2")
        self.assertEqual((cp["misc"]["errors"], cp["misc"]["warnings"], cp["misc"]["checks"]), (1, 2, 0))
        self.assertEqual([p["patch"] for p in cp["misc"]["patches"]], PATCHES)
        self.assertIn(f"{PATCHES[0]}: ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)", cp["log_excerpt"])
        self.assertEqual(w["status"], "FAIL")
        self.assertEqual(w["misc"], {"levels": ["default", "W=1"], "new": 1, "removed": 1})
        self.assertEqual(w["log_excerpt"], "W=1 drivers/virtio/virtio_balloon.c:211: warning: unused variable "
                                           f"'pfns<x>' [-Wunused-variable] ({PATCHES[1]})")

    def test_clean_checks_pass_and_absent_records_give_no_test(self):
        tests = self.kcidb(*self.night(checkpatch={**CHECKPATCH, "errors": 0, "patches": CHECKPATCH["patches"][1:]},
                                       warnings=QUIET))
        self.assertEqual({p: t["status"] for p, t in tests.items()},
                         {"balloon.checkpatch": "PASS", "balloon.warnings": "PASS"})
        self.assertNotIn("log_excerpt", tests["balloon.warnings"])
        self.assertEqual(self.kcidb(*self.night()), {})
        self.assertEqual(self.kcidb(*self.night(warnings=QUIET)).keys(), {"balloon.warnings"})

    def test_b4_checks_of_the_static_checks(self):
        tonight, data = self.night(checkpatch=CHECKPATCH, warnings=QUIET)
        night_, checks = exports.b4_check(tonight, data)
        self.assertEqual(night_["tool"], "balloon-harness")
        self.assertEqual((checks["tool"], checks["status"]), ("balloon-harness static checks", "fail"))
        self.assertEqual(checks["summary"], "candidate: no new warnings (default, W=1, sparse); checkpatch: 1 error "
                                            "in 1/2; 2 warnings in 2/2")
        self.assertIn(f"{PATCHES[1]}: WARNING:LONG_LINE: line length of 101 exceeds 100 columns", checks["details"])
        warned = {**CHECKPATCH, "errors": 0, "patches": CHECKPATCH["patches"][1:]}
        self.assertEqual(exports.b4_check(*self.night(checkpatch=warned, warnings=QUIET))[1]["status"], "warn")
        self.assertEqual(exports.b4_check(*self.night(checkpatch=CLEAN, warnings=WARNINGS))[1]["status"], "fail")
        self.assertEqual(exports.b4_check(*self.night(checkpatch=CLEAN))[1]["status"], "pass")
        self.assertEqual(len(exports.b4_check(*self.night())), 1)


if __name__ == "__main__":
    unittest.main()
