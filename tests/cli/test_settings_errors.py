"""Out-of-range settings, from flags or the environment, stop `crypto serve` at start with one
line naming the setting and the value."""

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from crypto_service.cli import app
from crypto_service.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def fresh_settings():
    get_settings.cache_clear()  # the environment is read once per process
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("args, env, named", [
    (["serve", "--port", "-5"], {}, "setting port (CRYPTO_PORT): must be greater than or equal to 0"),
    (["serve", "--port", "70000"], {}, "setting port (CRYPTO_PORT): must be less than or equal to 65535"),
    (["serve"], {"CRYPTO_PORT": "-5"}, "setting port (CRYPTO_PORT): must be greater than or equal to 0"),
    (["serve"], {"CRYPTO_HTTP2_MAX_CONCURRENT_STREAMS": "0"},
     "setting http2_max_concurrent_streams (CRYPTO_HTTP2_MAX_CONCURRENT_STREAMS): must be "
     "greater than or equal to 1"),
    (["serve"], {"CRYPTO_HTTP2_IDLE_TIMEOUT_SECONDS": "soon"},
     "setting http2_idle_timeout_seconds (CRYPTO_HTTP2_IDLE_TIMEOUT_SECONDS): must be a number"),
])
def test_an_out_of_range_setting_is_one_error_line(args, env, named):
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2  # like a usage error: nothing ran
    lines = result.output.strip().splitlines()
    assert lines == [f"error: {named}"]


def test_overrides_are_validated_like_the_environment():
    with pytest.raises(ValidationError):
        Settings().with_overrides(workers=0)
    assert Settings().with_overrides(port=0, host=None).port == 0
