"""The client's methods and results are visible to type checkers: the blocking client has
real method definitions, money is `Decimal`, and the CLI's commands type-check against them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

USER_CODE = '''
from decimal import Decimal
from crypto_service import CryptoClient

with CryptoClient("localhost:50051") as client:
    btc = client.get_coin(slug="bitcoin")
    doubled: Decimal = btc.current_price_usd * 2
    names: list[str] = [coin.name for coin in client.list_top_coins(10)]
    posted = client.deposit(1, "BTC", Decimal("0.5"), transaction_id="ext-1")
    balance: Decimal = posted.wallet.balance
    for update in client.stream_prices(["BTC"]):
        price: Decimal = update.price_usd
'''


def mypy(*targets: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--ignore-missing-imports",
         "--cache-dir", str(cache), *targets],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)


def test_cli_commands_and_user_code_type_check(tmp_path):
    user_code = tmp_path / "user_code.py"
    user_code.write_text(USER_CODE)
    done = mypy("crypto_service/cli/client_commands.py", "crypto_service/client",
                str(user_code), cache=tmp_path / "cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_wrong_use_is_caught(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text("from crypto_service import CryptoClient\n"
                     "CryptoClient().get_coin(symbol='BTC').current_price_usd + 'x'\n")
    done = mypy(str(wrong), cache=tmp_path / "cache")
    assert done.returncode == 1 and 'Unsupported operand types for + ("Decimal" and "str")' \
        in done.stdout, done.stdout
