"""Settings: environment over YAML, precise errors, no secret in the repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import SettingsError, load_settings


def test_defaults_and_environment(tmp_path: Path) -> None:
    s = load_settings({"DATA_DIR": str(tmp_path), "PORT": "9001", "SIMULATORS": "off"}, path=tmp_path / "none.yaml")
    assert (s.port, s.simulators, s.tz, s.redis_url, s.durability) == (9001, False, "Asia/Shanghai", None, "strict")
    assert s.warehouse_url == f"sqlite:///{(tmp_path / 'warehouse.db').resolve()}"
    assert len(s.secret_key) == 64 and s.secret_key not in repr(s)
    again = load_settings({"DATA_DIR": str(tmp_path)}, path=tmp_path / "none.yaml")
    assert again.secret_key == s.secret_key  # kept under data/ across restarts


def test_yaml_file_with_environment_winning(tmp_path: Path) -> None:
    f = tmp_path / "settings.yaml"
    f.write_text("port: 7000\nsim_rate: 2.5\ntz: UTC\n", encoding="utf-8")
    s = load_settings({"DATA_DIR": str(tmp_path), "PORT": "7001"}, path=f)
    assert (s.port, s.sim_rate, s.tz) == (7001, 2.5, "UTC")


@pytest.mark.parametrize(("env", "yaml_text", "message"), [
    ({"PORT": "eighty"}, "", "PORT: expected an integer, got 'eighty'"),
    ({"TZ": "Mars/Olympus"}, "", "TZ: unknown time zone 'Mars/Olympus'"),
    ({"DURABILITY": "yolo"}, "", "DURABILITY: expected strict or warn, got 'yolo'"),
    ({}, "prot: 1\n", "settings.yaml: unknown setting 'prot'; known: "),
    ({}, "- 1\n", "settings.yaml: expected a mapping of setting names to values"),
])
def test_bad_values_name_the_variable(tmp_path: Path, env: dict, yaml_text: str, message: str) -> None:
    f = tmp_path / "settings.yaml"
    f.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings({"DATA_DIR": str(tmp_path), **env}, path=f)
    assert message in str(err.value)
