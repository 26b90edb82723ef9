"""Demo data is a development tool: the shop starts, and says what is missing, on an install without Faker."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WITHOUT_FAKER = """
import sys
sys.modules["faker"] = None  # as on a server installed from requirements.txt: `import faker` fails
from webapp import create_app

app = create_app("testing")
runner = app.test_cli_runner()
seeded = runner.invoke(args=["seed", "--books", "1"])
print("seed exit", seeded.exit_code)
print(seeded.output)
print(runner.invoke(args=["demo-credentials"]).output)
print("loaded:", sorted(name for name, module in sys.modules.items() if module is not None
                         and (name == "faker" or name.startswith(("faker.", "webapp.demo")))))
"""


def test_the_app_and_its_cli_run_without_the_dev_requirements():
    result = subprocess.run([sys.executable, "-c", WITHOUT_FAKER], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "seed exit 1" in out
    assert "demo data needs the dev requirements (faker is not installed)" in out
    assert "demo admin: login 'admin'" in out  # the demo logins need no Faker
    loaded = out.split("loaded:", 1)[1]
    assert "'webapp.demo.cli'" in loaded  # registered on every app...
    assert "'webapp.demo.seed'" not in loaded and "'faker" not in loaded  # ...but seeding is never loaded
