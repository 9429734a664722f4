"""Our litellm custom providers: installed by a registry the services own, never the fake."""

import asyncio

import pytest

from gateway.core.errors import LLMError
from gateway.core.settings import Settings
from gateway.llm import LLMClient, ProviderRegistry, installed_providers
from gateway.services import build_services, start_services
from tests.fakes import FakeLLM

MSGS = [{"role": "user", "content": "Hi"}]


def _registry(name: str, fake: FakeLLM) -> ProviderRegistry:
    registry = ProviderRegistry()
    registry.add(name, fake.next, fake.anext)
    return registry


def test_install_is_idempotent_and_uninstall_takes_out_only_its_own():
    import litellm

    a_fake, b_fake = FakeLLM(), FakeLLM()
    a, b = _registry("reg-a", a_fake), _registry("reg-b", b_fake)
    a.install()
    a.install()
    b.install()
    try:
        assert [e["provider"] for e in litellm.custom_provider_map].count("reg-a") == 1
        a_fake.enqueue("from a")
        b_fake.enqueue("from b")
        assert asyncio.run(LLMClient(["reg-a/m"]).complete(MSGS)).text == "from a"
        a.uninstall()
        assert "reg-a" not in installed_providers() and "reg-a" not in litellm.provider_list
        assert asyncio.run(LLMClient(["reg-b/m"]).complete(MSGS)).text == "from b"
        with pytest.raises(LLMError):
            asyncio.run(LLMClient(["reg-a/m"], retries=0).complete(MSGS))
    finally:
        a.uninstall()
        b.uninstall()
    assert not {"reg-a", "reg-b"} & set(installed_providers())


def test_closing_one_of_two_registries_of_a_name_leaves_the_other_serving():
    # Two services in one process (a test's app next to the e2e session's) both serve
    # local/*: the one closed last must not take the other's handler with it.
    first_fake, second_fake = FakeLLM(), FakeLLM()
    first, second = _registry("reg-same", first_fake), _registry("reg-same", second_fake)
    first.install()
    second.install()
    try:
        second_fake.enqueue("from second")
        assert asyncio.run(LLMClient(["reg-same/m"]).complete(MSGS)).text == "from second"
        second.uninstall()
        first_fake.enqueue("from first")
        assert asyncio.run(LLMClient(["reg-same/m"]).complete(MSGS)).text == "from first"
    finally:
        second.uninstall()
        first.uninstall()
    assert "reg-same" not in installed_providers()


@pytest.mark.parametrize("models", [["openai/gpt-4o-mini"], ["fake/test"]])
def test_production_services_install_no_fake_provider(tmp_path, models):
    # Built and started as `persona serve` does (warm-up included), with no test fixture.
    assert "fake" not in installed_providers()
    services = build_services(Settings(data_dir=tmp_path / "data", models=models,
                                       embedding_model="hash", load_models=True))
    try:
        start_services(services)
        assert services.ready and "litellm" in services.load_seconds
        assert services.providers.names == []
        assert "fake" not in installed_providers()
    finally:
        services.close()


def test_the_fake_fixture_installs_fake_and_takes_it_out(fake):
    fake.enqueue("scripted")
    assert "fake" in installed_providers()
    assert asyncio.run(LLMClient(["fake/x"]).complete(MSGS)).text == "scripted"
