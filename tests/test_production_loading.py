"""Loading a registered version: our own check of its pinned requirements (MLflow's scans every package)."""

from __future__ import annotations

from importlib import metadata

from mindshare.tracking.local_registry import requirement_mismatches


def test_pins_this_environment_does_not_match_are_named():
    numpy = metadata.version("numpy")
    pins = [f"numpy=={numpy}", "pandas==0.0.1", "no-such-package-xyz==1.0", "scipy", "# comment", "-r other.txt"]
    assert requirement_mismatches(pins) == [
        f"pandas==0.0.1 (installed {metadata.version('pandas')})",
        "no-such-package-xyz==1.0 (installed none)",
    ]
