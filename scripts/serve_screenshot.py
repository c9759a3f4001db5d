"""Take docs/serve.png: the draw-a-digit page after drawing a 7, in headless Chromium, as tests/test_serve.py
drives it. Needs Debian's chromium and chromium-driver (and selenium, in the dev extra).

    python scripts/serve_screenshot.py [ckpt_path] [output]

The default checkpoint is the committed seed-1 model of the reference recipe.
"""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
CKPT = ROOT / "outputs/results/v0.5.0/gpu/runs3b/reference/seed1/checkpoints/last.ckpt"


def main(ckpt: Path, output: Path) -> None:
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mnist_lightning.serve", f"ckpt_path={ckpt}", f"port={port}"])
    url = f"http://127.0.0.1:{port}"
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,860"):
        options.add_argument(flag)
    browser = None
    try:
        for _ in range(120):  # the server imports torch first
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        browser.get(url)
        pad, digit = browser.find_element(By.ID, "pad"), browser.find_element(By.ID, "digit")
        # A 7: the top bar from left to right, then the stroke down and to the left.
        seven = ActionChains(browser).move_to_element_with_offset(pad, -70, -90).click_and_hold()
        for _ in range(14):
            seven = seven.move_by_offset(10, 0)
        for _ in range(18):
            seven = seven.move_by_offset(-4, 10)
        seven.release().perform()
        WebDriverWait(browser, 30).until(lambda b: digit.text != "")
        time.sleep(0.5)  # the bars' transition
        browser.save_screenshot(str(output))
        print(f"the page read {digit.text}; wrote {output}")
    finally:
        if browser is not None:
            browser.quit()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else CKPT,
        Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/serve.png",
    )
