"""Where each kernel profile starts; tests/integration builds the minimal one and ``make matrix`` the distro one."""

import tempfile
import unittest
from pathlib import Path

from harness.build import kernel
from harness.config.specs import KernelSpec
from harness.errors import ConfigError, PrerequisiteError
from harness.intake.tree import Base

DEBIAN = Base("debian", "linux-source-6.1", None, "linux-source-6.1=6.1.192-2")
GIT = Base("git", "/src/linux", "v6.1", "git:abc")


class ProfileTest(unittest.TestCase):
    def test_make_target_profiles_start_from_their_targets(self):
        self.assertEqual(kernel._profile(KernelSpec("minimal"), GIT), (None, [Path("configs/kernel/balloon.config")]))
        self.assertEqual(kernel.PROFILE_TARGETS["defconfig"], ["x86_64_defconfig", "kvm_guest.config"])

    def test_config_file_profile(self):
        config = Path(tempfile.mkdtemp()) / "my.config"
        config.write_text("CONFIG_64BIT=y\n")
        self.assertEqual(kernel._profile(KernelSpec(str(config)), GIT)[0], config)
        with self.assertRaises(ConfigError) as cm:
            kernel._profile(KernelSpec(str(config) + ".gone"), GIT)
        self.assertIn("my.config.gone: no such config file", str(cm.exception))

    def test_distro_profile_needs_a_debian_base_and_its_config_package(self):
        with self.assertRaises(ConfigError) as cm:
            kernel._profile(KernelSpec("distro"), GIT)
        self.assertIn("Debian source package base only, not git:abc", str(cm.exception))
        other = Base("debian", "linux-source-6.1", None, "linux-source-6.1=6.1.0-0")
        with self.assertRaises(PrerequisiteError) as cm:
            kernel._profile(KernelSpec("distro"), other)
        self.assertIn("needs linux-config-6.1 6.1.0-0", str(cm.exception))

    @unittest.skipUnless(Path(f"/usr/src/linux-config-6.1/{kernel.DISTRO_FLAVOUR}.xz").exists(), "linux-config-6.1")
    def test_distro_profile_is_debians_config_with_the_build_adjustments(self):
        from harness.intake import tree
        start, fragments = kernel._profile(KernelSpec("distro"), tree.resolve({"debian": "linux-source-6.1"}))
        self.assertEqual(start.name, f"{kernel.DISTRO_FLAVOUR}.xz")
        self.assertEqual(fragments[0], kernel.DISTRO_BUILD)


if __name__ == "__main__":
    unittest.main()
