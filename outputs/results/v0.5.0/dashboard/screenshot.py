"""docs/optuna_dashboard.png: optuna-dashboard on a real study, photographed by headless Chromium.

    python outputs/results/v0.5.0/dashboard/screenshot.py <storage URL> <study id> docs/optuna_dashboard.png

The study in study.db beside this file came from (2-core AMD EPYC, 2026-11-28):
    python -m mnist_lightning.train hparams_search=optuna hydra.sweeper.n_trials=8 \
        hydra.sweeper.storage=sqlite:///study.db trainer.max_epochs=1 trainer.limit_train_batches=60 \
        trainer.limit_val_batches=2 trainer.limit_test_batches=1 logger=none
(60 training steps per trial, validated on 1,000 of the 5,000 held-out images: a small study to show the page.)
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

storage, study_id, output = sys.argv[1:4]
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([shutil.which("optuna-dashboard"), storage, "--port", str(port), "--host", "127.0.0.1"])
options = webdriver.ChromeOptions()
options.binary_location = shutil.which("chromium")
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
    options.add_argument(flag)
try:
    url = f"http://127.0.0.1:{port}/dashboard/studies/{study_id}"
    for _ in range(60):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    browser.get(url)
    time.sleep(6)  # the page draws its charts after loading the study
    browser.save_screenshot(output)
    browser.quit()
finally:
    server.terminate()
