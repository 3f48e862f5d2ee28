"""docs/deploy.md and examples/deploy: every Python snippet of the guide runs as shown (and the
functions it defines do what the guide says), and the crontab line, the CronJob and the
Deployment run real commands."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dunning_rules import cli
from tests.recipes import support
from tests.recipes.support import FIRST_PASS, failed_body, stripe_headers

GUIDE = support.ROOT / "docs" / "deploy.md"
DEPLOY = support.EXAMPLES / "deploy"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SNIPPETS = [m.group(1) for m in FENCE.finditer(GUIDE.read_text(encoding="utf-8"))]


def snippet(marker: str) -> str:
    """The one snippet of the guide that holds ``marker``."""
    [found] = [text for text in SNIPPETS if marker in text]
    return found


@pytest.fixture
def folder(app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding rules.yaml (the example rules), with the apps' environment."""
    shutil.copy(support.EXAMPLES / "smart_dunning.yaml", tmp_path / "rules.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_snippet(text: str) -> dict[str, Any]:
    names: dict[str, Any] = {"__name__": "deploy_guide"}
    exec(compile(text, str(GUIDE), "exec"), names)
    return names


def test_the_guide_has_its_snippets():
    """The guide's five Python snippets are found (a broken pattern would test nothing)."""
    assert len(SNIPPETS) == 5


@pytest.mark.parametrize("text", SNIPPETS, ids=[f"snippet-{i}" for i in range(len(SNIPPETS))])
def test_every_snippet_runs_as_shown(folder, text):
    """Each Python snippet of the guide runs, its own assertions included."""
    run_snippet(text)


def test_answer_stripe_defers_and_refuses_what_is_forged(folder, fakes):
    """The guide's ``answer_stripe`` answers 200 and defers a signed event, 200 and duplicate
    for the same event again, and 400 for a forged one."""
    answer_stripe = run_snippet(snippet("def answer_stripe"))["answer_stripe"]
    engine = support.load_example("worker").build_engine(**fakes.options)
    try:
        body = failed_body()
        status, answer = answer_stripe(
            engine, body, stripe_headers(body)["Stripe-Signature"], support.STRIPE_SECRET
        )
        [run] = engine.runs()
        assert (status, answer) == (200, {"duplicate": False, "runs": [run.id]})
        assert fakes.counts() == {}
        again = answer_stripe(
            engine, body, stripe_headers(body)["Stripe-Signature"], support.STRIPE_SECRET
        )
        assert again == (200, {"duplicate": True, "runs": []})
        forged = stripe_headers(body, secret="whsec_forged")["Stripe-Signature"]
        status, answer = answer_stripe(engine, body, forged, support.STRIPE_SECRET)
        assert status == 400
        assert answer["error"].startswith("Stripe signature check failed")
    finally:
        engine.close()


def test_the_guides_worker_loop_runs_a_deferred_run_and_stops(folder, fakes, store_url):
    """The guide's ``work`` runs a run deferred by another engine, and returns once stopped."""
    work = run_snippet(snippet("def work"))["work"]
    worker = support.load_example("worker")
    engine, webhook = (worker.build_engine(**fakes.options) for _ in range(2))
    stop = threading.Event()
    loop = threading.Thread(target=work, args=(engine, stop), kwargs={"idle": 0.2})
    try:
        loop.start()
        webhook.handle(support.load_event(), defer=True)
        deadline = time.monotonic() + 10
        while fakes.counts() != FIRST_PASS and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fakes.counts() == FIRST_PASS
        stop.set()
        loop.join(timeout=5)
        assert not loop.is_alive()
    finally:
        stop.set()
        loop.join(timeout=10)
        engine.close()
        webhook.close()


def test_the_guides_celery_task_carries_on_a_deferred_run(folder):
    """The guide's Celery task, called directly, carries on the run a webhook deferred."""
    names = run_snippet(snippet("beat_schedule"))
    assert names["app"].conf.beat_schedule["dunning-run-due"]["task"] == names["run_due"].name
    engine = names["get_engine"]()
    try:
        engine.handle(support.load_event(), defer=True)
        assert names["run_due"]() == 1
        assert names["run_due"]() == 0
    finally:
        engine.close()


# --- examples/deploy ---------------------------------------------------------------------------


def manifest(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))
    return data


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["template"]["spec"]["containers"]


def test_the_deployment_runs_the_worker_with_time_to_stop():
    """The Deployment runs worker.py, with the store URL from a Secret and longer to stop than
    the worker's idle sleep."""
    deployment = manifest("worker-deployment.yaml")
    assert deployment["kind"] == "Deployment"
    [container] = containers(deployment["spec"])
    assert container["command"] == ["python", "worker.py"]
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env["DUNNING_STORE"]["valueFrom"]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > float(env["DUNNING_WORKER_IDLE"]["value"])


def test_the_cronjob_allows_overlap_and_runs_a_valid_command(tmp_path, capsys):
    """The CronJob runs every minute with concurrencyPolicy Allow, and its command line, with
    the rule file and store put in, is a run-due that exits 0."""
    job = manifest("worker-cronjob.yaml")
    assert (job["kind"], job["spec"]["schedule"]) == ("CronJob", "* * * * *")
    assert job["spec"]["concurrencyPolicy"] == "Allow"
    [container] = containers(job["spec"]["jobTemplate"]["spec"])
    assert container["command"] == ["dunning-rules"]
    mount = container["volumeMounts"][0]["mountPath"]
    rules = tmp_path / "rules.yaml"
    shutil.copy(support.EXAMPLES / "smart_dunning.yaml", rules)
    args = [
        arg.replace("$(DUNNING_STORE)", f"sqlite:///{tmp_path / 'dunning.db'}").replace(
            f"{mount}/rules.yaml", str(rules)
        )
        for arg in container["args"]
    ]
    assert cli.main(args) == 0
    assert capsys.readouterr().out == "resumed 0 runs, 0 steps\n"


def test_the_crontab_line_runs_a_pass(tmp_path):
    """The crontab's job line, run by sh in a folder laid out as it expects, makes one pass of
    run-due and logs it."""
    lines = (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines()
    [job] = [line for line in lines if line and not line.startswith(("#", "SHELL="))]
    fields = job.split(None, 5)
    assert fields[:5] == ["*"] * 5
    command = fields[5]
    home = re.match(r"cd (\S+) && ", command)
    log = re.search(r">>(\S+) 2>&1$", command)
    assert home is not None
    assert log is not None
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "dunning-rules").symlink_to(
        Path(sys.executable).with_name("dunning-rules")
    )
    shutil.copy(support.EXAMPLES / "smart_dunning.yaml", tmp_path / "rules.yaml")
    store = f"sqlite:///{tmp_path / 'dunning.db'}"
    (tmp_path / "dunning.env").write_text(f"DUNNING_STORE={shlex.quote(store)}\n")
    command = command.replace(home.group(1), str(tmp_path), 1).replace(
        log.group(1), str(tmp_path / "run-due.log")
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    done = subprocess.run(["sh", "-c", command], env=env, timeout=60, capture_output=True)
    assert done.returncode == 0, done
    assert (tmp_path / "run-due.log").read_text() == "resumed 0 runs, 0 steps\n"


def test_the_systemd_unit_runs_the_worker_and_waits_for_it_to_stop():
    """The unit starts worker.py, stops it with SIGTERM and gives it 120 s to finish."""
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read_string((DEPLOY / "dunning-worker.service").read_text(encoding="utf-8"))
    service = unit["Service"]
    assert service["ExecStart"].endswith("python worker.py")
    assert (service["KillSignal"], service["TimeoutStopSec"]) == ("SIGTERM", "120")
