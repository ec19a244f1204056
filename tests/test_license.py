"""The package metadata names a licence, and the file it names ships with the source."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_license_file_the_metadata_names_exists_and_is_that_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    for name in project["license-files"]:
        text = (ROOT / name).read_text()
        assert text.startswith("MIT License\n")
        assert "Permission is hereby granted, free of charge" in text
