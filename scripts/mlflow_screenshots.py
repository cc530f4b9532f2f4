"""What a new user sees in MLflow's UI after the demo: screenshots taken with headless Chromium.

It runs, in ``--workdir`` (default ``/tmp/eeg-mlflow-demo``), a tiny demo pretraining, a tiny mask-ratio
sweep (two runs) and two tiny fine-tuning jobs on the demo encoder, all into one SQLite store; starts
``mlflow server`` on that store; and saves PNGs of its pages into ``--out`` (default ``docs/mlflow``):

- ``runs_table.png``: the sweep experiment's runs table in its saved view "Key figures";
- ``pretraining_run.png``: the demo pretraining run's page (description, dataset, registered model);
- ``epoch_charts.png``: the same run's charts (per-epoch figures against epochs, per-step ones apart);
- ``registered_model.png``: the registered model ``eeg-mamba2-encoder`` and its versions;
- ``finetune_run.png``: a fine-tuning run's page (verdict, link to its pretraining run, two datasets);
  the script then follows that link and checks that it opens the pretraining run's page.

Chromium (not a Python dependency): the npm package ``@sparticuz/chromium`` ships a headless build, and
Playwright (the ``screenshots`` dependency group, from PyPI) drives it::

    npm install --prefix /tmp/chromium-npm @sparticuz/chromium
    uv run --all-packages --group screenshots python scripts/mlflow_screenshots.py --npm-dir /tmp/chromium-npm

(``--chromium PATH`` uses another Chromium instead.) On a 2-core machine the runs take a few minutes and
the server half a minute to start; ``--skip-runs`` reuses the store of an earlier call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PRETRAIN_EXPERIMENT = "eeg_pretraining_mamba2_demo"
SWEEP_EXPERIMENT = "eeg_pretraining_mamba2_sweep_mask"
FINETUNE_EXPERIMENT = "eeg_finetuning_mamba2"
ENCODER, CLASSIFIER = "eeg-mamba2-encoder", "eeg-mamba2-classifier"


def command(name: str) -> str:
    """The workspace's console script ``name`` (the environment this script runs in)."""
    return str(Path(sys.executable).parent / name)


def run(args: list[str], cwd: Path) -> None:
    print("$", " ".join(Path(a).name if i == 0 else a for i, a in enumerate(args)), flush=True)
    subprocess.run(args, cwd=cwd, check=True)


def make_runs(workdir: Path) -> None:
    """The demo pretraining, a two-run sweep and two fine-tuning jobs, into ``workdir/mlflow.db``."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    config = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    config["data"].update(dataset_path=str(workdir / "corpus"), cache_dir=None)
    config["train"].update(save_dir=str(workdir / "runs" / "demo"), epochs=3, log_every=1)
    config["tracking"].update(uri=uri)
    config["synthetic"].update(participants=6, windows_per_run=16)
    pretrain_yaml = workdir / "pretrain.yaml"
    pretrain_yaml.write_text(yaml.safe_dump(config, sort_keys=False))
    run([command("pretrain"), "--config", str(pretrain_yaml), "--quiet"], workdir)

    sweep_config = {**config, "train": {**config["train"], "save_dir": str(workdir / "runs" / "sweep")}}
    sweep_yaml = workdir / "sweep.yaml"
    sweep_yaml.write_text(yaml.safe_dump(sweep_config, sort_keys=False))
    run([command("sweep"), "--config", str(sweep_yaml), "--ratios", "0.2,0.6", "--quiet"], workdir)

    from eeg_finetune.synthetic import write_synthetic_primary

    primary = write_synthetic_primary(
        workdir / "primary.parquet", participants=12, channels=("AF7", "AF8", "TP9", "TP10"), windows=8,
        window_length=config["data"]["window_length"], sfreq=config["data"]["sampling_rate"],  # the encoder's
        rhythms_hz=(4.0, 16.0),
    )  # fmt: skip
    for name, extra in (("frozen", []), ("unfrozen", ["--set", "model.freeze_backbone=false"])):
        run(
            [
                command("finetune"), "--config", str(ROOT / "configs" / "finetune.yaml"),
                "--pretrain-config", str(pretrain_yaml), "--data-path", str(primary),
                "--output-dir", str(workdir / "finetuned" / name), "--quiet",
                "--set", f"tracking.uri={uri}", "--set", f"tracking.run_name=demo_{name}",
                "--set", "split.method=kfold", "--set", "split.folds=3", "--set", "train.epochs=5",
                "--set", "evaluation.bootstrap_resamples=200", *extra,
            ],
            workdir,
        )  # fmt: skip


@contextlib.contextmanager
def mlflow_server(workdir: Path, port: int):
    """``mlflow server`` on the demo store, until the block ends."""
    log = (workdir / "mlflow_server.log").open("w")
    server = subprocess.Popen(
        [
            command("mlflow"), "server", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f"mlflow server did not start; see {workdir / 'mlflow_server.log'}"
                    ) from None
                time.sleep(2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def chromium(npm_dir: Path | None, path: str | None) -> tuple[str, list[str]]:
    """The Chromium executable and its launch arguments: ``path`` as given, or the one ``@sparticuz/chromium``
    (installed under ``npm_dir``) extracts, with the arguments it recommends (no sandbox, software GL)."""
    if path is not None:
        return path, ["--no-sandbox"]  # root in a container has no sandbox
    if npm_dir is None:
        raise SystemExit("give --npm-dir (where `npm install @sparticuz/chromium` ran) or --chromium PATH")
    script = (
        "import('@sparticuz/chromium').then(async ({default: c}) => "
        "console.log(JSON.stringify({path: await c.executablePath(), args: c.args})))"
    )
    found = json.loads(subprocess.check_output(["node", "-e", script], cwd=npm_dir, text=True))
    return found["path"], [a for a in found["args"] if not a.startswith("--headless")]


def experiment_ids(uri: str) -> dict[str, str]:
    import mlflow

    return {e.name: e.experiment_id for e in mlflow.MlflowClient(uri).search_experiments()}


def run_ids(uri: str, experiment: str) -> dict[str, str]:
    import mlflow

    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return {r.info.run_name: r.info.run_id for r in runs}


def shrink(path: Path) -> None:
    """A screenshot in 256 colours (a UI has few): a third of the size, to keep in the repository."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def screenshots(base: str, workdir: Path, out: Path, executable: str, args: list[str]) -> None:
    """Open the pages a new user looks at, as a user would (the "Model training" side of the UI, the
    assistant panel closed), and save them as PNGs in ``out``."""
    from playwright.sync_api import sync_playwright

    from eeg_train import view_route

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    ids = experiment_ids(uri)
    ((pretrain_name, demo_run),) = run_ids(uri, PRETRAIN_EXPERIMENT).items()
    frozen = run_ids(uri, FINETUNE_EXPERIMENT)["demo_frozen"]
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})

        def visit(route: str, text: str) -> None:
            page.goto(f"{base}/{route}")
            page.get_by_text(text).first.wait_for(timeout=120_000)
            page.wait_for_timeout(2500)  # tables and charts finish drawing
            close = page.get_by_role("button", name="Close")  # the assistant panel, when it opens again
            if close.count():
                with contextlib.suppress(Exception):
                    close.first.click(timeout=2000)

        def save(name: str) -> None:
            page.wait_for_timeout(1000)
            page.screenshot(path=out / name)
            shrink(out / name)
            print(f"wrote {out / name}", flush=True)

        def show_more() -> None:  # the whole description
            more = page.get_by_text("Show more")
            if more.count():
                more.first.click()

        visit("#/experiments", "Model training")
        page.get_by_text("Model training").first.click()  # the UI opens on its GenAI side

        # the sweep's runs table in the saved view "Key figures", the parent run expanded to its runs
        page.set_viewport_size({"width": 1900, "height": 700})
        visit(view_route(ids[SWEEP_EXPERIMENT]), "mask_sweep")
        page.locator('button[data-component-id$="runnamecellrenderer.tsx_46"]').first.click()
        save("runs_table.png")

        page.set_viewport_size({"width": 1600, "height": 1200})
        visit(f"#/experiments/{ids[PRETRAIN_EXPERIMENT]}/runs/{demo_run}", "Datasets")
        show_more()
        save("pretraining_run.png")

        visit(f"#/experiments/{ids[PRETRAIN_EXPERIMENT]}/runs/{demo_run}/model-metrics", "Model metrics")
        page.get_by_placeholder("Search metric charts").fill("val_")
        save("epoch_charts.png")

        page.set_viewport_size({"width": 1600, "height": 1000})
        visit(f"#/models/{ENCODER}", "Version 3")
        save("registered_model.png")

        page.set_viewport_size({"width": 1600, "height": 1200})
        visit(f"#/experiments/{ids[FINETUNE_EXPERIMENT]}/runs/{frozen}", "Verdict")
        show_more()
        page.get_by_text("+1").first.click()  # the second dataset: the corpus the encoder was pretrained on
        save("finetune_run.png")
        # the description's link opens the pretraining run's page (in a new tab, as MLflow opens links)
        link = page.get_by_role("link", name=pretrain_name).first
        with page.context.expect_page(timeout=30_000) as opened:
            link.click()
        target = opened.value
        target.get_by_text("Datasets").first.wait_for(timeout=120_000)
        expected = f"#/experiments/{ids[PRETRAIN_EXPERIMENT]}/runs/{demo_run}"
        if not target.url.endswith(expected):
            raise SystemExit(f"the pretraining link opened {target.url}, not {expected}")
        print(f"the fine-tuning run's link opens {target.url}: the pretraining run's page", flush=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/eeg-mlflow-demo"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "mlflow")
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--npm-dir", type=Path, help="where `npm install @sparticuz/chromium` ran")
    parser.add_argument("--chromium", help="a Chromium executable to use instead")
    parser.add_argument("--skip-runs", action="store_true", help="reuse the store of an earlier call")
    args = parser.parse_args()
    executable, launch_args = chromium(args.npm_dir, args.chromium)
    if not args.skip_runs:
        make_runs(args.workdir)
    with mlflow_server(args.workdir, args.port) as base:
        screenshots(base, args.workdir, args.out, executable, launch_args)


if __name__ == "__main__":
    main()
