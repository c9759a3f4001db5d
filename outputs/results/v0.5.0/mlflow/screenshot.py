"""docs/mlflow_run.png: `mlflow ui` on a real run, photographed by headless Chromium.

    python outputs/results/v0.5.0/mlflow/screenshot.py <tracking URI> docs/mlflow_run.png

The run in mlflow.db beside this file is the one in train_log.txt (command and machine there). The script opens the
newest run of the experiment mnist-lightning on its overview page, then its metrics.
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import mlflow
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

uri, output = sys.argv[1:3]
client = mlflow.MlflowClient(tracking_uri=uri)
experiment = client.get_experiment_by_name("mnist-lightning")
run = client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])[0]
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
                           "--port", str(port)])  # fmt: skip
options = webdriver.ChromeOptions()
options.binary_location = shutil.which("chromium")
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
    options.add_argument(flag)
try:
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    url = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}"
    browser.get(url)
    time.sleep(3)
    # MLflow 3 opens in its GenAI view with an assistant panel: switch to model training and close the panel.
    for element in browser.find_elements(By.XPATH, "//*[normalize-space(text())='Model training']"):
        element.click()
        break
    for element in browser.find_elements(By.XPATH, "//button[@aria-label='Close' or @title='Close']"):
        element.click()
    browser.get(url)
    WebDriverWait(browser, 90).until(lambda b: "model/dropout" in b.find_element(By.TAG_NAME, "body").text)
    time.sleep(3)  # the metric charts draw after the tables
    browser.save_screenshot(output)
    browser.quit()
finally:
    server.terminate()
